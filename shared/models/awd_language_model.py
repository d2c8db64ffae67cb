r"""The AWD-LSTM language model of Merity, Keskar & Socher (2018, Sec. 2 and 4) with its recurrent
layer left open: the architecture that AWD-LSTM introduced and that its descendants reuse with
another recurrence (ON-LSTM, Shen et al. 2019, whose official code is a fork of AWD-LSTM's; the
QRNN language model of the same code base). Named after the architecture's origin, not after any
one recurrence: a paper supplies its layer (:class:`RecurrentLayer`), e.g. AWD-LSTM's
weight-dropped LSTM (``papers/awd_lstm/model.py``) or ON-LSTM's layer (``papers/on_lstm/model.py``).

.. math::

    x_t &= \mathrm{LD}_{p_i}\bigl(\tilde E[w_t]\bigr), \qquad
        \tilde E = \tfrac{M_e}{1 - p_e} \odot E \quad \text{(embedding dropout, AWD Sec. 4.3)} \\
    h^{(l)}_t &= \mathrm{RNN}^{(l)}\bigl(\mathrm{LD}_{p_h}(h^{(l-1)}_t),\, h^{(l)}_{t-1}\bigr)
        \quad \text{(the paper's recurrent layer, with its own DropConnect)} \\
    p(w_{t+1} \mid w_{\le t}) &= \mathrm{softmax}\bigl(E\, \mathrm{LD}_{p_o}(h^{(L)}_t) + b\bigr)
        \quad \text{(tied weights, AWD Sec. 4.5)}

with :math:`\mathrm{LD}_p` locked (variational) dropout: one mask per sequence and forward pass,
the same at every step (AWD Sec. 4.2; no dropout after layer :math:`L` but :math:`p_o`, none before
layer 1 but :math:`p_i`); :math:`M_e` one Bernoulli per word, drawn once per forward pass. Dropout
is on in training only.

Sizes (AWD Sec. 5): embedding 400, three layers of 1150 but the last, of the embedding size so
that the decoder can share the embedding matrix :math:`E` (AWD Sec. 4.5, "independent embedding
size and hidden size"). Initialisation (AWD Sec. 5 and the official code): :math:`E \sim U[-0.1,
0.1]`, decoder bias 0; each layer initialises itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from shared.core.config import at_least_one, check_probabilities
from shared.models.regularize import EmbeddingDropout, LockedDropout

State = tuple[Tensor, ...]


@dataclass(frozen=True)
class RecurrentLayer:
    """How to build one recurrent layer of the model.

    ``build(input_size, hidden_size, layer, weight_drop)`` returns a module mapping
    ``(input (N, L, input_size), state or None)`` to ``(output (N, L, hidden_size), state)``,
    ``layer`` being the 0-based index (a QRNN widens its first layer's window) and ``weight_drop``
    the probability of its DropConnect on the hidden-to-hidden weights; ``states`` is the number
    of tensors in the layer's state (2 for an LSTM's ``(h, c)``). A layer that has syntactic
    distances (ON-LSTM) also accepts the keyword ``return_distances=True`` and then returns
    ``(output, state, distances (rows, N, L))``.
    """

    build: Callable[[int, int, int, float], nn.Module]
    states: int


class AWDLanguageModel(nn.Module):
    """Embedding with word dropout, a stack of recurrent layers with locked dropout around them,
    and a decoder tied to the embedding (module docstring).

    Args:
        vocab_size: words in the vocabulary.
        layer: the recurrent layer (:class:`RecurrentLayer`).
        embedding_size: word vector size, also the last layer's size (tied weights: 400).
        hidden_size: size of every layer but the last (1150).
        layers: recurrent layers (3).
        dropout: locked dropout on the last layer's output (``dropout``, AWD 0.4).
        dropout_hidden: locked dropout between layers (``dropouth``, 0.3).
        dropout_input: locked dropout on the word vectors (``dropouti``, AWD PTB 0.4).
        dropout_embedding: word-level dropout of the embedding matrix (``dropoute``, 0.1).
        weight_drop: handed to ``layer.build``: the layers' DropConnect (``wdrop``, AWD 0.5).
        init_range: the embedding's uniform initialisation range (0.1).

    Inputs: tokens ``(N, L)``, state (``None``: zeros; else the flat tuple this module returned),
    keywords ``return_hidden`` and ``return_distances``.

    Outputs: ``logits (N, L, vocab)`` and ``state`` (a flat tuple of every layer's state tensors,
    in layer order); with ``return_hidden=True`` then also ``hidden`` and ``dropped``: the last
    layer's output ``(N, L, embedding_size)`` before and after its dropout (AR acts on one of them,
    TAR on ``hidden``, AWD Sec. 4.6; a continuous cache pointer reads ``hidden`` of an evaluation
    pass, where the two are the same tensor); with ``return_distances=True`` last
    ``distances (layers, N, L)``: every layer's syntactic distances (a layer that has none raises).
    """

    def __init__(
        self,
        vocab_size: int,
        layer: RecurrentLayer,
        embedding_size: int = 400,
        hidden_size: int = 1150,
        layers: int = 3,
        dropout: float = 0.4,
        dropout_hidden: float = 0.3,
        dropout_input: float = 0.4,
        dropout_embedding: float = 0.1,
        weight_drop: float = 0.5,
        init_range: float = 0.1,
    ) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"AWDLanguageModel: layers must be >= 1, got {layers}")
        if not isinstance(layer, RecurrentLayer):
            raise TypeError(f"AWDLanguageModel: layer must be a RecurrentLayer, got {type(layer).__name__}")
        self.embedding = EmbeddingDropout(nn.Embedding(vocab_size, embedding_size), p=dropout_embedding)
        self.input_dropout = LockedDropout(dropout_input, batch_first=True)
        self.hidden_dropout = LockedDropout(dropout_hidden, batch_first=True)
        self.output_dropout = LockedDropout(dropout, batch_first=True)
        sizes = [embedding_size] + [hidden_size] * (layers - 1) + [embedding_size]
        self.rnns = nn.ModuleList(layer.build(sizes[k], sizes[k + 1], k, weight_drop) for k in range(layers))
        self.states_per_layer = layer.states
        self.decoder = nn.Linear(embedding_size, vocab_size)
        self.decoder.weight = self.embedding.embedding.weight  # AWD Sec. 4.5: tied (one Parameter)
        with torch.no_grad():
            self.embedding.embedding.weight.uniform_(-init_range, init_range)
            self.decoder.bias.zero_()

    def forward(
        self, tokens: Tensor, state: State | None = None, *, return_hidden: bool = False, return_distances: bool = False
    ) -> tuple[Tensor, ...]:
        k = self.states_per_layer
        layer_states = [None] * len(self.rnns) if state is None else [state[i : i + k] for i in range(0, len(state), k)]
        if len(layer_states) != len(self.rnns):
            raise ValueError(f"AWDLanguageModel: a state of {len(state)} tensors, expected {k * len(self.rnns)}")
        x = self.input_dropout(self.embedding(tokens))
        new_state: list[Tensor] = []
        distances: list[Tensor] = []
        hidden = x
        for index, (rnn, layer_state) in enumerate(zip(self.rnns, layer_states, strict=True)):
            if k == 1 and layer_state is not None:
                layer_state = layer_state[0]
            if return_distances:
                hidden, layer_state, layer_distances = rnn(x, layer_state, return_distances=True)
                distances.append(layer_distances)
            else:
                hidden, layer_state = rnn(x, layer_state)
            new_state += [layer_state] if k == 1 else list(layer_state)
            x = self.hidden_dropout(hidden) if index < len(self.rnns) - 1 else self.output_dropout(hidden)
        outputs: tuple[Tensor, ...] = (self.decoder(x), tuple(new_state))
        if return_hidden:
            outputs += (hidden, x)
        if return_distances:
            outputs += (torch.cat(distances),)
        return outputs


@dataclass
class AWDModelConfig:
    """The ``model`` section of a paper's preset for :class:`AWDLanguageModel`: sizes, and the
    dropouts by the names of the official code's flags (``dropout``, ``dropouth``, ``dropouti``,
    ``dropoute``, ``wdrop``); defaults are AWD-LSTM's PTB model. A paper subclasses it to add the
    settings of its recurrent layer."""

    embedding_size: int = 400
    hidden_size: int = 1150
    layers: int = 3
    dropout: float = 0.4
    dropout_hidden: float = 0.3
    dropout_input: float = 0.4
    dropout_embedding: float = 0.1
    weight_drop: float = 0.5

    def validate(self) -> None:
        at_least_one(self, "model", ("embedding_size", "hidden_size", "layers"))
        check_probabilities(
            self, "model", ("dropout", "dropout_hidden", "dropout_input", "dropout_embedding", "weight_drop")
        )

    def build(self, vocab_size: int, layer: RecurrentLayer) -> AWDLanguageModel:
        """The model of these settings over ``vocab_size`` words, with ``layer`` as its recurrence."""
        return AWDLanguageModel(
            vocab_size,
            layer,
            self.embedding_size,
            self.hidden_size,
            self.layers,
            self.dropout,
            self.dropout_hidden,
            self.dropout_input,
            self.dropout_embedding,
            self.weight_drop,
        )
