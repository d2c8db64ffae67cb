r"""The independently recurrent neural network (Li, Li, Cook, Zhu & Gao, CVPR 2018): ``IndRNN`` and
``IndRNNCell``.

Every neuron has one recurrent weight, its own (Sec. 3):

.. math::

    h_t = \sigma(W x_t + u \odot h_{t-1} + b), \qquad \sigma \in \{\mathrm{ReLU}, \tanh\}

with :math:`u` a vector and :math:`\odot` the Hadamard product, so neuron :math:`n` sees only its
own past, :math:`h_{n,t} = \sigma(w_n x_t + u_n h_{n,t-1} + b_n)`; neurons of one layer interact
only through the next layer. The paper uses ReLU, which is the default here.

Constraint on the recurrent weights (Sec. 3): back-propagated through :math:`T - t` steps, the
gradient reaching :math:`h_{n,t}` is scaled by :math:`u_n^{T-t}` times the activation's
derivatives, which for ReLU are 0 or 1. Keeping that factor at most :math:`\gamma` (the largest
gradient ratio allowed) gives :math:`|u_n| \le \gamma^{1/(T-t)}`; over a whole sequence of
length :math:`T`, :math:`|u_n| \le \gamma^{1/T}`. The experiments use :math:`\gamma = 2`
(the official code's ``MAG``, used in the adding-problem experiments), i.e. :math:`|u_n| \le \sqrt[T]{2}`.
:meth:`IndRNN.recurrent_bound` computes the bound; ``recurrent_max_abs`` stores it on the module,
and :meth:`IndRNN.clip_recurrent_weights_` clamps :math:`u` into :math:`[-\text{bound},
\text{bound}]`, as the official code does with ``np.clip`` before every training step.
:func:`register_recurrent_clip` runs the clamp after every ``optimizer.step()``. The paper's
lower bound (against vanishing gradients) is not enforced; the official code only uses it to
initialise the last layer (see ``recurrent_init``).

Initialisation (as the official code):

* ``weight_hh`` :math:`\sim U(\text{low}, \text{high})` with ``recurrent_init = (low, high)``;
  default :math:`U(0, \text{recurrent\_max\_abs})`, or :math:`U(0, 1)` without a bound
  (IndRNN_pytorch/IndRNN_Theano_Lasagne READMEs: "Uniform(0,1) is used to make different
  neurons keep different kinds of memory"; their ``adding.py``/``Indrnn_plainnet.py`` use
  ``U(0, U_bound)``). Non-negative weights: a neuron forgets at its own rate, it does not flip sign
  at every step. For a last layer whose final state is the only output, the READMEs suggest
  weights near 1, :math:`(1 - \epsilon, 1 + \epsilon)` (long memory; ``adding.py`` draws
  :math:`U(\gamma^{-1/T}, \gamma^{1/T})`); set that layer's ``weight_hh_l{k}`` after construction.
* ``weight_ih`` :math:`\sim` ``kaiming_uniform_(a=8, mode="fan_in")``, i.e.
  :math:`U(\pm\sqrt{6 / (65\, H_{in})})`, as IndRNN_pytorch's ``init_weights``. (The CVPR
  adding-problem script draws :math:`W \sim \mathcal{N}(0, 10^{-6})`, std 0.001; a paper task
  re-initialises where it follows that script.)
* ``bias_ih`` :math:`= 0` (both official codes).

Parameters: ``weight_ih_l{k}`` ``(H, H_in)`` (``(H, D * H)`` for ``k > 0``), ``weight_hh_l{k}``
``(H)`` (the vector :math:`u`), ``bias_ih_l{k}`` ``(H)`` (:math:`b`); ``_reverse`` for the
backward direction. There is no ``bias_hh``: the equation has one bias, and a second would only
add a redundant copy of it. Runs on the loop path of :class:`~shared.models.cells.base.RecurrentStack`
(torch has no kernel for a diagonal recurrence); the input projection of all time steps is one
matrix product, the loop does only element-wise work.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.utils.hooks import RemovableHandle

from shared.models.cells.base import RecurrentCell, RecurrentModule, RecurrentStack, State, Weights

NONLINEARITIES = ("relu", "tanh")


def indrnn_step(gates_x: Tensor, h: Tensor, weight_hh: Tensor, *, nonlinearity: str = "relu") -> Tensor:
    r"""One IndRNN step, :math:`\sigma(\text{gates\_x} + u \odot h)`, from ``gates_x = W x_t + b``."""
    pre = torch.addcmul(gates_x, weight_hh, h)
    return torch.relu(pre) if nonlinearity == "relu" else torch.tanh(pre)


class _IndRNNRecurrence(RecurrentModule):
    """The recurrence shared by :class:`IndRNN` and :class:`IndRNNCell`."""

    nonlinearity: str
    recurrent_max_abs: float | None
    recurrent_init: tuple[float, float]

    def _set_options(
        self, nonlinearity: str, recurrent_max_abs: float | None, recurrent_init: tuple[float, float] | None
    ) -> None:
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
        if recurrent_max_abs is not None and (
            not isinstance(recurrent_max_abs, numbers.Real)
            or isinstance(recurrent_max_abs, bool)
            or not 0 < recurrent_max_abs < math.inf
        ):
            raise ValueError(f"recurrent_max_abs must be a positive finite number or None, got {recurrent_max_abs!r}")
        if recurrent_init is None:
            recurrent_init = (0.0, 1.0 if recurrent_max_abs is None else float(recurrent_max_abs))
        if len(recurrent_init) != 2 or not recurrent_init[0] <= recurrent_init[1]:
            raise ValueError(f"recurrent_init must be a range (low, high) with low <= high, got {recurrent_init!r}")
        low, high = (float(v) for v in recurrent_init)
        # An initial weight outside the bound would be clipped at the first step anyway; say so now.
        if recurrent_max_abs is not None and max(-low, high) > recurrent_max_abs:
            raise ValueError(
                f"recurrent_init {recurrent_init!r} reaches outside [-recurrent_max_abs, recurrent_max_abs] "
                f"with recurrent_max_abs={recurrent_max_abs}"
            )
        self.nonlinearity = nonlinearity
        self.recurrent_max_abs = None if recurrent_max_abs is None else float(recurrent_max_abs)
        self.recurrent_init = (low, high)

    def _parameter_shapes(self, input_size: int) -> dict[str, tuple[int, ...]]:
        shapes = {"weight_ih": (self.hidden_size, input_size), "weight_hh": (self.hidden_size,)}
        return shapes | ({"bias_ih": (self.hidden_size,)} if self.bias else {})

    def _step(self, gates_x: Tensor, state: State, weights: Weights) -> State:
        return (indrnn_step(gates_x, state[0], weights["weight_hh"], nonlinearity=self.nonlinearity),)

    def reset_parameters(self) -> None:
        """The official code's initialisation (module docstring): ``weight_hh`` uniform in
        ``recurrent_init``, ``weight_ih`` Kaiming-uniform with ``a=8``, ``bias_ih`` zero."""
        for name in self._weight_names:
            weight = getattr(self, name)
            if name.startswith("weight_hh"):
                nn.init.uniform_(weight, *self.recurrent_init)
            elif name.startswith("weight_ih"):
                nn.init.kaiming_uniform_(weight, a=8, mode="fan_in")
            else:
                nn.init.zeros_(weight)

    @staticmethod
    def recurrent_bound(seq_len: int, gamma: float = 2.0) -> float:
        r"""The paper's bound :math:`\gamma^{1/T}` on :math:`|u_n|` for a ReLU IndRNN over ``seq_len``
        (:math:`T`) steps: the recurrent factor :math:`u_n^T` of the gradient stays at most
        :math:`\gamma`. ``gamma=2`` is the adding-problem experiments' choice."""
        if not isinstance(seq_len, int) or isinstance(seq_len, bool) or seq_len <= 0:
            raise ValueError(f"seq_len must be a positive int, got {seq_len!r}")
        if not gamma > 0:
            raise ValueError(f"gamma must be positive, got {gamma!r}")
        return gamma ** (1.0 / seq_len)

    def clip_recurrent_weights_(self) -> None:
        """Clamp every recurrent weight vector into ``[-recurrent_max_abs, recurrent_max_abs]``, in place.

        Call it after every optimizer step (or let :func:`register_recurrent_clip` do it).
        """
        if self.recurrent_max_abs is None:
            raise ValueError(f"{type(self).__name__}: no bound to clip to (recurrent_max_abs=None)")
        with torch.no_grad():
            for name in self._weight_names:
                if name.startswith("weight_hh"):
                    getattr(self, name).clamp_(-self.recurrent_max_abs, self.recurrent_max_abs)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        if self.nonlinearity != "relu":
            s += f", nonlinearity={self.nonlinearity!r}"
        if self.recurrent_max_abs is not None:
            s += f", recurrent_max_abs={self.recurrent_max_abs}"
        return s


