r"""The AWD-LSTM language model (Merity, Keskar & Socher 2018, Sec. 2 and 4), from the shared
cells and regularizers.

.. math::

    x_t &= \mathrm{LD}_{p_i}\bigl(\tilde E[w_t]\bigr), \qquad
        \tilde E = \tfrac{M_e}{1 - p_e} \odot E \quad \text{(embedding dropout, Sec. 4.3)} \\
    h^{(l)}_t &= \mathrm{LSTM}\bigl(\mathrm{LD}_{p_h}(h^{(l-1)}_t),\, h^{(l)}_{t-1};\;
        W^{(l)}_{ih},\, \tfrac{M^{(l)}}{1 - p_w} \odot W^{(l)}_{hh}\bigr)
        \quad \text{(weight-dropped LSTM, Sec. 2)} \\
    p(w_{t+1} \mid w_{\le t}) &= \mathrm{softmax}\bigl(E\, \mathrm{LD}_{p_o}(h^{(L)}_t) + b\bigr)
        \quad \text{(tied weights, Sec. 4.5)}

with :math:`\mathrm{LD}_p` locked (variational) dropout: one mask per sequence and forward pass,
the same at every step (Sec. 4.2; no dropout after layer :math:`L` but :math:`p_o`, none before
layer 1 but :math:`p_i`); :math:`M_e` one Bernoulli per word, :math:`M^{(l)}` one per weight,
both drawn once per forward pass. Dropout is on in training only.

Sizes (Sec. 5): embedding 400, three layers of 1150 but the last, of 400 so that the decoder can
share the embedding matrix :math:`E` (Sec. 4.5, "independent embedding size and hidden size").
Initialisation (Sec. 5 and the official code): :math:`E \sim U[-0.1, 0.1]`, decoder bias 0,
the LSTMs' weights :math:`U[-1/\sqrt H, 1/\sqrt H]` (torch's default, the shared LSTM's).

The recurrent layer is pluggable: :data:`RECURRENT_LAYERS` maps a name to a builder of one layer
(``"lstm"``: a weight-dropped :class:`shared.models.cells.LSTM`). A paper that reuses this model
with another recurrence (ON-LSTM's layers, QRNN layers) registers its builder with
:func:`register_recurrent_layer`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from shared.models.cells import LSTM
from shared.models.regularize import EmbeddingDropout, LockedDropout, WeightDrop

State = tuple[Tensor, ...]


@dataclass(frozen=True)
class RecurrentLayer:
    """How to build one recurrent layer of the model.

    ``build(input_size, hidden_size, layer, weight_drop)`` returns a module mapping
    ``(input (N, L, input_size), state or None)`` to ``(output (N, L, hidden_size), state)``,
    ``layer`` being the 0-based index (a QRNN widens its first layer's window); ``states`` is
    the number of tensors in the layer's state (2 for an LSTM's ``(h, c)``).
    """

    build: Callable[[int, int, int, float], nn.Module]
    states: int


def _weight_dropped_lstm(input_size: int, hidden_size: int, layer: int, weight_drop: float) -> nn.Module:
    """One LSTM layer with DropConnect on ``weight_hh_l0`` (Sec. 2); the wrapper is kept at
    ``weight_drop = 0`` too, so that parameter names never depend on the setting."""
    return WeightDrop(LSTM(input_size, hidden_size, batch_first=True), ("weight_hh_l0",), p=weight_drop)


RECURRENT_LAYERS: dict[str, RecurrentLayer] = {"lstm": RecurrentLayer(_weight_dropped_lstm, states=2)}


def register_recurrent_layer(name: str, layer: RecurrentLayer) -> None:
    """Make ``AWDLanguageModel(..., rnn=name)`` stack layers built by ``layer``; a taken name is an error."""
    if name in RECURRENT_LAYERS:
        raise ValueError(f"recurrent layer {name!r} is already registered")
    RECURRENT_LAYERS[name] = layer


class AWDLanguageModel(nn.Module):
    """The AWD-LSTM: embedding with word dropout, a stack of weight-dropped recurrent layers with
    locked dropout around them, and a decoder tied to the embedding.

    Args:
        vocab_size: words in the vocabulary.
        embedding_size: word vector size, also the last layer's size (tied weights: 400).
        hidden_size: size of every layer but the last (1150).
        layers: recurrent layers (3).
        dropout: locked dropout on the last layer's output (``dropout``, 0.4).
        dropout_hidden: locked dropout between layers (``dropouth``, 0.3).
        dropout_input: locked dropout on the word vectors (``dropouti``, 0.4 PTB / 0.65 WT2).
        dropout_embedding: word-level dropout of the embedding matrix (``dropoute``, 0.1).
        weight_drop: DropConnect on the hidden-to-hidden weights (``wdrop``, 0.5).
        rnn: a name in :data:`RECURRENT_LAYERS`.
        init_range: the embedding's uniform initialisation range (0.1).

    Inputs: tokens ``(N, L)``, state (``None``: zeros; else the flat tuple this module returned),
    keyword ``return_hidden``.

    Outputs: ``logits (N, L, vocab)``, ``state`` (a flat tuple of every layer's state tensors, in
    layer order), and with ``return_hidden=True`` also ``hidden`` and ``dropped``: the last layer's
    output ``(N, L, embedding_size)`` before and after its dropout. AR acts on ``dropped``, TAR on
    ``hidden`` (Sec. 4.6), and a continuous cache pointer reads ``hidden`` of an evaluation pass
    (where the two are the same tensor).
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_size: int = 400,
        hidden_size: int = 1150,
        layers: int = 3,
        dropout: float = 0.4,
        dropout_hidden: float = 0.3,
        dropout_input: float = 0.4,
        dropout_embedding: float = 0.1,
        weight_drop: float = 0.5,
        rnn: str = "lstm",
        init_range: float = 0.1,
    ) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"AWDLanguageModel: layers must be >= 1, got {layers}")
        if rnn not in RECURRENT_LAYERS:
            raise ValueError(
                f"AWDLanguageModel: unknown recurrent layer {rnn!r} (known: {', '.join(RECURRENT_LAYERS)})"
            )
        kind = RECURRENT_LAYERS[rnn]
        self.embedding = EmbeddingDropout(nn.Embedding(vocab_size, embedding_size), p=dropout_embedding)
        self.input_dropout = LockedDropout(dropout_input, batch_first=True)
        self.hidden_dropout = LockedDropout(dropout_hidden, batch_first=True)
        self.output_dropout = LockedDropout(dropout, batch_first=True)
        sizes = [embedding_size] + [hidden_size] * (layers - 1) + [embedding_size]
        self.rnns = nn.ModuleList(kind.build(sizes[k], sizes[k + 1], k, weight_drop) for k in range(layers))
        self.states_per_layer = kind.states
        self.decoder = nn.Linear(embedding_size, vocab_size)
        self.decoder.weight = self.embedding.embedding.weight  # Sec. 4.5: tied (one Parameter)
        with torch.no_grad():
            self.embedding.embedding.weight.uniform_(-init_range, init_range)
            self.decoder.bias.zero_()

    def forward(
        self, tokens: Tensor, state: State | None = None, *, return_hidden: bool = False
    ) -> tuple[Tensor, State] | tuple[Tensor, State, Tensor, Tensor]:
        k = self.states_per_layer
        layer_states = [None] * len(self.rnns) if state is None else [state[i : i + k] for i in range(0, len(state), k)]
        if len(layer_states) != len(self.rnns):
            raise ValueError(f"AWDLanguageModel: a state of {len(state)} tensors, expected {k * len(self.rnns)}")
        x = self.input_dropout(self.embedding(tokens))
        new_state: list[Tensor] = []
        hidden = x
        for index, (rnn, layer_state) in enumerate(zip(self.rnns, layer_states, strict=True)):
            if k == 1 and layer_state is not None:
                layer_state = layer_state[0]
            hidden, layer_state = rnn(x, layer_state)
            new_state += [layer_state] if k == 1 else list(layer_state)
            x = self.hidden_dropout(hidden) if index < len(self.rnns) - 1 else self.output_dropout(hidden)
        logits = self.decoder(x)
        if return_hidden:
            return logits, tuple(new_state), hidden, x
        return logits, tuple(new_state)
