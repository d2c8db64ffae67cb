"""The recurrent baselines of the paper's Table 1: LSTM, GRU and a vanilla (tanh) RNN.

They are the project's shared cells (``shared.models.cells``), whose default configurations equal
``torch.nn.LSTM``/``GRU``/``RNN`` (parity-tested to 1e-10) and run on torch's fused kernels. The
paper tunes each baseline separately (Sec. 5 and Supp. Table 3: optimizer, recurrent dropout, lr,
gradient clipping, forget-gate bias) and keeps it at about the TCN's size; their settings live in
``params.yaml``.
"""

from __future__ import annotations

import torch
from torch import nn

from shared.models.cells import GRU, LSTM, RNN

RECURRENT_ARCHS = ("lstm", "gru", "rnn")


class RecurrentEncoder(nn.Module):
    """A multi-layer recurrent stack mapping ``(N, L, input_size)`` to ``(N, L, hidden_size)``.

    Args:
        arch: ``lstm``, ``gru`` or ``rnn`` (tanh).
        dropout: between layers (torch semantics), as the paper's "recurrent dropout" baselines.
        forget_bias: initial value of the LSTM forget-gate bias (Supp. Table 3 tunes it).
    """

    def __init__(
        self,
        arch: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        dropout: float = 0.0,
        forget_bias: float | None = None,
    ) -> None:
        super().__init__()
        if arch not in RECURRENT_ARCHS:
            raise ValueError(f"arch {arch!r} is not one of {RECURRENT_ARCHS}")
        if forget_bias is not None and arch != "lstm":
            raise ValueError("forget_bias applies to the LSTM only")
        dropout = dropout if num_layers > 1 else 0.0
        if arch == "lstm":
            self.rnn: nn.Module = LSTM(
                input_size, hidden_size, num_layers, batch_first=True, dropout=dropout, forget_bias=forget_bias
            )
        else:
            cls = GRU if arch == "gru" else RNN
            self.rnn = cls(input_size, hidden_size, num_layers, batch_first=True, dropout=dropout)
        self.output_size = hidden_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.rnn(x)
        return output
