"""Optimizers by name: ``train.optimizer`` in a params.yaml is a key of one registry.

A paper that needs an optimizer the built-ins do not cover registers it from its own package
(``register_optimizer("name", factory)``, at import time, before its configuration is loaded)
instead of editing this module. An entry may also name the trainer hooks the optimizer needs
(see :mod:`shared.train.hooks`), e.g. to evaluate with averaged weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from shared.train.hooks import EvaluateWithASGDAverage
from shared.train.nt_asgd import NTASGD

if TYPE_CHECKING:
    from shared.train.config import TrainConfig

OptimizerFactory = Callable[[list[torch.nn.Parameter], "TrainConfig"], torch.optim.Optimizer]
HooksFactory = Callable[["TrainConfig"], list[Any]]


def _no_hooks(cfg: TrainConfig) -> list[Any]:
    return []


@dataclass(frozen=True)
class RegisteredOptimizer:
    """A registry entry: how to build the optimizer, and the hooks the trainer must run with it."""

    factory: OptimizerFactory
    hooks: HooksFactory = _no_hooks


_REGISTRY: dict[str, RegisteredOptimizer] = {}


def register_optimizer(name: str, factory: OptimizerFactory, hooks: HooksFactory | None = None) -> None:
    """Make ``train.optimizer: name`` build ``factory(params, cfg)``.

    ``params`` are the model's trainable parameters in ``model.parameters()`` order. ``hooks``,
    when given, returns the trainer hooks the optimizer needs (they run after the hooks passed to
    the trainer). Registering a taken name is an error, so that no import silently replaces
    another paper's (or a built-in) optimizer.
    """
    if name in _REGISTRY:
        raise ValueError(f"optimizer {name!r} is already registered")
    _REGISTRY[name] = RegisteredOptimizer(factory, hooks or _no_hooks)


def registered_optimizers() -> tuple[str, ...]:
    """The names ``train.optimizer`` accepts now, in registration order."""
    return tuple(_REGISTRY)


def lookup_optimizer(name: str) -> RegisteredOptimizer:
    """The entry registered under ``name``; an unknown name is an error that lists the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(_REGISTRY)
        raise ValueError(f"optimizer {name!r} is not registered (known: {known})") from None


def _adam(params: list[torch.nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _sgd(params: list[torch.nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(
        params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, nesterov=cfg.nesterov
    )


def _rmsprop(params: list[torch.nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def _adadelta(params: list[torch.nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    """Zeiler's (2012, "ADADELTA: an adaptive learning rate method") rho = 0.95 and eps = 1e-6,
    not torch's defaults (0.9, 1e-6); lr 1 is Zeiler's update rule without a step-size factor."""
    return torch.optim.Adadelta(params, lr=cfg.lr, rho=0.95, eps=1e-6, weight_decay=cfg.weight_decay)


def _asgd(params: list[torch.nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    """Averaged SGD from the first step: ``t0=0`` starts the average at once and ``lambd=0``
    keeps the step size at ``lr`` (no ``1/(1 + lambd lr t)^alpha`` decay), so the parameters
    follow plain SGD and ``state[p]["ax"]`` is the mean of every iterate. The trainer evaluates
    (and keeps as ``best.pt``) that mean, through :class:`EvaluateWithASGDAverage`.

    torch's ASGD stores its step size and refreshes it from ``lr`` after each step, so a change
    of lr by the schedule takes effect one step late; momentum is not used.
    """
    return torch.optim.ASGD(params, lr=cfg.lr, lambd=0.0, t0=0.0, weight_decay=cfg.weight_decay)


register_optimizer("adam", _adam)
register_optimizer("sgd", _sgd)
register_optimizer("rmsprop", _rmsprop)
register_optimizer("adadelta", _adadelta)
register_optimizer("asgd", _asgd, hooks=lambda cfg: [EvaluateWithASGDAverage()])
# NT-ASGD trains with plain SGD (momentum 0, the default, is the method as published); the
# averaging and its trigger are the NTASGD hook's.
register_optimizer("nt_asgd", _sgd, hooks=lambda cfg: [NTASGD(cfg.nonmono, cfg.finetune_after)])
