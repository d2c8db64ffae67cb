r"""The models of the QRNN paper (Bradbury, Merity, Xiong & Socher, ICLR 2017), built from the
shared cells, and the LSTMs of equal size they are compared with.

The QRNN layer is :class:`shared.models.cells.QRNN` (Sec. 2): masked convolutions of width
:math:`k` give :math:`Z = \tanh(W_z * X)`, :math:`F = \sigma(W_f * X)`, :math:`O = \sigma(W_o *
X)`, and fo-pooling :math:`c_t = f_t \odot c_{t-1} + (1 - f_t) \odot z_t`, :math:`h_t = o_t
\odot c_t`; zoneout (Sec. 2.1) is :math:`F = 1 - \mathrm{dropout}(1 - \sigma(W_f * X))` without
rescaling.

* :class:`QRNNLanguageModel` / :class:`LSTMLanguageModel` (Sec. 3.2): embedding, dropout, a stack
  of QRNN (or LSTM) layers with dropout between them, dropout, a softmax layer over the
  vocabulary: Zaremba et al.'s (2014) medium model with the LSTM swapped for a QRNN. The QRNN's
  convolution reads the last :math:`k - 1` inputs of the previous window (``save_prev_x``), and
  those steps travel with the carried state, so that the state is all there is to checkpoint.
* :class:`DenselyConnectedClassifier` (Sec. 2.1 "densely-connected layers", Sec. 3.1): word
  embeddings, then layers whose input is the concatenation of the previous layer's input and
  output along the channel dimension, :math:`x^{l+1} = [x^l; h^l]`, with dropout on each
  :math:`h^l` that feeds another layer; the last layer's output alone at each review's last
  token goes to a softmax over the classes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from shared.models.cells import LSTM, QRNN

LMState = tuple[Tensor, ...]


class _RecurrentLanguageModel(nn.Module):
    """Embedding (``hidden`` units) -> dropout -> recurrent stack -> dropout -> linear softmax
    layer; every parameter uniform in ``[-init_range, init_range]`` (Zaremba et al. 2014).

    ``forward(tokens (N, L), state)`` returns logits ``(N, L, vocab_size)`` and the state to pass
    with the next window (``None`` starts a new stream)."""

    def __init__(self, vocab_size: int, hidden: int, rnn: nn.Module, dropout: float, init_range: float) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden)
        self.drop = nn.Dropout(dropout)
        self.rnn = rnn
        self.decoder = nn.Linear(hidden, vocab_size)
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-init_range, init_range)

    def _recur(self, x: Tensor, state: LMState | None) -> tuple[Tensor, LMState]:
        raise NotImplementedError

    def forward(self, tokens: Tensor, state: LMState | None = None) -> tuple[Tensor, LMState]:
        output, state = self._recur(self.drop(self.embedding(tokens)), state)
        return self.decoder(self.drop(output)), state


class QRNNLanguageModel(_RecurrentLanguageModel):
    """The PTB model of Sec. 3.2: ``layers`` QRNN layers of ``hidden`` units, window ``window``,
    fo-pooling, zoneout ``zoneout`` on the forget gates, dropout ``dropout`` on the embedding,
    between layers and on the output.

    The state is ``(c, *kept)``: the pooling memory ``(layers, N, hidden)`` and, per layer, its last
    ``window - 1`` inputs ``(window - 1, N, H_in)`` (:attr:`shared.models.cells.QRNN.kept_inputs`).
    """

    def __init__(
        self, vocab_size: int, hidden: int, layers: int, window: int, zoneout: float, dropout: float, init_range: float
    ) -> None:
        qrnn = QRNN(
            hidden, hidden, layers, batch_first=True, dropout=dropout, window=window, zoneout=zoneout, save_prev_x=True
        )
        super().__init__(vocab_size, hidden, qrnn, dropout, init_range)

    def _recur(self, x: Tensor, state: LMState | None) -> tuple[Tensor, LMState]:
        if state is None:
            self.rnn.reset()
            memory = None
        else:
            memory, *kept = state
            if self.rnn.window > 1:
                self.rnn.reset(kept)
        output, memory = self.rnn(x, memory)
        kept = self.rnn.kept_inputs if self.rnn.window > 1 else []
        return output, (memory, *kept)


class LSTMLanguageModel(_RecurrentLanguageModel):
    """The comparison of Sec. 3.2: the same model with ``layers`` LSTM layers of ``hidden`` units
    (Zaremba et al.'s medium LSTM); the state is ``(h, c)``."""

    def __init__(self, vocab_size: int, hidden: int, layers: int, dropout: float, init_range: float) -> None:
        lstm = LSTM(hidden, hidden, layers, batch_first=True, dropout=dropout)
        super().__init__(vocab_size, hidden, lstm, dropout, init_range)

    def _recur(self, x: Tensor, state: LMState | None) -> tuple[Tensor, LMState]:
        return self.rnn(x, state)


class DenselyConnectedClassifier(nn.Module):
    """Sec. 3.1's document classifier: ``layers`` densely connected QRNN (or LSTM) layers.

    Args:
        arch: ``"qrnn"`` (window ``window``, fo-pooling) or ``"lstm"`` (the comparison).
        vocab_size, emb_size: the word embeddings (id 0 is padding), learnt from scratch (the
            paper's GloVe vectors are not available here), starting uniform in
            ``[-emb_init_range, emb_init_range]``: with RMSProp's steps of about ``lr`` per
            coordinate, torch's N(0, 1) start learns several times slower (on 6,000 reviews, 3
            epochs: 60.6% test accuracy vs 69.4% from N(0, 0.03^2)).
        hidden: units per layer; layer ``l`` reads ``emb_size + l * hidden`` channels.
        dropout: on the output of every layer but the last ("between layers").
        num_classes: outputs of the softmax layer.

    ``forward(tokens (N, L), lengths (N,))`` returns ``(N, num_classes)`` logits. Layers run
    forwards in time and the QRNN's convolution is causal, so the output at step ``length - 1``
    does not depend on the padding after it: the result is the same in any batch.
    """

    def __init__(
        self,
        arch: str,
        vocab_size: int,
        emb_size: int,
        hidden: int,
        layers: int,
        window: int,
        dropout: float,
        num_classes: int,
        emb_init_range: float = 0.05,
    ) -> None:
        super().__init__()
        if arch not in ("qrnn", "lstm"):
            raise ValueError(f"arch must be 'qrnn' or 'lstm', got {arch!r}")
        self.embedding = nn.Embedding(vocab_size, emb_size, padding_idx=0)
        with torch.no_grad():
            self.embedding.weight.uniform_(-emb_init_range, emb_init_range)
            self.embedding.weight[0] = 0.0
        sizes = [emb_size + layer * hidden for layer in range(layers)]
        self.layers = nn.ModuleList(
            QRNN(size, hidden, window=window) if arch == "qrnn" else LSTM(size, hidden) for size in sizes
        )
        self.drop = nn.Dropout(dropout)
        self.output = nn.Linear(hidden, num_classes)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        x = self.embedding(tokens.t())  # time-major (L, N, emb_size): no transposes between layers
        for i, layer in enumerate(self.layers):
            h, _ = layer(x)
            if i < len(self.layers) - 1:
                x = torch.cat([x, self.drop(h)], dim=-1)
        last = h[lengths - 1, torch.arange(len(lengths), device=h.device)]
        return self.output(last)
