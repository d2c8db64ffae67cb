"""``python -m papers.indrnn train <task> [--profile smoke|cpu|paper]``; ``python -m papers.indrnn tasks``.

The experiments of Li et al. (2018, Sec. 5) and the task family of :mod:`shared.tasks` each uses,
set up as the official Theano/Lasagne scripts set them up:

* ``adding``: the adding problem with fresh random data (Sec. 5.1: "generated randomly throughout
  the experiments"), one marker in each half of the sequence (``adding.py``'s generator);
* ``mnist``: pixel and permuted pixel MNIST (Sec. 5.2);
* ``language_model``: char-level PTB read as 128 contiguous streams in non-overlapping windows,
  the state carried from window to window and reset every epoch (Sec. 5.3.1,
  ``penntree_charlevel_rernn.py``); validation and test read the same way.

Every IndRNN is trained with its recurrent weights clamped after each optimizer step
(:class:`papers.indrnn.model.RecurrentWeightBound`, a trainer hook).
"""

from pathlib import Path
from typing import Any

import torch
from torch import nn

from papers.indrnn.config import TaskConfig
from papers.indrnn.model import (
    CharLanguageModel,
    DeepIndRNN,
    LastStepRegressor,
    RecurrentWeightBound,
    baseline_rnn,
)
from shared.run.experiment import Paper, main
from shared.tasks.base import Task
from shared.tasks.classification import PixelMnist
from shared.tasks.language_model import StatefulLanguageModel
from shared.tasks.synthetic import AddingProblem

#: Pixel MNIST's sequence length, the T of its bound.
MNIST_STEPS = 784


def build_task(cfg: TaskConfig, seed: int, device: torch.device) -> Task:
    d, batch_size = cfg.data, cfg.train.batch_size
    if d.kind == "adding":
        return AddingProblem(
            d.seq_len,
            d.n_train,
            d.n_test,
            batch_size,
            seed,
            device,
            d.eval_batch_size,
            d.limit_train,
            d.limit_eval,
            fresh_train=True,
            one_per_half=True,
        )
    if d.kind == "mnist":
        return PixelMnist(batch_size, device, d.permute, d.permute_seed, d.eval_batch_size, d.limit_train, d.limit_eval)
    # Evaluated as trained: batch_size streams in windows of seq_len (the per-step batch
    # normalisation has running statistics for seq_len steps only).
    return StatefulLanguageModel(
        d.dataset, d.seq_len, batch_size, device, d.seq_len, d.limit_train, d.limit_eval, batch_size, batch_size
    )


def bound_steps(cfg: TaskConfig, task: Task) -> int:
    """The T of the bound: ``model.bound_steps``, else the task's sequence length (for a language
    model, whose state is carried through the epoch, the length of a training stream times the
    number of streams, the official code's ``len(train_data)``)."""
    if cfg.model.bound_steps is not None:
        return cfg.model.bound_steps
    if cfg.data.kind == "adding":
        return cfg.data.seq_len
    if cfg.data.kind == "mnist":
        return MNIST_STEPS
    return task.train.numel()


def build_model(cfg: TaskConfig, task: Task) -> nn.Module:
    m = cfg.model
    if m.arch != "indrnn":
        return LastStepRegressor(baseline_rnn(m.arch, task.input_size, m.hidden), m.hidden, task.output_size)
    language_model = cfg.data.kind == "language_model"
    encoder = DeepIndRNN(
        m.hidden if language_model else task.input_size,
        m.hidden,
        m.layers,
        bound_steps(cfg, task),
        m.gamma,
        m.norm,
        cfg.data.seq_len,
        m.input_std,
        m.last_near_one,
        m.dropout,
    )
    if language_model:
        return CharLanguageModel(task.vocab_size, m.hidden, encoder)
    return LastStepRegressor(encoder, m.hidden, task.output_size)


def build_hooks(cfg: TaskConfig, model: nn.Module) -> list[Any]:
    """The bound on the recurrent weights, for the IndRNN (the baselines are unconstrained)."""
    return [RecurrentWeightBound(model)] if cfg.model.arch == "indrnn" else []


PAPER = Paper(
    key="indrnn",
    folder=Path(__file__).resolve().parent,
    schema=TaskConfig,
    build_task=build_task,
    build_model=build_model,
    hooks=build_hooks,
)

if __name__ == "__main__":
    raise SystemExit(main(PAPER))
