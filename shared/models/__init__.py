"""The model library: recurrent cells and stacks with the ``torch.nn`` API (:mod:`shared.models.cells`),
the regularizers of the AWD-LSTM family as modules of their own (:mod:`shared.models.regularize`),
and Graves-style weight noise (:mod:`shared.models.weight_noise`). Papers build their models from
these; nothing here reads data or trains."""