class IndRNN(_IndRNNRecurrence, RecurrentStack):
    r"""A multi-layer IndRNN (Li et al. 2018, Sec. 3) with the API of ``nn.RNN``.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional: as
            :class:`~shared.models.cells.base.RecurrentStack` (``bias=False`` drops :math:`b`).
        nonlinearity: ``'relu'`` (the paper's) or ``'tanh'``. The bound of
            :meth:`recurrent_bound` is derived for ReLU.
        recurrent_max_abs: the bound on :math:`|u|` that :meth:`clip_recurrent_weights_` enforces,
            e.g. ``IndRNN.recurrent_bound(seq_len)``; ``None``: unconstrained.
        recurrent_init: range ``(low, high)`` of the uniform initialisation of :math:`u`; default
            ``(0, recurrent_max_abs)``, or ``(0, 1)`` without a bound.
        device, dtype: of the parameters, as in ``torch.nn``.

    Inputs: input, h_0 and Outputs: output, h_n as in ``RecurrentStack`` (one state tensor
    ``(num_layers * D, N, H)``). Parameters and initialisation: see :mod:`shared.models.cells.indrnn`.

    The constraint is not part of the forward: call :meth:`clip_recurrent_weights_` after every
    optimizer step, or once ``register_recurrent_clip(optimizer, model)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "relu",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        recurrent_max_abs: float | None = None,
        recurrent_init: tuple[float, float] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self._set_options(nonlinearity, recurrent_max_abs, recurrent_init)
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


class IndRNNCell(_IndRNNRecurrence, RecurrentCell):
    r"""One IndRNN step, :math:`h' = \sigma(W x + b + u \odot h)`, with the API of ``nn.RNNCell``.

    Args: ``input_size``, ``hidden_size``, ``bias=True``, ``nonlinearity='relu'``, and the keywords
    ``recurrent_max_abs``, ``recurrent_init`` of :class:`IndRNN`.

    Inputs: input ``(N, H_in)`` or ``(H_in)``, hx ``(N, H)`` or ``(H)`` (zeros when omitted).
    Outputs: h' ``(N, H)`` or ``(H)``. Parameters: ``weight_ih`` ``(H, H_in)``, ``weight_hh``
    ``(H)``, ``bias_ih`` ``(H)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "relu",
        *,
        recurrent_max_abs: float | None = None,
        recurrent_init: tuple[float, float] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self._set_options(nonlinearity, recurrent_max_abs, recurrent_init)
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)


