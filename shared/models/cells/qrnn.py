r"""Quasi-recurrent neural networks (Bradbury, Merity, Xiong & Socher, ICLR 2017): ``QRNN`` and the
pooling recurrence ``forget_mult``. (The gate and pooling equations below were checked against the
paper; its section numbers, Sec. 2 and 2.1, are as recalled, not yet checked.)

A QRNN layer (Sec. 2) computes its gates for all time steps at once with masked (causal)
convolutions of width :math:`k` over time, then pools them with an element-wise recurrence:

.. math::

    Z = \tanh(W_z * X), \quad F = \sigma(W_f * X), \quad O = \sigma(W_o * X), \quad I = \sigma(W_i * X)

where :math:`*` is a convolution along time that sees :math:`x_{t-k+1}, \dots, x_t` only (zeros
before the first step). The pooling functions (Sec. 2):

* ``pooling="f"`` (f-pooling): :math:`h_t = f_t \odot h_{t-1} + (1 - f_t) \odot z_t`;
* ``pooling="fo"`` (fo-pooling, the default): :math:`c_t = f_t \odot c_{t-1} + (1 - f_t) \odot z_t`,
  :math:`h_t = o_t \odot c_t`;
* ``pooling="ifo"`` (ifo-pooling): :math:`c_t = f_t \odot c_{t-1} + i_t \odot z_t`,
  :math:`h_t = o_t \odot c_t`.

(For f-pooling :math:`c = h`.) All three are :func:`forget_mult` :math:`c_t = f_t \odot c_{t-1} +
x_t` with :math:`x = (1 - F) \odot Z` or :math:`I \odot Z`.

Zoneout (Sec. 2.1) acts on the forget gate: in training :math:`F = 1 - \mathrm{dropout}(1 -
\sigma(W_f * X))` with dropout's :math:`1/(1-p)` rescaling removed, as the paper prescribes, so
every channel at every step keeps its previous pooling state with probability ``zoneout``. In
evaluation the gate is its expectation, :math:`1 - (1 - p)(1 - \sigma(W_f * X))` (zoneout's
test-time rule, Krueger et al. 2017; pytorch-qrnn does the same): deterministic, no sampling.
Implemented here by the private ``_zoneout_forget``, not by a shared regularizer.

Parameter layout. The convolution of layer :math:`l` is a linear map of the concatenated window:
``weight_ih_l{l}`` of shape ``(G * H, k * H_in)`` and ``bias_ih_l{l}`` ``(G * H)``, with
:math:`G = 2, 3, 4` gates for f, fo, ifo, rows in the order :math:`z, f, o, i`, and columns in
blocks of ``H_in``: block :math:`j` multiplies :math:`x_{t-k+1+j}` (oldest first, the order of a
causal ``Conv1d`` kernel and of the paper's :math:`W^1 x_{t-1} + W^2 x_t` for :math:`k = 2`).
pytorch-qrnn orders the blocks newest first (``[x_t, x_{t-1}]``); swap them to load its weights.
``_reverse`` for the backward direction; no ``weight_hh``/``bias_hh`` (nothing is learned inside
the recurrence). Initialisation: ``nn.Linear``'s, :math:`U(\pm 1/\sqrt{k H_{in}})` for weight and
bias (pytorch-qrnn uses an ``nn.Linear``).

State. ``h_0``/``h_n`` are the pooling memory :math:`c` (for f-pooling the same as :math:`h`),
one tensor ``(num_layers * D, N, H)``: ``h_n`` is :math:`c_T` of every layer and direction,
as pytorch-qrnn's ``C[-1]``, and ``output`` is :math:`h_t = o_t \odot c_t` of the last layer.
To continue a sequence, pass ``h_n`` back as ``h_0`` (and see ``save_prev_x``).

``save_prev_x`` (language modelling over consecutive batches, as pytorch-qrnn): each layer keeps
the last :math:`k - 1` steps of its input (detached) and its next call's convolution reads them
instead of zeros, so a sequence run in two calls equals it run in one. :meth:`QRNN.reset` forgets
them (call it at the start of every new stream, e.g. each epoch); :attr:`QRNN.kept_inputs` and
``reset(kept)`` read and restore them, for a caller that carries them with the state. Not for
``PackedSequence`` input, nor bidirectional stacks.

Extensions, not in the paper: ``bidirectional=True`` (the backward direction convolves and pools
the reversed sequence) and ``PackedSequence`` input, with the base class's semantics (the state
stops at each sequence's length: there :math:`f = 1` and :math:`x = 0`). Dropout between layers
is ``RecurrentStack``'s; the paper's densely connected layers and encoder-decoder attention
belong to a model, not to this stack.

``forget_mult``: exact and fast on CPU
--------------------------------------
:func:`forget_mult_reference` is the plain loop. :func:`forget_mult` computes the same recurrence
with a two-level (chunked) scan: the :math:`L` steps are cut into :math:`n` chunks of :math:`C
\approx \sqrt{L}` steps; (1) all chunks run in parallel from a zero state, keeping each chunk's
end state and the product of its gates; (2) a loop over the :math:`n` chunks turns those into each
chunk's true start state; (3) all chunks rerun in parallel from their true start, writing the
output. About :math:`2C + n` Python-level steps instead of :math:`L`, each on :math:`n` times more
data, and no division or logarithm: a log-space/cumprod closed form divides by products of gates,
which underflow to 0 over long spans. Nothing is approximated: the result differs from the loop's
only in how the products of step (2) are associated, i.e. in rounding. The backward is the same
scan backwards in time (the total gradient of :math:`c_t` is :math:`G_t = g_t + f_{t+1} G_{t+1}`,
:math:`g` the incoming gradient), so training records no per-step autograd graph; there is no
double backward (use the reference for that). On CPU the recurrence is memory-bound for wide
layers, so the gain is largest for long sequences and narrow layers; on a GPU the scan needs about
:math:`4\sqrt{L}` kernel launches instead of :math:`L`.
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from shared.models.cells.base import RecurrentStack, State, Weights

POOLINGS = {"f": 2, "fo": 3, "ifo": 4}  # pooling -> number of gates (rows z, f[, o[, i]])

_MIN_CHUNK = 4  # below 16 steps the chunked scan saves nothing: plain loop


def forget_mult_reference(f: Tensor, x: Tensor, h0: Tensor | None = None) -> Tensor:
    r"""The loop :math:`h_t = f_t \odot h_{t-1} + x_t` over dim 0 (autograd through every step).

    Args: as :func:`forget_mult`. The ground truth the fast path is tested against.
    """
    _check_forget_mult_args(f, x, h0)
    h = torch.zeros_like(x[0]) if h0 is None else h0
    outputs = []
    for f_t, x_t in zip(f.unbind(0), x.unbind(0), strict=True):
        h = f_t * h + x_t
        outputs.append(h)
    return torch.stack(outputs)


def forget_mult(f: Tensor, x: Tensor, h0: Tensor | None = None) -> Tensor:
    r"""QRNN's pooling recurrence :math:`h_t = f_t \odot h_{t-1} + x_t` over dim 0, by a chunked scan.

    Args:
        f: ``(L, *)`` the forget gates.
        x: ``(L, *)`` the gated input, already multiplied by :math:`1 - f` (f/fo-pooling) or
            :math:`i` (ifo-pooling).
        h0: ``(*)`` the state before the first step; zeros when omitted.

    Returns: ``(L, *)`` the state after every step. Equal to :func:`forget_mult_reference` up to
    rounding (see the module docstring); differentiable once.
    """
    _check_forget_mult_args(f, x, h0)
    return _ForgetMult.apply(f, x, torch.zeros_like(x[0]) if h0 is None else h0)


def _check_forget_mult_args(f: Tensor, x: Tensor, h0: Tensor | None) -> None:
    if f.dim() == 0 or f.shape != x.shape:
        raise ValueError(f"forget_mult: f and x must have one shape (L, *), got {tuple(f.shape)}, {tuple(x.shape)}")
    if h0 is not None and h0.shape != x.shape[1:]:
        raise ValueError(f"forget_mult: h0 must have shape {tuple(x.shape[1:])}, got {tuple(h0.shape)}")


def _linear_scan(f: Tensor, x: Tensor, h0: Tensor, reverse: bool = False) -> Tensor:
    """``out[t] = f[t] * out[t - 1] + x[t]`` from ``out[-1] = h0`` (``reverse``: ``out[t] = f[t] *
    out[t + 1] + x[t]`` from ``out[L] = h0``), without autograd. The chunked algorithm of the
    module docstring on the part scanned first, the plain loop on the ``L mod C`` steps left."""
    f, x = f.contiguous(), x.contiguous()
    length = x.size(0)
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    chunk = math.isqrt(length)
    n = length // chunk if chunk >= _MIN_CHUNK else 0
    rest = length - n * chunk
    c = h0
    if n:
        region = slice(rest, length) if reverse else slice(0, length - rest)
        shape = (n, chunk, *x.shape[1:])
        fv, xv, hv = f[region].view(shape), x[region].view(shape), out[region].view(shape)
        steps = range(chunk - 1, -1, -1) if reverse else range(chunk)
        chunks = range(n - 1, -1, -1) if reverse else range(n)
        # (1) every chunk from a zero state: its end state and the product of its gates.
        end, gain = xv[:, steps[0]].clone(), fv[:, steps[0]].clone()
        for t in steps[1:]:
            torch.addcmul(xv[:, t], fv[:, t], end, out=end)
            gain.mul_(fv[:, t])
        # (2) the true state entering each chunk, chunk after chunk.
        starts = torch.empty_like(end)
        for j in chunks:
            starts[j] = c
            c = torch.addcmul(end[j], gain[j], c)
        # (3) every chunk again, from its true start, into the output.
        prev = starts
        for t in steps:
            prev = torch.addcmul(xv[:, t], fv[:, t], prev, out=hv[:, t])
        c = hv[chunks[-1], steps[-1]]
    for t in range(rest - 1, -1, -1) if reverse else range(length - rest, length):
        c = torch.addcmul(x[t], f[t], c, out=out[t])
    return out


class _ForgetMult(torch.autograd.Function):
    """``forget_mult`` with a backward that is the same scan, backwards in time."""

    @staticmethod
    def forward(f: Tensor, x: Tensor, h0: Tensor) -> Tensor:
        return _linear_scan(f, x, h0)

    @staticmethod
    def setup_context(ctx, inputs: tuple[Tensor, Tensor, Tensor], output: Tensor) -> None:
        f, _, h0 = inputs
        ctx.save_for_backward(f, output, h0)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor, Tensor | None]:
        f, h, h0 = ctx.saved_tensors
        # The total gradient of h_t, g_t = grad_t + f_{t+1} g_{t+1}, is a reverse forget-mult with
        # the gates shifted by one step (the last one multiplies g_L = 0: any value does).
        f_next = torch.empty_like(f, memory_format=torch.contiguous_format)
        f_next[:-1] = f[1:]
        f_next[-1] = 0
        g = _linear_scan(f_next, grad, torch.zeros_like(h0), reverse=True)
        grad_f = grad_h0 = None
        if ctx.needs_input_grad[0]:  # dL/df_t = g_t * h_{t-1}
            grad_f = torch.empty_like(g)
            torch.mul(g[1:], h[:-1], out=grad_f[1:])
            torch.mul(g[0], h0, out=grad_f[0])
        if ctx.needs_input_grad[2]:
            grad_h0 = f[0] * g[0]
        return grad_f, g, grad_h0


def _zoneout_forget(f: Tensor, p: float, training: bool) -> Tensor:
    """Zoneout on the forget gate (Sec. 2.1): ``1 - dropout(1 - f)`` without rescaling in training,
    its expectation ``1 - (1 - p)(1 - f)`` in evaluation."""
    if not p:
        return f
    if training:
        return 1 - (1 - f) * torch.empty_like(f).bernoulli_(1 - p)
    return 1 - (1 - p) * (1 - f)


class QRNN(RecurrentStack):
    r"""A multi-layer quasi-recurrent network (Bradbury et al. 2017, Sec. 2) with the API of ``nn.RNN``.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional: as
            :class:`~shared.models.cells.base.RecurrentStack` (``dropout`` between layers;
            ``bidirectional`` is an extension).
        window: width :math:`k` of the masked convolution, any :math:`k \ge 1` (pytorch-qrnn
            supports 1 and 2); every layer uses the same.
        pooling: ``'f'``, ``'fo'`` (default) or ``'ifo'``.
        zoneout: probability that a channel keeps its pooling state at a step (Sec. 2.1).
        save_prev_x: keep each layer's last :math:`k - 1` input steps for the next call
            (language modelling over consecutive batches); :meth:`reset` clears them.
        device, dtype: of the parameters, as in ``torch.nn``.

    Inputs: input, h_0
        - **input**: ``(L, N, H_in)``, ``(N, L, H_in)`` with ``batch_first``, unbatched
          ``(L, H_in)``, or a ``PackedSequence``.
        - **h_0**: ``(num_layers * D, N, H)`` (``(num_layers * D, H)`` unbatched): the initial
          pooling memory :math:`c_0` of every layer and direction; zeros when omitted.

    Outputs: output, h_n
        - **output**: ``(L, N, D * H)`` (or the input's layout): :math:`h_t` of the last layer.
        - **h_n**: ``(num_layers * D, N, H)``: the final memory :math:`c_T` of every layer and
          direction (not :math:`h_T = o_T \odot c_T`); pass it back as ``h_0`` to continue.

    Parameters: ``weight_ih_l{k}`` ``(G * H, window * H_in)``, ``bias_ih_l{k}`` ``(G * H)``; see
    :mod:`shared.models.cells.qrnn`.
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
        window: int = 1,
        pooling: str = "fo",
        zoneout: float = 0.0,
        save_prev_x: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if not isinstance(window, int) or isinstance(window, bool) or window <= 0:
            raise ValueError(f"window must be a positive int, got {window!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {tuple(POOLINGS)}, got {pooling!r}")
        if not isinstance(zoneout, numbers.Real) or isinstance(zoneout, bool) or not 0 <= zoneout < 1:
            raise ValueError(f"zoneout must be a probability in [0, 1), got {zoneout!r}")
        if save_prev_x and bidirectional:
            raise ValueError("save_prev_x continues a sequence forwards in time; a bidirectional QRNN cannot")
        self.window = window
        self.pooling = pooling
        self.zoneout = float(zoneout)
        self.save_prev_x = save_prev_x
        self.num_gates = POOLINGS[pooling]
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
        )
        self.reset()

    def reset(self, kept: list[Tensor | None] | None = None) -> None:
        """Forget the input steps kept by ``save_prev_x``: the next call starts a new sequence.

        ``kept`` (one entry per layer, as :attr:`kept_inputs` returned them) puts back steps kept
        earlier instead, so that a caller can carry them with the pooling state, e.g. in a
        checkpoint or across an evaluation that used another batch size."""
        if kept is not None and len(kept) != self.num_layers:
            raise ValueError(f"QRNN.reset: kept needs one entry per layer ({self.num_layers}), got {len(kept)}")
        self._prev_x: list[Tensor | None] = [None] * self.num_layers if kept is None else list(kept)

    @property
    def kept_inputs(self) -> list[Tensor | None]:
        """The last ``window - 1`` input steps of each layer kept by ``save_prev_x`` (``(window -
        1, N, H_in)``, detached; ``None`` before the first call or without ``save_prev_x``)."""
        return list(self._prev_x)

    def _parameter_shapes(self, input_size: int) -> dict[str, tuple[int, ...]]:
        rows = self.num_gates * self.hidden_size
        shapes = {"weight_ih": (rows, self.window * input_size)}
        return shapes | ({"bias_ih": (rows,)} if self.bias else {})

    def reset_parameters(self) -> None:
        r"""``nn.Linear``'s initialisation of each layer's map: :math:`U(\pm 1/\sqrt{k H_{in}})`."""
        for name in self._weight_names:
            fan_in = getattr(self, name.replace("bias_", "weight_", 1)).size(1)
            bound = 1.0 / math.sqrt(fan_in)
            nn.init.uniform_(getattr(self, name), -bound, bound)

    def _project(self, x: Tensor, weights: Weights, prev: Tensor | None = None) -> Tensor:
        """The masked convolution over the time-major ``x`` (``(L, N, H_in)``) as one matrix
        product: step ``t`` reads ``[x_{t-k+1}, ..., x_t]``, with ``prev`` (``(k - 1, N, H_in)``)
        or zeros before the first step."""
        if self.window > 1:
            if prev is None:
                prev = x.new_zeros((self.window - 1, *x.shape[1:]))
            padded = torch.cat([prev, x])
            x = torch.cat([padded[j : j + x.size(0)] for j in range(self.window)], -1)
        return F.linear(x, weights["weight_ih"], weights.get("bias_ih"))

    def _run_layer(
        self, x: Tensor, state: State, weights: Weights, mask: Tensor | None, index: int
    ) -> tuple[Tensor, State]:
        """Layer-direction ``index`` (``layer * D + direction``) over the time-major ``x``: the
        convolution (with the kept steps under ``save_prev_x``) and the pooling."""
        if mask is not None and self.save_prev_x:
            raise ValueError("QRNN: save_prev_x needs full-length sequences, not a PackedSequence")
        prev = None
        if self.save_prev_x and self.window > 1:  # unidirectional, so index == layer
            prev = self._prev_x[index]
            if prev is not None and prev.shape[1:] != x.shape[1:]:
                raise ValueError(
                    f"QRNN: save_prev_x kept steps of shape {tuple(prev.shape[1:])} (N, H_in), but this input has "
                    f"{tuple(x.shape[1:])}; call reset() before a batch of another size"
                )
            kept = x.new_zeros((self.window - 1, *x.shape[1:])) if prev is None else prev
            # Gradients stop at the call boundary, as with truncated backpropagation through time.
            self._prev_x[index] = torch.cat([kept, x])[-(self.window - 1) :].detach()
        return self._scan(self._project(x, weights, prev), state, weights, mask)

    def _scan(self, gates_x: Tensor, state: State, weights: Weights, mask: Tensor | None) -> tuple[Tensor, State]:
        """The pooling of Sec. 2 over the gate pre-activations ``(L, N, G * H)``; a masked step
        (past a sequence's end) keeps the memory: ``f = 1``, ``x = 0``."""
        gates = gates_x.chunk(self.num_gates, -1)
        z = torch.tanh(gates[0])
        f = _zoneout_forget(torch.sigmoid(gates[1]), self.zoneout, self.training)
        x = torch.sigmoid(gates[3]) * z if self.pooling == "ifo" else (1 - f) * z
        if mask is not None:
            f, x = f.masked_fill(~mask, 1.0), x.masked_fill(~mask, 0.0)
        c = forget_mult(f, x, state[0])
        h = c if self.pooling == "f" else torch.sigmoid(gates[2]) * c
        return h, (c[-1],)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        for name, default in (("window", 1), ("pooling", "fo"), ("zoneout", 0.0), ("save_prev_x", False)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)!r}"
        return s
