r"""Long short-term memory: ``LSTM`` and ``LSTMCell``; by default equal to ``nn.LSTM`` and
``nn.LSTMCell``.

With the forget gate (Gers, Schmidhuber & Cummins 2000, Sec. 3; torch's LSTM), gates stacked in
torch's order :math:`i, f, g, o`:

.. math::

    i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
    f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
    g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
    o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
    c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
    h_t &= o_t \odot \tanh(c_t)

``forget_gate=False`` is the cell of Hochreiter & Schmidhuber (1997, Sec. 4): input and output
gates around a constant error carousel, whose state only accumulates,

.. math::

    c_t = c_{t-1} + i_t \odot g_t, \qquad h_t = o_t \odot \tanh(c_t).

In the paper's notation :math:`i_t = y^{in}(t)`, :math:`g_t = g(net_c(t))`, :math:`o_t =
y^{out}(t)`, :math:`c_t = s_c(t)` and :math:`h_t = y^c(t) = y^{out}(t)\,h(s_c(t))`; Gers et al.
multiply :math:`s_c(t-1)` by the forget gate's activation :math:`y^{\varphi}(t) = f_t`.
Deviations from the 1997 paper, shared by every modern implementation: :math:`g` and :math:`h`
are :math:`\tanh` (the paper uses scaled logistic sigmoids, with ranges [-2, 2] and [-1, 1] in
its experiments), every memory block holds one cell (the paper lets several cells share a
block's gates), and gradients flow through the whole unrolled network (the paper truncates them
outside the memory cells). The cell as published, with all of these, is
:class:`shared.models.cells.memory_block.MemoryBlockLSTM`.

Parameter layout. With the forget gate, exactly ``nn.LSTM``'s: ``weight_ih_l{k}`` ``(4H, H_in)``,
``weight_hh_l{k}`` ``(4H, H)``, ``bias_ih_l{k}`` and ``bias_hh_l{k}`` ``(4H)``, rows
:math:`i, f, g, o`. Without it, the same names with three gates, rows :math:`i, g, o`
(``(3H, *)``): a 1997 cell has no forget-gate parameters to count or to decay.
``forget_bias`` sets the forget-gate rows of *both* biases to ``forget_bias / 2`` (torch adds
``bias_ih`` and ``bias_hh``, so the gate starts at ``forget_bias``), after the uniform init.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from shared.models.cells.base import RecurrentCell, RecurrentModule, RecurrentStack, State, Weights


def lstm_step(
    gates_x: Tensor,
    state: tuple[Tensor, Tensor],
    weight_hh: Tensor,
    bias_hh: Tensor | None = None,
    *,
    forget_gate: bool = True,
) -> tuple[Tensor, Tensor]:
    """One LSTM step from the projected input ``gates_x = W_ih x_t + b_ih``; returns ``(h_t, c_t)``.

    ``gates_x`` and ``weight_hh`` hold the gates in the order :math:`i, f, g, o`, or :math:`i,
    g, o` without the forget gate.
    """
    h, c = state
    gates = gates_x + F.linear(h, weight_hh, bias_hh)
    if forget_gate:
        i, f, g, o = gates.chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    else:
        i, g, o = gates.chunk(3, -1)
        c = c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class _LSTMRecurrence(RecurrentModule):
    """The recurrence shared by :class:`LSTM` and :class:`LSTMCell`."""

    state_names = ("h", "c")
    forget_gate: bool
    forget_bias: float | None

    def _set_options(self, bias: bool, forget_gate: bool, forget_bias: float | None) -> None:
        if forget_bias is not None and not forget_gate:
            raise ValueError("forget_bias needs the forget gate (forget_gate=True)")
        if forget_bias is not None and not bias:
            raise ValueError("forget_bias needs bias=True")
        self.forget_gate = forget_gate
        self.forget_bias = forget_bias
        self.num_gates = 4 if forget_gate else 3

    def _step(self, gates_x: Tensor, state: State, weights: Weights) -> State:
        return lstm_step(gates_x, state, weights["weight_hh"], weights.get("bias_hh"), forget_gate=self.forget_gate)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.forget_bias is not None:
            forget_rows = slice(self.hidden_size, 2 * self.hidden_size)
            with torch.no_grad():
                for name in self._weight_names:
                    if name.startswith("bias_"):
                        getattr(self, name)[forget_rows] = self.forget_bias / 2

    def extra_repr(self) -> str:
        s = super().extra_repr()
        if not self.forget_gate:
            s += ", forget_gate=False"
        if self.forget_bias is not None:
            s += f", forget_bias={self.forget_bias}"
        return s


class LSTM(_LSTMRecurrence, RecurrentStack):
    """A multi-layer LSTM with the API (and, by default, the results) of ``nn.LSTM``.

    Args are :class:`~shared.models.cells.base.RecurrentStack`'s (``input_size, hidden_size,
    num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False``, keyword
    ``fast_path``), plus the keywords

        forget_gate: ``False`` gives the 1997 cell without forget gate (three gates; loop path).
        forget_bias: initial forget-gate bias, split evenly over ``bias_ih`` and ``bias_hh``.

    Inputs: input, (h_0, c_0) and Outputs: output, (h_n, c_n) as in ``RecurrentStack``, with
    ``c`` shaped like ``h``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        forget_gate: bool = True,
        forget_bias: float | None = None,
        fast_path: bool | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self._set_options(bias, forget_gate, forget_bias)
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
        # forget_bias only changes the initial values, not the function.
        return nn.LSTM(**self._torch_kernel_kwargs()) if self.forget_gate else None


class LSTMCell(_LSTMRecurrence, RecurrentCell):
    """One LSTM step, with the API of ``nn.LSTMCell``.

    Args: ``input_size``, ``hidden_size``, ``bias=True``, and the keywords ``forget_gate`` and
    ``forget_bias`` of :class:`LSTM`.

    Inputs: input ``(N, H_in)`` or ``(H_in)``; (h_0, c_0), each ``(N, H)`` or ``(H)`` (zeros when
    omitted). Outputs: (h_1, c_1), each ``(N, H)`` or ``(H)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        forget_gate: bool = True,
        forget_bias: float | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self._set_options(bias, forget_gate, forget_bias)
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)
