"""``python -m papers.lstm train <task> [--profile smoke|cpu|paper]``; ``python -m papers.lstm tasks``.

Online tasks (the 1997 experiments) run through :mod:`papers.lstm.trials`; the language model
through the shared loop (:func:`shared.experiment.run`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from papers.lstm import trials
from papers.lstm.config import SCHEMAS, LanguageModelTaskConfig, task_kind
from papers.lstm.language_model import PTBLanguageModelTask
from shared import experiment, results
from shared.config import load_task_config
from shared.paper_card import load_card


def build_task(cfg: LanguageModelTaskConfig, seed: int, device: torch.device) -> PTBLanguageModelTask:
    return PTBLanguageModelTask(cfg, seed, device)


def run_task(
    paper: experiment.Paper,
    task: str,
    profile: str,
    seeds: list[int] | None = None,
    results_path: Path | None = None,
    run_root: Path = experiment.RUN_ROOT,
    resume: bool = True,
    progress: bool = True,
) -> results.TaskResult:
    """Dispatch on the task's ``kind``: the shared loop or the 1997 trials."""
    kind = task_kind(paper.params_path, task)
    schema = SCHEMAS[kind]
    results_path = results_path or paper.default_results_path(task, profile)
    if kind == "language_model":
        lm_paper = dataclasses.replace(paper, schema=schema, runner=None)
        return experiment.run(lm_paper, task, profile, seeds, results_path, run_root, resume, progress)
    cfg = load_task_config(paper.params_path, task, profile, schema)
    # A trial is defined by its configuration and its own seed, not by the list of trials: adding
    # seeds to a profile keeps the finished trials.
    trial_cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seeds=[]))
    return trials.run(
        paper.key,
        load_card(paper.card_path),
        task,
        profile,
        cfg,
        lambda seed: experiment.fingerprint(trial_cfg, seed),
        results_path,
        run_root,
        seeds,
        resume,
        progress,
    )


PAPER = experiment.Paper(
    key="lstm",
    folder=Path(__file__).resolve().parent,
    schema=LanguageModelTaskConfig,
    build_task=build_task,
    runner=run_task,
)

if __name__ == "__main__":
    raise SystemExit(experiment.main(PAPER))
