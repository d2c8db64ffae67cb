"""``python -m papers.lstm train <task> [--profile smoke|cpu|paper]``; ``python -m papers.lstm tasks``.

Online tasks (the 1997 experiments) run through :mod:`papers.lstm.trials`; the language model
through the shared loop (:func:`shared.run.experiment.run`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from papers.lstm import trials
from papers.lstm.config import SCHEMAS, LanguageModelTaskConfig, task_kind
from papers.lstm.model import ZarembaLM
from shared import results
from shared.core.config import load_task_config
from shared.run import experiment
from shared.tasks.language_model import StatefulLanguageModel


def build_task(cfg: LanguageModelTaskConfig, seed: int, device: torch.device) -> StatefulLanguageModel:
    """Zaremba et al. (2014, Sec. 4.1): truncated BPTT with the state carried across windows;
    validation and test read each split as one stream (batch size 1), as the authors' test run."""
    d = cfg.data
    return StatefulLanguageModel(
        d.dataset, d.seq_len, cfg.train.batch_size, device, d.eval_chunk, d.limit_train, d.limit_eval
    )


def build_model(cfg: LanguageModelTaskConfig, task: StatefulLanguageModel) -> ZarembaLM:
    m = cfg.model
    return ZarembaLM(task.vocab_size, m.hidden, m.layers, m.dropout, m.init_range)


def run_task(
    paper: experiment.Paper,
    task: str,
    profile: str,
    seeds: list[int] | None = None,
    results_path: Path | None = None,
    options: experiment.RunOptions = experiment.DEFAULT_OPTIONS,
) -> results.TaskResult:
    """Dispatch on the task's ``kind``: the shared loop or the 1997 trials."""
    kind = task_kind(paper.params_path, task)
    schema = SCHEMAS[kind]
    results_path = results_path or paper.default_results_path(task, profile, options.run_root)
    if kind == "language_model":
        lm_paper = dataclasses.replace(paper, schema=schema, runner=None)
        return experiment.run(lm_paper, task, profile, seeds, results_path, options)
    cfg = load_task_config(paper.params_path, task, profile, schema)
    return trials.run(paper, task, profile, cfg, results_path, seeds, options)


PAPER = experiment.Paper(
    key="lstm",
    folder=Path(__file__).resolve().parent,
    schema=LanguageModelTaskConfig,
    build_task=build_task,
    build_model=build_model,
    runner=run_task,
)

if __name__ == "__main__":
    raise SystemExit(experiment.main(PAPER))
