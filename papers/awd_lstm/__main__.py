"""``python -m papers.awd_lstm train <task> [--profile smoke|cpu|paper]``; ``python -m papers.awd_lstm tasks``."""

from __future__ import annotations

from pathlib import Path

import torch

from papers.awd_lstm.config import TaskConfig
from papers.awd_lstm.model import RECURRENT_LAYERS
from shared.models.awd_language_model import AWDLanguageModel
from shared.run import experiment
from shared.tasks.cache_pointer import CachePointer
from shared.tasks.language_model import AWDRecipeLanguageModel, awd_recipe_task

PARAMS = Path(__file__).resolve().parent / "params.yaml"


def build_task(cfg: TaskConfig, seed: int, device: torch.device) -> AWDRecipeLanguageModel:
    """Merity et al. (2018), Sec. 4-5 and the official main.py: stateful BPTT of variable length
    with the lr scaled to each window, AR and TAR; validation in 10 streams, test in 1, scored also
    with the cache pointer when ``pointer.window`` is set (Sec. 6)."""
    p = cfg.pointer
    pointer = CachePointer(p.window, p.theta, p.lambdah) if p.window else None
    return awd_recipe_task(cfg.data, cfg.loss, cfg.train.batch_size, device, pointer=pointer)


def build_model(cfg: TaskConfig, task: AWDRecipeLanguageModel) -> AWDLanguageModel:
    return cfg.model.build(task.vocab_size, RECURRENT_LAYERS[cfg.model.rnn])


PAPER = experiment.Paper(
    key="awd_lstm", folder=PARAMS.parent, schema=TaskConfig, build_task=build_task, build_model=build_model
)

if __name__ == "__main__":
    raise SystemExit(experiment.main(PAPER))
