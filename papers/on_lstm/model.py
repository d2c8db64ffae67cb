r"""The models of ON-LSTM (Shen, Tan, Sordoni & Courville, ICLR 2019) built from the shared cells.

**Language model** (Sec. 5.1, Table 1; the official ``model.py``/``ON_LSTM.py``). The AWD-LSTM
architecture (:class:`shared.models.awd_language_model.AWDLanguageModel`: embedding dropout,
locked dropout on the word vectors, between layers and on the output, a decoder tied to the
embedding) over three ON-LSTM layers (:func:`onlstm_layer`, :class:`shared.models.cells.ONLSTM`,
Eqs. (9)-(14)) of 1150, 1150 and 400 units, embedding 400, chunk size :math:`C = 10` (master
gates of :math:`D_m = H / C` = 115, 115 and 40 dimensions): 25.2M parameters on PTB. Each layer's
hidden-to-hidden weights carry the official code's DropConnect (``LinearDropConnect``):

.. math::

    \tilde U^{(l)} = M^{(l)} \odot U^{(l)} \text{ (training)}, \qquad
    \tilde U^{(l)} = (1 - p_w)\, U^{(l)} \text{ (eval)}, \qquad
    M^{(l)}_{ij} \sim \mathrm{Bernoulli}(1 - p_w),

one mask per layer and forward pass (``wdrop`` 0.45), over all :math:`4H + 2D_m` rows of
:math:`U` (master gates included), not the bias; not AWD-LSTM's inverted form (which scales the
mask by :math:`1/(1-p_w)` and leaves the eval weights raw): see :mod:`shared.models.cells.onlstm`.
The syntactic distance of word :math:`t` in layer :math:`l` (Sec. 5.2) is the expected split
point of the master forget gate, :math:`d^{(l)}_t = 1 - \frac{1}{D_m}\sum_k \tilde f^{(l)}_{tk}`,
returned by the model with ``return_distances=True`` as ``(layers, N, L)``; the official
evaluation reads it in eval mode, so with the scaled weights above.

Initialisation, as the official code: the embedding :math:`U(\pm 0.1)`, decoder bias 0, each
ON-LSTM layer ``nn.Linear``'s :math:`U(\pm 1/\sqrt{\text{fan\_in}})`.

**Logical inference** (Sec. 5.4). Both formulas of a pair are read by the *same* encoder, an embedding
(128) followed by a recurrent layer (400 units): the ON-LSTM of Sec. 4 (Eqs. 9-14, chunk size 10,
:class:`shared.models.cells.ONLSTM`) or, as the baseline, the standard LSTM
(:class:`shared.models.cells.LSTM`). A formula's embedding is the top layer's hidden state after
its last token, :math:`h_1` and :math:`h_2`; the classifier is

.. math::

    \mathrm{logits} = W_2\,\mathrm{drop}\bigl(\mathrm{ELU}(W_1\,\mathrm{drop}([h_1; h_2;
        h_1 \circ h_2; |h_1 - h_2|]) + b_1)\bigr) + b_2,

a two-layer MLP from :math:`4H` features to :math:`H` hidden units and the 7 relations (the
feature vector is the paper's; the sizes, the ELU and the dropout before each layer are the
official ``proplog.py``'s). Dropout (0.2) also acts on the embedded tokens and, with several
layers, between the recurrent layers (torch's dropout, not the official stack's locked dropout:
the paper's model has one layer, so it never applies).

Padding. Both formulas of every pair go through the encoder as one batch, right-padded and packed
(``pack_padded_sequence``): a sequence's state stops at its own last token, so padding cannot change
the logits (a test checks it).

Initialisation, as the official code: embeddings :math:`U(\pm 0.1)`; the recurrent weights
:math:`U(\pm 1/\sqrt{\text{fan\_in}})` (``nn.Linear``'s default, which the official cell uses for
both the ON-LSTM and its ``--std`` LSTM baseline), so the LSTM's input weights and biases are
redrawn with bound :math:`1/\sqrt{128}` instead of torch's :math:`1/\sqrt{400}`.
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from shared.models.awd_language_model import RecurrentLayer
from shared.models.cells import LSTM, ONLSTM

ARCHS = ("onlstm", "lstm")


def _onlstm(input_size: int, hidden_size: int, layer: int, weight_drop: float, *, chunk_size: int) -> ONLSTM:
    return ONLSTM(input_size, hidden_size, batch_first=True, chunk_size=chunk_size, dropconnect=weight_drop)


def onlstm_layer(chunk_size: int) -> RecurrentLayer:
    """One ON-LSTM layer of the language model (module docstring) with master gates of
    ``hidden_size / chunk_size`` dimensions and the official DropConnect ``weight_drop`` on its
    hidden-to-hidden weights; it returns its distances with ``return_distances=True``."""
    return RecurrentLayer(partial(_onlstm, chunk_size=chunk_size), states=2)


class PairClassifier(nn.Module):
    """Siamese recurrent encoder and MLP over ``[h1; h2; h1*h2; |h1-h2|]`` (module docstring).

    Args:
        arch: ``onlstm`` or ``lstm``.
        vocab_size: embedded tokens, the padding index included; ``pad``: that index.
        classes: outputs (7 relations).
        emb_size, hidden, num_layers: the encoder's sizes (paper: 128, 400, 1).
        chunk_size: the ON-LSTM's neurons per master-gate dimension (official logic code: 10).
        dropout: on the embedded tokens, between recurrent layers and before each MLP layer.
        dropconnect: the ON-LSTM's DropConnect on its hidden-to-hidden weights (official default 0).
    """

    def __init__(
        self,
        arch: str,
        vocab_size: int,
        pad: int,
        classes: int,
        emb_size: int = 128,
        hidden: int = 400,
        num_layers: int = 1,
        chunk_size: int = 10,
        dropout: float = 0.2,
        dropconnect: float = 0.0,
    ) -> None:
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"arch {arch!r} is not one of {ARCHS}")
        self.pad = pad
        self.embedding = nn.Embedding(vocab_size, emb_size, padding_idx=pad)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        self.drop = nn.Dropout(dropout)
        layers = {"num_layers": num_layers, "dropout": dropout if num_layers > 1 else 0.0, "batch_first": True}
        if arch == "onlstm":
            self.encoder: nn.Module = ONLSTM(emb_size, hidden, chunk_size=chunk_size, dropconnect=dropconnect, **layers)
        else:
            if dropconnect:
                raise ValueError("dropconnect is an option of the ON-LSTM encoder only")
            self.encoder = LSTM(emb_size, hidden, **layers)
            for k in range(num_layers):  # nn.Linear's bound 1/sqrt(fan_in) for the input weights
                bound = 1.0 / math.sqrt(emb_size if k == 0 else hidden)
                nn.init.uniform_(getattr(self.encoder, f"weight_ih_l{k}"), -bound, bound)
                nn.init.uniform_(getattr(self.encoder, f"bias_ih_l{k}"), -bound, bound)
        self.mlp = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(4 * hidden, hidden),
            nn.ELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, classes),
        )

    def encode(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """``(N, H)``: the top layer's hidden state after each sequence's last real token."""
        embedded = self.drop(self.embedding(tokens))
        packed = pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.encoder(packed)
        return h_n[-1]

    def forward(self, left: Tensor, left_lengths: Tensor, right: Tensor, right_lengths: Tensor) -> Tensor:
        """Logits ``(N, classes)`` of the pairs ``(left[i], right[i])``, both ``(N, L)`` right-padded."""
        width = max(left.size(1), right.size(1))
        both = torch.cat([nn.functional.pad(s, (0, width - s.size(1)), value=self.pad) for s in (left, right)])
        h1, h2 = self.encode(both, torch.cat([left_lengths, right_lengths])).chunk(2)
        return self.mlp(torch.cat([h1, h2, h1 * h2, (h1 - h2).abs()], dim=-1))