def bounded_modules(module: nn.Module) -> list[IndRNN | IndRNNCell]:
    """Every ``IndRNN``/``IndRNNCell`` in ``module`` (``module`` itself included) that has a
    ``recurrent_max_abs``: what the constraint applies to. None is an error (a bound asked for
    where there is nothing to bound is a configuration mistake)."""
    bounded = [m for m in module.modules() if isinstance(m, _IndRNNRecurrence) and m.recurrent_max_abs is not None]
    if not bounded:
        raise ValueError(f"no IndRNN module with a recurrent_max_abs in {type(module).__name__}")
    return bounded


def register_recurrent_clip(optimizer: Optimizer, module: nn.Module) -> RemovableHandle:
    """Enforce the IndRNN bound after every ``optimizer.step()``.

    Registers an ``optimizer.register_step_post_hook`` that calls
    :meth:`IndRNN.clip_recurrent_weights_` on every ``IndRNN``/``IndRNNCell`` in ``module``
    (``module`` itself included) that has a ``recurrent_max_abs`` (:func:`bounded_modules`). Hooks
    are not part of an optimizer's ``state_dict``: register again after building an optimizer for a resumed run.

    Returns the handle; ``handle.remove()`` unregisters the hook.
    """
    bounded = bounded_modules(module)

    def clip(optimizer: Optimizer, args: tuple, kwargs: dict) -> None:
        for m in bounded:
            m.clip_recurrent_weights_()

    return optimizer.register_step_post_hook(clip)
