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
from shared.core.config import ConfigError
from shared.run import experiment
from shared.tasks.language_model import StatefulLanguageModel
from shared.train import runtime

PARAMS = Path(__file__).resolve().parent / "params.yaml"


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
    results_path = results_path or paper.default_results_path(task, profile, options.run_root)
    if task_kind(paper.params_path, task) == "language_model":
        return experiment.run(dataclasses.replace(paper, runner=None), task, profile, seeds, results_path, options)
    if runtime.launched_processes() > 1:  # started by torchrun (make repro ... NPROC=N)
        raise ConfigError(
            f"lstm/{task}: the 1997 experiments learn online (one sequence at a time, the weights updated "
            "after each) in one process; run them without torchrun (no NPROC)"
        )
    return trials.run(paper, task, profile, paper.config(task, profile), results_path, seeds, options)


def schema_for(task: str) -> type:
    """The schema of the task's ``kind``: a 1997 online experiment or a Zaremba language model."""
    return SCHEMAS[task_kind(PARAMS, task)]


PAPER = experiment.Paper(
    key="lstm",
    folder=PARAMS.parent,
    schema=LanguageModelTaskConfig,
    build_task=build_task,
    build_model=build_model,
    schema_for=schema_for,
    runner=run_task,
)

if __name__ == "__main__":
    raise SystemExit(experiment.main(PAPER))
