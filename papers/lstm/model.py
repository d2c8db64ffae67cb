r"""The models of the LSTM paper folder, built from the shared cells.

* :class:`LSTM1997Net`: the three-layer net of Hochreiter & Schmidhuber (1997, Sec. 5): input
  units, one fully recurrent hidden layer of memory cell blocks
  (:class:`shared.models.cells.MemoryBlockLSTM`: cells, input and output gates, Eqs. 3-9 of App. A.1)
  and logistic output units fed by the memory cells only,

  .. math:: y^k(t) = f\bigl(\textstyle\sum_{j,v} w_{k c_j^v}\, y^{c_j^v}(t) + b_k\bigr),
     \qquad f(x) = 1 / (1 + e^{-x}).

  The paper indexes every source of a net input by :math:`t-1` (a synchronous network in which
  each layer takes one tick); here, as in every later implementation, the input at step
  :math:`t` reaches the hidden layer and the cell outputs reach the output layer within step
  :math:`t`, and only the hidden layer's recurrence takes a step. The function is the same up to
  the network's two-tick delay, which would otherwise need padding steps at the sequence end.

* :class:`ZarembaLM`: the word-level language model of Zaremba, Sutskever & Vinyals (2014,
  Sec. 3-4): embedding, a stack of (modern, forget-gate) LSTMs, a softmax over the vocabulary,
  with dropout only on the non-recurrent connections (Eq. in Sec. 3: :math:`\mathbf{D}` acts on
  :math:`h_t^{l-1}`, never on :math:`h_{t-1}^l`), every parameter uniform in
  :math:`[-r, r]`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from shared.models.cells import LSTM, MemoryBlockLSTM


class LSTM1997Net(nn.Module):
    """Input -> memory cell blocks -> logistic outputs (the nets of Exp. 1, 4 and 6).

    Args:
        input_size, output_size: input and output units (local codes or real values).
        blocks, block_size: the memory cell blocks and their cells (Table 10, columns b and s).
        init_range: every weight, biases included, uniform in ``[-init_range, init_range]``.
        input_gate_bias, output_gate_bias: one initial bias per block (Table 10, columns igb and
            ogb); ``None`` keeps the uniform draw ("r" in Table 10).
        bias_units: ``"all"`` (all non-input units biased: Exp. 4 and 6) or ``"gates"`` (only the
            gate units: Exp. 1); the output units are biased only with ``"all"``.
        truncate: the paper's truncated gradient (see :class:`~shared.models.cells.MemoryBlockLSTM`).

    Inputs ``(L, N, input_size)``; outputs ``(L, N, output_size)`` in ``[0, 1]``.
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        blocks: int,
        block_size: int,
        init_range: float,
        input_gate_bias: list[float] | None = None,
        output_gate_bias: list[float] | None = None,
        bias_units: str = "all",
        truncate: bool = True,
    ) -> None:
        super().__init__()
        if bias_units not in ("all", "gates"):
            raise ValueError(f"bias_units must be 'all' or 'gates', got {bias_units!r}")
        self.hidden = MemoryBlockLSTM(
            input_size,
            blocks,
            block_size,
            bias_units=bias_units,
            init_range=init_range,
            input_gate_bias=input_gate_bias,
            output_gate_bias=output_gate_bias,
            truncate=truncate,
        )
        self.output = nn.Linear(self.hidden.num_cells, output_size, bias=bias_units == "all")
        with torch.no_grad():
            for p in self.output.parameters():
                p.uniform_(-init_range, init_range)

    def forward(self, x: Tensor) -> Tensor:
        cells, _ = self.hidden(x)
        return torch.sigmoid(self.output(cells))

    def num_weights(self) -> int:
        """The paper's weight count (Table 10, column w): connections plus the biases that exist."""
        return self.hidden.num_weights() + sum(p.numel() for p in self.output.parameters())


class ZarembaLM(nn.Module):
    """Embedding -> dropout -> LSTM stack (dropout between layers) -> dropout -> softmax layer.

    Args:
        vocab_size: 10,000 for the Mikolov PTB.
        hidden: the LSTM width, also the embedding size (200 / 650 / 1500 in Sec. 4.1).
        layers: 2 in every model of the paper.
        dropout: the probability of zeroing a non-recurrent connection (0, 0.5, 0.65).
        init_range: every parameter uniform in ``[-init_range, init_range]`` (0.1 / 0.05 / 0.04).

    ``forward(tokens (N, L), state)`` returns logits ``(N, L, vocab_size)`` and the final state,
    which the caller carries to the next window (the paper's minibatches are consecutive).
    """

    def __init__(self, vocab_size: int, hidden: int, layers: int, dropout: float, init_range: float) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden)
        self.drop = nn.Dropout(dropout)
        self.lstm = LSTM(hidden, hidden, layers, batch_first=True, dropout=dropout)
        self.decoder = nn.Linear(hidden, vocab_size)
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-init_range, init_range)

    def forward(
        self, tokens: Tensor, state: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        output, state = self.lstm(self.drop(self.embedding(tokens)), state)
        return self.decoder(self.drop(output)), state
