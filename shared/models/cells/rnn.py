r"""The simple (Elman, 1990) recurrent network: ``RNN`` and ``RNNCell``, equal to ``nn.RNN`` and
``nn.RNNCell``.

.. math::

    h_t = \phi\bigl(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}\bigr),
    \qquad \phi \in \{\tanh, \mathrm{ReLU}, \mathrm{clipped\ ReLU}\}

The two biases are torch's (and cuDNN's) layout; their sum is the single bias of the textbook
equation. ``RNN`` runs torch's fused kernel for ``tanh`` and ``relu`` (see
:mod:`shared.models.cells.base`). ``clipped_relu`` is Deep Speech 2's
:math:`\phi(x) = \min(\max(x, 0), 20)` (Amodei et al. 2016, Sec. 3.1; the ceiling is the keyword
``clip``); no torch kernel computes it, so it runs on the loop path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from shared.models.cells.base import RecurrentCell, RecurrentModule, RecurrentStack, State, Weights

NONLINEARITIES = ("tanh", "relu", "clipped_relu")
#: Deep Speech 2's ceiling of the clipped ReLU (Amodei et al. 2016, Sec. 3.1).
RELU_CLIP = 20.0


def rnn_step(
    gates_x: Tensor,
    h: Tensor,
    weight_hh: Tensor,
    bias_hh: Tensor | None = None,
    *,
    nonlinearity: str = "tanh",
    clip: float = RELU_CLIP,
) -> Tensor:
    """One step of the simple RNN from the projected input ``gates_x = W_ih x_t + b_ih``;
    ``clip`` is the ceiling of ``clipped_relu`` (unused by the other nonlinearities)."""
    pre = gates_x + F.linear(h, weight_hh, bias_hh)
    if nonlinearity == "tanh":
        return torch.tanh(pre)
    if nonlinearity == "relu":
        return torch.relu(pre)
    return pre.clamp(0.0, clip)


class _RNNRecurrence(RecurrentModule):
    """The recurrence shared by :class:`RNN` and :class:`RNNCell`."""

    nonlinearity: str
    clip: float

    def _set_options(self, nonlinearity: str, clip: float = RELU_CLIP) -> None:
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
        if not clip > 0:
            raise ValueError(f"clip must be > 0, got {clip!r}")
        self.nonlinearity = nonlinearity
        self.clip = float(clip)

    def _step(self, gates_x: Tensor, state: State, weights: Weights) -> State:
        return (
            rnn_step(
                gates_x,
                state[0],
                weights["weight_hh"],
                weights.get("bias_hh"),
                nonlinearity=self.nonlinearity,
                clip=self.clip,
            ),
        )

    def extra_repr(self) -> str:
        s = super().extra_repr() + ("" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity!r}")
        return s + (f", clip={self.clip:g}" if self.nonlinearity == "clipped_relu" else "")


class RNN(_RNNRecurrence, RecurrentStack):
    """A multi-layer Elman RNN with the API (and, with the same weights, the results) of ``nn.RNN``.

    Args are :class:`~shared.models.cells.base.RecurrentStack`'s (``input_size, hidden_size,
    num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False``, keyword
    ``fast_path``), plus

        nonlinearity: ``'tanh'``, ``'relu'`` or ``'clipped_relu'`` (loop path only).
        clip: keyword, the ceiling of ``'clipped_relu'`` (default 20, Deep Speech 2's).

    Inputs: input, h_0 and Outputs: output, h_n as in ``RecurrentStack`` (one state tensor).
    Parameters: ``weight_ih_l{k}`` ``(H, H_in)`` (``(H, D * H)`` for ``k > 0``),
    ``weight_hh_l{k}`` ``(H, H)``, ``bias_ih_l{k}``, ``bias_hh_l{k}`` ``(H)``, ``_reverse`` for
    the backward direction.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        clip: float = RELU_CLIP,
        fast_path: bool | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self._set_options(nonlinearity, clip)
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            fast_path=fast_path,
            device=device,
            dtype=dtype,
        )

    def _make_torch_kernel(self) -> nn.RNNBase | None:
        if self.nonlinearity == "clipped_relu":
            return None
        return nn.RNN(nonlinearity=self.nonlinearity, **self._torch_kernel_kwargs())


class RNNCell(_RNNRecurrence, RecurrentCell):
    """One step of the Elman RNN, with the API of ``nn.RNNCell``.

    Args: ``input_size``, ``hidden_size``, ``bias=True``, ``nonlinearity='tanh'`` (or ``'relu'``,
    ``'clipped_relu'``), keyword ``clip`` (the ceiling of ``'clipped_relu'``, default 20).

    Inputs: input ``(N, H_in)`` or ``(H_in)``, hx ``(N, H)`` or ``(H)`` (zeros when omitted).
    Outputs: h' ``(N, H)`` or ``(H)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        *,
        clip: float = RELU_CLIP,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self._set_options(nonlinearity, clip)
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)
