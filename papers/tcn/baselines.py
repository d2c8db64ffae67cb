"""The recurrent baselines of the paper's Table 1: LSTM, GRU and a vanilla (tanh) RNN.

They are the canonical cells, currently ``torch.nn`` (the shared cells of issue 3 replace them
with the same interface). The paper tunes each baseline separately (Sec. 5 and Supp. Table 3:
optimizer, recurrent dropout, lr, gradient clipping, forget-gate bias) and keeps it at about the
TCN's size; their settings live in ``params.yaml``.
"""

from __future__ import annotations

import torch
from torch import nn

RECURRENT_ARCHS = ("lstm", "gru", "rnn")


class RecurrentEncoder(nn.Module):
    """A multi-layer recurrent stack mapping ``(N, L, input_size)`` to ``(N, L, hidden_size)``.

    Args:
        arch: ``lstm``, ``gru`` or ``rnn`` (tanh).
        dropout: between layers (torch semantics), as the paper's "recurrent dropout" baselines.
        forget_bias: initial value of the LSTM forget-gate bias (Supp. Table 3 tunes it); the
            bias is split across ``bias_ih`` and ``bias_hh`` as torch adds the two.
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
        cls = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[arch]
        self.rnn = cls(
            input_size, hidden_size, num_layers, batch_first=True, dropout=dropout if num_layers > 1 else 0.0
        )
        if forget_bias is not None:
            if arch != "lstm":
                raise ValueError("forget_bias applies to the LSTM only")
            for name, bias in self.rnn.named_parameters():
                if name.startswith("bias_"):
                    with torch.no_grad():
                        # torch gate order is (input, forget, cell, output).
                        bias[hidden_size : 2 * hidden_size].fill_(forget_bias / 2)
        self.output_size = hidden_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.rnn(x)
        return output
