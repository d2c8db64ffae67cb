"""``python -m papers.tcn train <task> [--profile smoke|cpu|paper]``; ``python -m papers.tcn tasks``.

The experiments of Bai, Kolter & Koltun (2018, Sec. 4, Table 1): which task family of
:mod:`shared.tasks` each ``data.kind`` of ``params.yaml`` uses, set up as the TCN reference code
sets it up, and the model (the TCN or a recurrent baseline under the task's output layer).
"""

from pathlib import Path

import torch
from torch import nn

from papers.tcn.baselines import RecurrentEncoder
from papers.tcn.config import ModelConfig, TaskConfig
from papers.tcn.model import TCN, LanguageModel, LinearHead
from shared.run.experiment import Paper, main
from shared.tasks.base import Task
from shared.tasks.classification import PixelMnist
from shared.tasks.language_model import WindowedLanguageModel
from shared.tasks.music import PolyphonicMusic
from shared.tasks.synthetic import AddingProblem, CopyMemory

#: Tasks read out from the last step only; the others at every step.
LAST_STEP_KINDS = ("adding", "mnist")


def build_task(cfg: TaskConfig, seed: int, device: torch.device) -> Task:
    """The task family of ``cfg.data.kind``, with the reference code's protocol."""
    d, batch_size = cfg.data, cfg.train.batch_size
    limits = {"limit_train": d.limit_train, "limit_eval": d.limit_eval}
    if d.kind in ("adding", "copy_memory"):
        family = AddingProblem if d.kind == "adding" else CopyMemory
        return family(d.seq_len, d.n_train, d.n_test, batch_size, seed, device, d.eval_batch_size, **limits)
    if d.kind == "mnist":
        return PixelMnist(batch_size, device, d.permute, d.permute_seed, d.eval_batch_size, **limits)
    if d.kind == "poly_music":
        # One piece per step, the loss summed over its frames; evaluated piece by piece.
        return PolyphonicMusic(d.dataset, batch_size, device, "pieces", "sum", **limits)
    return WindowedLanguageModel(d.dataset, d.seq_len, batch_size, device, d.valid_len, d.eval_batch_size, **limits)


def build_encoder(cfg: ModelConfig, input_size: int, last_width: int | None = None) -> nn.Module:
    """``last_width`` sets the TCN's last level apart (the width a tied decoder needs)."""
    if cfg.arch == "tcn":
        channels = [cfg.hidden] * (cfg.levels - 1) + [last_width or cfg.hidden]
        return TCN(input_size, channels, cfg.kernel_size, cfg.dropout)
    return RecurrentEncoder(cfg.arch, input_size, cfg.hidden, cfg.levels, cfg.dropout, cfg.forget_bias)


def build_model(cfg: TaskConfig, task: Task) -> nn.Module:
    """The encoder of ``cfg.model`` under the task's output layer (or the language model)."""
    m = cfg.model
    if cfg.data.kind == "language_model":
        emb = m.emb_size or m.hidden
        # A tied TCN ends on a level of emb_size channels, as the reference code's language models do.
        encoder = build_encoder(m, emb, last_width=emb if m.tied else None)
        return LanguageModel(task.vocab_size, emb, encoder, m.tied, m.emb_dropout)
    return LinearHead(build_encoder(m, task.input_size), task.output_size, last_step=cfg.data.kind in LAST_STEP_KINDS)


PAPER = Paper(
    key="tcn", folder=Path(__file__).resolve().parent, schema=TaskConfig, build_task=build_task, build_model=build_model
)

if __name__ == "__main__":
    raise SystemExit(main(PAPER))
