r"""The memory cell blocks of Hochreiter & Schmidhuber (1997): ``MemoryBlockLSTM``.

This is the LSTM as first published, which differs from the modern cell (``LSTM`` with
``forget_gate=True``) in four ways: there is no forget gate; several cells of a *block* share one
input and one output gate; the squashing functions are scaled logistic sigmoids; and the
hidden layer is fully recurrent, every gate and cell receiving the previous activations of all
cells *and gates*. With blocks :math:`j = 1..B` of :math:`S` cells :math:`c_j^v` and the sources
:math:`y^u(t-1)` (the previous activations of every hidden unit) and the current inputs
:math:`x(t)`, App. A.1 gives

.. math::

    f(x) &= 1 / (1 + e^{-x})                                   && \text{(Eq. 3, gates)} \\
    h(x) &= 2 / (1 + e^{-x}) - 1 \in [-1, 1]                   && \text{(Eq. 4, cell output)} \\
    g(x) &= 4 / (1 + e^{-x}) - 2 \in [-2, 2]                   && \text{(Eq. 5, cell input)} \\
    y^{in_j}(t) &= f\bigl(\textstyle\sum_u w_{in_j u}\, y^u(t-1)\bigr)   && \text{(Eq. 7)} \\
    y^{out_j}(t) &= f\bigl(\textstyle\sum_u w_{out_j u}\, y^u(t-1)\bigr) && \text{(Eq. 8)} \\
    s_{c_j^v}(t) &= s_{c_j^v}(t-1) + y^{in_j}(t)\, g\bigl(\textstyle\sum_u w_{c_j^v u}\, y^u(t-1)\bigr)
        && \text{(Eq. 9)} \\
    y^{c_j^v}(t) &= y^{out_j}(t)\, h\bigl(s_{c_j^v}(t)\bigr)                && \text{(Eq. 9)}

with :math:`s(0) = 0` and :math:`y(0) = 0` ("all activations are reinitialized with zeros",
Sec. 5.1). The sums run over the inputs at step :math:`t` (the paper's input units), every hidden
unit's activation at :math:`t-1`, and a bias where the unit has one.

Truncated gradient (Sec. 4, App. A.1). With ``truncate=True`` (the default, the paper's
algorithm) the derivatives of every net input with respect to the previous activations
:math:`y^u(t-1)` are zero: error reaching a gate or a cell input stops there, and only the
internal states :math:`s` carry error back in time (the constant error carousel, whose
:math:`\partial s(t) / \partial s(t-1) = 1`, Eq. 35). Autograd computes exactly the paper's
truncated derivatives (Eqs. 19-28) once the recurrent sources are detached, which is how it is
done here. ``truncate=False`` gives the full gradient (the paper's Sec. 6 reports no significant
difference).

Parameter layout. Hidden units are ordered ``[cells (B*S, block-major) | input gates (B) |
output gates (B)]``; ``weight_ih`` is ``(H, input_size)``, ``weight_hh`` ``(H, H)`` over the same
order, and ``bias`` ``(H)``, where ``H = B*S + 2B``. ``bias_units`` says which units have a bias
(Table 10, column 12): ``"all"`` hidden units, only the ``"gates"``, or ``"none"``; the others keep
a zero bias that receives no gradient. This runs a Python loop over time (there is no fused
kernel for it); the nets of the paper have under 300 weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

BIAS_UNITS = ("all", "gates", "none")


def squash(x: Tensor, half_range: float) -> Tensor:
    """A logistic sigmoid scaled to ``[-half_range, half_range]``: ``2 a sigma(x) - a``.

    ``half_range=1`` is the paper's :math:`h` (Eq. 4), ``half_range=2`` its :math:`g` (Eq. 5).
    """
    return half_range * (2.0 * torch.sigmoid(x) - 1.0)


class MemoryBlockLSTM(nn.Module):
    """One fully recurrent layer of 1997 memory cell blocks.

    Args:
        input_size: input units.
        blocks: memory cell blocks :math:`B` (each with one input and one output gate).
        block_size: cells per block :math:`S`.
        bias_units: ``"all"``, ``"gates"`` or ``"none"`` (see the module docstring).
        init_range: weights and biases uniform in ``[-init_range, init_range]``.
        input_gate_bias, output_gate_bias: initial gate biases, one per block, written over the
            uniform draw (the paper's negative input-gate biases against state drift, Sec. 4, and
            output-gate biases against abuse); ``None`` keeps the draw.
        truncate: the paper's truncated gradient (default) or the full gradient.

    Inputs: ``x`` ``(L, N, input_size)``, optional state ``(y, s)``: all hidden activations
    ``(N, H)`` and cell states ``(N, B*S)`` (zeros when omitted). Outputs: the cell outputs
    ``(L, N, B*S)`` and the final ``(y, s)``.
    """

    def __init__(
        self,
        input_size: int,
        blocks: int,
        block_size: int,
        *,
        bias_units: str = "all",
        init_range: float = 0.1,
        input_gate_bias: list[float] | None = None,
        output_gate_bias: list[float] | None = None,
        truncate: bool = True,
    ) -> None:
        super().__init__()
        if input_size < 1 or blocks < 1 or block_size < 1:
            raise ValueError(
                f"input_size, blocks and block_size must be >= 1, got {input_size}, {blocks}, {block_size}"
            )
        if bias_units not in BIAS_UNITS:
            raise ValueError(f"bias_units must be one of {BIAS_UNITS}, got {bias_units!r}")
        for name, values in (("input_gate_bias", input_gate_bias), ("output_gate_bias", output_gate_bias)):
            if values is not None and len(values) != blocks:
                raise ValueError(f"{name} needs one value per block ({blocks}), got {len(values)}")
            if values is not None and bias_units == "none":
                raise ValueError(f"{name} needs biased gates (bias_units='all' or 'gates')")
        self.input_size = input_size
        self.blocks = blocks
        self.block_size = block_size
        self.num_cells = blocks * block_size
        self.hidden_size = self.num_cells + 2 * blocks
        self.bias_units = bias_units
        self.truncate = truncate
        self.weight_ih = nn.Parameter(torch.empty(self.hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(self.hidden_size, self.hidden_size))
        self.bias = nn.Parameter(torch.empty(self.hidden_size))
        mask = torch.zeros(self.hidden_size)
        if bias_units == "all":
            mask[:] = 1.0
        elif bias_units == "gates":
            mask[self.num_cells :] = 1.0
        self.register_buffer("bias_mask", mask)
        with torch.no_grad():
            for p in (self.weight_ih, self.weight_hh, self.bias):
                p.uniform_(-init_range, init_range)
            if input_gate_bias is not None:
                self.bias[self.num_cells : self.num_cells + blocks] = torch.tensor(input_gate_bias)
            if output_gate_bias is not None:
                self.bias[self.num_cells + blocks :] = torch.tensor(output_gate_bias)
            self.bias.mul_(mask)

    def num_weights(self) -> int:
        """Connections plus existing biases: the "# weights" of the paper's tables."""
        return self.weight_ih.numel() + self.weight_hh.numel() + int(self.bias_mask.sum().item())

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        if x.dim() != 3 or x.size(-1) != self.input_size:
            raise ValueError(f"expected input (L, N, {self.input_size}), got {tuple(x.shape)}")
        n, cells, blocks, size = x.size(1), self.num_cells, self.blocks, self.block_size
        if state is None:
            y = x.new_zeros(n, self.hidden_size)
            s = x.new_zeros(n, cells)
        else:
            y, s = state
        # The input projection of every step at once; only the recurrence needs the loop.
        nets_x = F.linear(x, self.weight_ih, self.bias * self.bias_mask)
        outputs = []
        for net_x in nets_x:
            source = y.detach() if self.truncate else y
            net = net_x + F.linear(source, self.weight_hh)
            net_c, net_in, net_out = net.split([cells, blocks, blocks], -1)
            y_in, y_out = torch.sigmoid(net_in), torch.sigmoid(net_out)
            s = s + y_in.repeat_interleave(size, -1) * squash(net_c, 2.0)
            y_c = y_out.repeat_interleave(size, -1) * squash(s, 1.0)
            y = torch.cat([y_c, y_in, y_out], -1)
            outputs.append(y_c)
        return torch.stack(outputs), (y, s)

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, blocks={self.blocks}, block_size={self.block_size}, "
            f"bias_units={self.bias_units!r}, truncate={self.truncate}"
        )
