r"""The models of Chung et al. (2014) and Cho et al. (2014), built from the shared cells.

Recurrent units (Chung et al. Sec. 2-3; all from :mod:`shared.models.cells`):

* ``gru``: the gated recurrent unit of Cho et al. (2014, Sec. 2.3), reset gate applied *before*
  the recurrent product (``shared.models.cells.GRU(reset_after=False)``):

  .. math::

      r &= \sigma(W_r x_t + U_r h_{t-1}) && \text{(Cho Eq. 5)} \\
      z &= \sigma(W_z x_t + U_z h_{t-1}) && \text{(Cho Eq. 6)} \\
      h_t &= z \odot h_{t-1} + (1 - z) \odot \tilde h_t && \text{(Cho Eq. 7)} \\
      \tilde h_t &= \tanh\bigl(W x_t + U (r \odot h_{t-1})\bigr) && \text{(Cho Eq. 8)}

  Chung et al. (Sec. 3.2) write the same unit with :math:`z` and :math:`1 - z` swapped, a
  relabelling of the gate. Biases (absent from the paper's equations) are torch's two vectors.
* ``lstm``: the LSTM with forget gate (``shared.models.cells.LSTM``, torch's cell). Deviation: Chung et
  al. (Sec. 3.1, after Graves 2013) also give the gates diagonal peephole weights :math:`V_i, V_f,
  V_o` on the memory cell; the shared cell has none (36 units: 108 parameters fewer).
* ``tanh``: :math:`h_t = \tanh(W x_t + U h_{t-1})` (Chung et al. Sec. 3, the "traditional" unit).

The music model (Chung et al. Sec. 4.1): one recurrent layer reads the frames
:math:`x_1, \dots, x_{t}` of a piano roll and predicts the 88 pitches of :math:`x_{t+1}` with
independent logistic outputs,

.. math:: p(x_{t+1} \mid x_{\le t}) = \prod_{j=1}^{88} \sigma(o_{t,j})^{x_{t+1,j}}
          \bigl(1 - \sigma(o_{t,j})\bigr)^{1 - x_{t+1,j}}, \qquad o_t = W_o h_t + b_o.
"""

from __future__ import annotations

import torch
from torch import nn

from shared.models.cells import GRU, LSTM, RNN
from shared.models.cells.base import RecurrentStack

PITCHES = 88


def recurrent_layer(arch: str, input_size: int, hidden_size: int, batch_first: bool = True) -> RecurrentStack:
    """One recurrent layer of unit ``arch`` (``gru``: Cho et al.'s Eqs. 5-8; ``lstm``; ``tanh``)."""
    if arch == "gru":
        return GRU(input_size, hidden_size, batch_first=batch_first, reset_after=False)
    if arch == "lstm":
        return LSTM(input_size, hidden_size, batch_first=batch_first)
    if arch == "tanh":
        return RNN(input_size, hidden_size, nonlinearity="tanh", batch_first=batch_first)
    raise ValueError(f"unknown recurrent unit {arch!r}; choose gru, lstm or tanh")


class MusicRNN(nn.Module):
    """Next-frame model of a piano roll: ``(N, L, 88)`` frames to ``(N, L, 88)`` logits, output
    ``t`` predicting frame ``t + 1`` from frames ``<= t``."""

    def __init__(self, arch: str, hidden_size: int, pitches: int = PITCHES) -> None:
        super().__init__()
        self.rnn = recurrent_layer(arch, pitches, hidden_size)
        self.out = nn.Linear(hidden_size, pitches)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.dim() != 3 or frames.size(-1) != self.out.out_features:
            raise ValueError(f"MusicRNN: expected (N, L, {self.out.out_features}) frames, got {tuple(frames.shape)}")
        output, _ = self.rnn(frames)
        return self.out(output)
