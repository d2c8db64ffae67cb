"""The schema of ``papers/dilated_rnn/params.yaml``: one :class:`TaskConfig` per task and profile,
and the optimizer of the official demo (``train.optimizer: rmsprop_tf``).

Two kinds of task, named by ``data.kind``:

* ``copy_memory``: recall 10 symbols after ``seq_len`` = T blanks (Sec. 4.1;
  :class:`shared.tasks.synthetic.CopyMemory`), one prediction per step;
* ``mnist``: pixel-by-pixel MNIST, unpermuted or permuted (Sec. 4.2;
  :class:`shared.tasks.classification.PixelMnist`), one prediction from the last step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch

from papers.dilated_rnn.model import CELLS, dilations
from shared.core.config import at_least_one
from shared.train.config import TrainConfig
from shared.train.optimizers import register_optimizer

DATA_KINDS = ("copy_memory", "mnist")
#: Steps of a pixel-MNIST sequence; a copy-memory sequence has T + 20.
MNIST_STEPS = 784
COPY_EXTRA_STEPS = 20
#: The official demo's optimizer, ``tf.train.RMSPropOptimizer(1e-3, 0.9)``.
RMSPROP_TF = "rmsprop_tf"


class TFRMSprop(torch.optim.Optimizer):
    r"""RMSProp as TensorFlow 1.x's ``RMSPropOptimizer`` computes it (the official demo uses
    ``decay = 0.9``, momentum 0, the default ``epsilon = 1e-10``):

    .. math::

        m_t = \rho\, m_{t-1} + (1 - \rho)\, g_t^2, \qquad
        w_t = w_{t-1} - \eta\, g_t / \sqrt{m_t + \epsilon},

    with :math:`m_0 = 1`, where torch's ``RMSprop`` starts at :math:`m_0 = 0` and adds
    :math:`\epsilon` outside the root. Starting at 1 makes the first steps about
    :math:`\eta g` instead of :math:`\eta\, g / \sqrt{(1 - \rho) g^2} \approx 3.2\,\eta` per
    parameter: a built-in warm-up of some tens of steps.
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, decay: float = 0.9, eps: float = 1e-10) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay: {decay} is not in [0, 1)")
        super().__init__(params, {"lr": lr, "decay": decay, "eps": eps})

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["ms"] = torch.ones_like(p)
                ms = state["ms"]
                ms.mul_(group["decay"]).addcmul_(p.grad, p.grad, value=1.0 - group["decay"])
                p.addcdiv_(p.grad, (ms + group["eps"]).sqrt_(), value=-group["lr"])
        return loss


def _rmsprop_tf(params: list[torch.nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    return TFRMSprop(params, lr=cfg.lr)


register_optimizer(RMSPROP_TF, _rmsprop_tf)


@dataclass
class ModelConfig:
    """``layers`` recurrent layers of ``hidden`` units of one ``cell`` (``rnn``, ``lstm``, ``gru``:
    TensorFlow's ``BasicRNNCell``, ``BasicLSTMCell``, ``GRUCell``); ``dilated`` gives layer ``l``
    the dilation ``2**(l-1)`` (1, 2, ..., 256 for 9 layers), else every dilation is 1 (the plain
    stack of equal size)."""

    cell: str = "gru"
    hidden: int = 20
    layers: int = 9
    dilated: bool = True

    def validate(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"model.cell: {self.cell!r} is not one of {', '.join(CELLS)}")
        at_least_one(self, "model", ("hidden", "layers"))


@dataclass
class DataConfig:
    """``copy_memory``: ``seq_len`` is T (the blank length; sequences have T + 20 steps),
    ``n_train``/``n_test`` sequences drawn from the run's seed. ``mnist``: ``permute`` applies one
    fixed random pixel order drawn from ``permute_seed`` (the demo's seed, 92916, through torch's
    generator). ``limit_*`` shrink the data for smoke runs."""

    kind: str
    seq_len: int | None = None
    n_train: int | None = None
    n_test: int | None = None
    permute: bool = False
    permute_seed: int = 92916
    eval_batch_size: int = 500
    limit_train: int | None = None
    limit_eval: int | None = None

    def validate(self) -> None:
        if self.kind not in DATA_KINDS:
            raise ValueError(f"data.kind: {self.kind!r} is not one of {DATA_KINDS}")
        if self.kind == "copy_memory":
            missing = [k for k in ("seq_len", "n_train", "n_test") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"data.{missing[0]} is required for data.kind copy_memory")
            if self.permute:
                raise ValueError("data.permute: only pixel MNIST (data.kind mnist) is permuted")
        else:
            given = [k for k in ("seq_len", "n_train", "n_test") if getattr(self, k) is not None]
            if given:
                raise ValueError(
                    f"data.{given[0]}: not a setting of data.kind mnist (784 steps, the 60,000 / 10,000 "
                    "images; use limit_train / limit_eval to shrink it)"
                )
        at_least_one(self, "data", ("seq_len", "n_train", "n_test", "eval_batch_size", "limit_train", "limit_eval"))

    @property
    def steps(self) -> int:
        """Length of every sequence of the task."""
        return MNIST_STEPS if self.kind == "mnist" else self.seq_len + COPY_EXTRA_STEPS


@dataclass
class TaskConfig:
    """Everything one (task, profile) run needs."""

    data: DataConfig
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1))

    def validate(self) -> None:
        # The official drnn.py refuses a dilation that is not below the sequence length: such a
        # layer's sub-sequences are one step long, so it has no recurrence at all.
        top = dilations(self.model.layers, self.model.dilated)[-1]
        if top >= self.data.steps:
            raise ValueError(
                f"model.layers: {self.model.layers} dilated layers reach dilation {top}, not below the "
                f"{self.data.steps} steps of a sequence (that layer would have no recurrence)"
            )
        if self.train.optimizer == RMSPROP_TF and (self.train.momentum or self.train.weight_decay):
            raise ValueError("train.momentum, train.weight_decay: rmsprop_tf has neither (the official demo's RMSProp)")
