r"""The networks of Li, Li, Cook, Zhu & Gao (CVPR 2018), built on :class:`shared.models.cells.IndRNN`.

Each IndRNN layer computes (Eq. 2)

.. math::

    h_t = \mathrm{ReLU}(W x_t + u \odot h_{t-1} + b),

with the recurrent weight :math:`u` a vector, bounded after every optimizer step by
:math:`|u_n| \le \gamma^{1/T}` (Sec. 3.1: the gradient reaching step :math:`t` scales with
:math:`u_n^{T-t}`, Eq. 4; :math:`\gamma = 2`: ``MAG`` of the official code;
:class:`RecurrentWeightBound`). A deep IndRNN (Sec. 4.1, Fig. 1(a)) stacks "Weight, BN,
Recurrent+ReLU" blocks: batch normalisation sits between each layer's input projection
:math:`W x_t + b` and its recurrence (the official Theano code's default, ``--use_bn_afterrnn``
off), which :class:`NormalizedIndRNN` implements by overriding the stack's input projection.

Initialisation, as the official Theano/Lasagne scripts (``IndRNN_Theano_Lasagne``; the paper does
not state it):

* :math:`u \sim U(0, \gamma^{1/T})`; the last layer, whose last state is the only output in the
  adding problem and pixel MNIST, :math:`u \sim U(\gamma^{-1/T}, \gamma^{1/T})` (long memory
  from the start; ``adding.py``, ``pixelmnist.py``);
* :math:`W \sim \mathcal{N}(0, 0.001^2)` in the adding problem (``--in2hidW``); in the deep models
  Lasagne's ``HeNormal(gain=sqrt(2)/2)``, :math:`W \sim \mathcal{N}(0, 1 / (2 H_{in}))`;
* :math:`b = 0`; BN: :math:`\gamma = 1, \beta = 0`, Lasagne's ``epsilon = 1e-4`` and running-average
  rate ``alpha = 0.1``.

Batch normalisation (:class:`FrameBatchNorm`) comes in the official code's two forms: statistics
over batch *and* time (pixel MNIST: ``BatchNormLayer(axes=(0, 1))``; the "frame-wise" BN of
Laurent et al. 2016), or per time step over the batch (char-level PTB: ``BatchNorm_step_timefirst``,
one running mean and variance per step of the window, the scale and shift shared).

The baselines of the adding problem (Sec. 5.1: "RNN, LSTM, and IRNN are all one layer ... 128
hidden units") are one ``tanh`` RNN or LSTM layer of 128 units, initialised as Lasagne initialises
them in ``adding.py``: RNN :math:`W_{ih} \sim \mathcal{N}(0, 0.001^2)`,
:math:`W_{hh} \sim U(\pm 0.01)`, :math:`b = 0`; LSTM every weight :math:`\sim \mathcal{N}(0, 0.1^2)`,
biases 0 but the forget gate's 1 (no peepholes here: a deviation, ``paper.yaml``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from shared.models.cells import LSTM, RNN, IndRNN
from shared.models.cells.base import Weights
from shared.models.cells.indrnn import bounded_modules
from shared.models.regularize import LockedDropout

#: ``norm``: no batch normalisation, statistics over batch and time, or per time step.
NORMS = ("none", "frame", "step")
#: Lasagne's BatchNormLayer defaults, which the official code keeps.
BN_EPS, BN_MOMENTUM = 1e-4, 0.1


class FrameBatchNorm(nn.Module):
    """Batch normalisation of time-major sequences ``(L, N, H)`` over their ``H`` features.

    ``steps=None``: the mean and variance of each feature over all ``L x N`` frames (one running
    average). ``steps=S``: over the ``N`` sequences at each step ``t < S`` separately, with a
    running average per step (a window shorter than ``S`` uses the first ``L``). The scale and
    shift are one per feature in both forms.
    """

    def __init__(self, num_features: int, steps: int | None = None) -> None:
        super().__init__()
        if steps is not None and steps < 1:
            raise ValueError(f"steps must be >= 1 or None, got {steps}")
        self.steps = steps
        stat_shape = (num_features,) if steps is None else (steps, num_features)
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(stat_shape))
        self.register_buffer("running_var", torch.ones(stat_shape))

    def forward(self, x: Tensor) -> Tensor:
        if self.steps is None:
            flat = F.batch_norm(
                x.reshape(-1, x.size(-1)),
                self.running_mean,
                self.running_var,
                self.weight,
                self.bias,
                self.training,
                BN_MOMENTUM,
                BN_EPS,
            )
            return flat.view_as(x)
        length = x.size(0)
        if length > self.steps:
            raise ValueError(f"a window of {length} steps is longer than the {self.steps} steps normalised")
        if self.training:
            mean, var = x.mean(1), x.var(1, unbiased=False)
            with torch.no_grad():
                self.running_mean[:length].lerp_(mean, BN_MOMENTUM)
                self.running_var[:length].lerp_(x.var(1, unbiased=True) if x.size(1) > 1 else var, BN_MOMENTUM)
        else:
            mean, var = self.running_mean[:length], self.running_var[:length]
        normalized = (x - mean.unsqueeze(1)) * torch.rsqrt(var.unsqueeze(1) + BN_EPS)
        return normalized * self.weight + self.bias

    def extra_repr(self) -> str:
        return f"{self.weight.numel()}, steps={self.steps}"


class NormalizedIndRNN(IndRNN):
    """One IndRNN layer with batch normalisation between its input projection and its recurrence
    (Fig. 1(a), "Weight, BN, Recurrent+ReLU"): :math:`h_t = \\mathrm{ReLU}(\\mathrm{BN}(W x_t + b)
    + u \\odot h_{t-1})`. The projection of all steps is normalised at once, before the loop."""

    def __init__(self, input_size: int, hidden_size: int, norm: FrameBatchNorm, **kwargs: Any) -> None:
        super().__init__(input_size, hidden_size, **kwargs)
        self.norm = norm

    def _project(self, x: Tensor, weights: Weights) -> Tensor:
        return self.norm(super()._project(x, weights))


class DeepIndRNN(nn.Module):
    r"""``layers`` IndRNN layers of ``hidden`` units (Sec. 4.1), batch-first.

    Args:
        input_size, hidden, layers: the sizes.
        bound_steps: :math:`T` of the bound :math:`\gamma^{1/T}` (the sequence length, or for a
            language model read with its state carried, the length of the training stream).
        gamma: :math:`\gamma` (2: the official ``MAG``).
        norm: ``"none"``, ``"frame"`` or ``"step"`` (:class:`FrameBatchNorm`; ``"step"`` needs
            ``window``, the longest window normalised).
        input_std: std of the normal initialisation of each :math:`W`; ``None``: Lasagne's
            ``HeNormal(gain=sqrt(2)/2)``, :math:`\sqrt{1 / (2 H_{in})}`.
        last_near_one: the last layer's :math:`u \sim U(\gamma^{-1/T}, \gamma^{1/T})`.
        dropout: dropout after every layer, one mask per sequence for all its steps (the official
            char-PTB code's ``DropoutLayer(shared_axes=(0,))``).

    ``forward(x (N, L, H_in), state)`` returns the last layer's output ``(N, L, hidden)`` and the
    state, a tuple of one ``(1, N, hidden)`` tensor per layer (``None``: zeros).
    """

    def __init__(
        self,
        input_size: int,
        hidden: int,
        layers: int,
        bound_steps: int,
        gamma: float = 2.0,
        norm: str = "none",
        window: int | None = None,
        input_std: float | None = None,
        last_near_one: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if norm == "step" and window is None:
            raise ValueError("norm 'step' needs the window length (one running average per step)")
        bound = IndRNN.recurrent_bound(bound_steps, gamma)
        self.layers = nn.ModuleList()
        for k in range(layers):
            in_size = input_size if k == 0 else hidden
            low = 1.0 / bound if last_near_one and k == layers - 1 else 0.0
            options = {"batch_first": True, "recurrent_max_abs": bound, "recurrent_init": (low, bound)}
            if norm == "none":
                layer = IndRNN(in_size, hidden, **options)
            else:
                norm_module = FrameBatchNorm(hidden, window if norm == "step" else None)
                layer = NormalizedIndRNN(in_size, hidden, norm_module, **options)
            std = input_std if input_std is not None else math.sqrt(1.0 / (2 * in_size))
            nn.init.normal_(layer.weight_ih_l0, 0.0, std)
            self.layers.append(layer)
        self.drop = LockedDropout(dropout, batch_first=True) if dropout else None

    def forward(self, x: Tensor, state: tuple[Tensor, ...] | None = None) -> tuple[Tensor, tuple[Tensor, ...]]:
        final = []
        for k, layer in enumerate(self.layers):
            x, h = layer(x, None if state is None else state[k])
            if self.drop is not None:
                x = self.drop(x)
            final.append(h)
        return x, tuple(final)


class RecurrentWeightBound:
    """Trainer hook (:mod:`shared.train.hooks`): after every optimizer step, clamp each bounded
    IndRNN's :math:`u` into :math:`[-\\gamma^{1/T}, \\gamma^{1/T}]` (Sec. 3.1), as the official
    code's ``np.clip`` before each training step does (the same constraint, one step earlier)."""

    def __init__(self, model: nn.Module) -> None:
        self.bounded = bounded_modules(model)  # none is an error: a bound with nothing to bound

    def after_step(self, trainer: Any) -> None:
        for module in self.bounded:
            module.clip_recurrent_weights_()


def baseline_rnn(arch: str, input_size: int, hidden: int) -> nn.Module:
    """One ``tanh`` RNN or LSTM layer (batch-first), initialised as Lasagne in the official
    ``adding.py`` (module docstring)."""
    if arch == "rnn":
        rnn = RNN(input_size, hidden, batch_first=True)
        nn.init.normal_(rnn.weight_ih_l0, 0.0, 0.001)
        nn.init.uniform_(rnn.weight_hh_l0, -0.01, 0.01)
        nn.init.zeros_(rnn.bias_ih_l0)
        nn.init.zeros_(rnn.bias_hh_l0)
        return rnn
    if arch == "lstm":
        lstm = LSTM(input_size, hidden, batch_first=True)
        with torch.no_grad():
            for name, p in lstm.named_parameters():
                if name.startswith("weight"):
                    nn.init.normal_(p, 0.0, 0.1)
                else:
                    nn.init.zeros_(p)
            lstm.bias_ih_l0[hidden : 2 * hidden] = 1.0  # torch's gate order i, f, g, o: the forget gate
        return lstm
    raise ValueError(f"arch must be 'rnn' or 'lstm', got {arch!r}")


class LastStepRegressor(nn.Module):
    """A recurrent encoder read at its last step by a linear layer: the adding problem's sum
    (Sec. 5.1) or pixel MNIST's 10 logits (Sec. 5.2)."""

    def __init__(self, encoder: nn.Module, hidden: int, outputs: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(hidden, outputs)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(x)[0][:, -1])


class CharLanguageModel(nn.Module):
    """Char-level PTB (Sec. 5.3.1): an embedding of ``hidden`` units, the deep IndRNN, and a linear
    layer to the vocabulary at every step; ``forward(tokens (N, L), state) -> (logits, state)``."""

    def __init__(self, vocab_size: int, hidden: int, encoder: DeepIndRNN) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden)
        self.encoder = encoder
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, tokens: Tensor, state: tuple[Tensor, ...] | None = None) -> tuple[Tensor, tuple[Tensor, ...]]:
        output, state = self.encoder(self.embedding(tokens), state)
        return self.head(output), state
