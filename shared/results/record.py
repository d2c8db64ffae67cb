"""The results file of one task, ``papers/<p>/results/<task>.json``: our number next to the
paper's, with everything needed to judge and re-run it. DVC tracks it as a metrics file."""

from __future__ import annotations

import csv
import io
import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shared.core.atomic import write_text_atomic
from shared.results.paper_card import ReportedNumber


@dataclass
class SeedRun:
    """One seed's outcome."""

    seed: int
    value: float
    selected_epoch: int | None
    epochs: int
    steps: int
    wall_time_s: float
    mlflow_run_id: str


@dataclass(frozen=True)
class Provenance:
    """Where a number was made: the device and machine (floating point differs across processors),
    library versions, the git commit, and the digests of the code closure and of the raw data that
    also key every checkpoint (:mod:`shared.run.provenance`)."""

    device: str
    machine: dict[str, Any]
    versions: dict[str, str]
    commit: str
    code_digest: str
    data_digest: str


@dataclass
class TaskResult:
    paper: str
    task: str
    profile: str
    metric: str
    split: str
    higher_is_better: bool
    ours: float
    ours_std: float | None
    paper_value: float | None
    delta: float | None
    within_tolerance: bool | None
    selection: str
    seeds: list[SeedRun]
    device: str
    versions: dict[str, str]
    commit: str
    config: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    code_digest: str | None = None
    data_digest: str | None = None
    #: further metrics of the same runs, ``{metric: {"ours": mean, "ours_std": std}}``, for a paper
    #: that reports several numbers per experiment (e.g. sequences until success and test errors)
    secondary: dict[str, dict[str, float | None]] = field(default_factory=dict)
    #: the training budget in words when it is not epochs (e.g. "10 trials, <= 3,000,000 seq")
    budget: str | None = None
    #: per-trial outcomes beyond ``seeds`` (task-specific fields)
    trials: list[dict[str, Any]] = field(default_factory=list)
    #: every candidate of a learning-rate search (shared.run.search), the selected one flagged
    lr_search: list[dict[str, Any]] | None = None

    @property
    def wall_time_s(self) -> float:
        """The compute behind the number: every seed, and every candidate of an lr search."""
        if self.lr_search:
            return sum(c["wall_time_s"] for c in self.lr_search)
        return sum(s.wall_time_s for s in self.seeds)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["n_seeds"] = len(self.seeds)
        data["epochs"] = max(s.epochs for s in self.seeds)
        data["wall_time_s"] = round(self.wall_time_s, 1)
        return data


def summarize(
    *,
    paper: str,
    task: str,
    profile: str,
    metric: str,
    higher_is_better: bool,
    selection: str,
    seeds: list[SeedRun],
    reported: ReportedNumber | None,
    provenance: Provenance,
    config: dict[str, Any],
    lr_search: list[dict[str, Any]] | None = None,
) -> TaskResult:
    """Aggregate per-seed values (mean, sample std) and compare with the paper's number."""
    values = [s.value for s in seeds]
    ours = statistics.fmean(values)
    return TaskResult(
        paper=paper,
        task=task,
        profile=profile,
        metric=metric,
        split="test",
        higher_is_better=higher_is_better,
        ours=ours,
        ours_std=statistics.stdev(values) if len(values) > 1 else None,
        paper_value=reported.value if reported else None,
        delta=ours - reported.value if reported else None,
        within_tolerance=reported.within_tolerance(ours) if reported else None,
        selection=selection,
        seeds=seeds,
        config=config,
        lr_search=lr_search,
        **asdict(provenance),
    )


def write(result: TaskResult, path: str | Path) -> None:
    """Write the results file atomically: a reader (``make report``, DVC) never sees half of it."""
    write_text_atomic(json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n", path)


def write_curves(histories: dict[int, list[dict[str, float]]], path: str | Path) -> None:
    """Per-epoch metrics of every seed as CSV (one row per seed and epoch): the DVC plots file,
    written atomically like the results file."""
    rows = [{"seed": seed, **record} for seed, history in histories.items() for record in history]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    write_text_atomic(text.getvalue(), path)


class ResultsFileError(ValueError):
    """A results file is not one (cut short, or not written by this project)."""


def read(path: str | Path) -> dict[str, Any]:
    """The results file at ``path``; :class:`ResultsFileError` names it and how to restore it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        problem = f"not complete JSON ({err})"
    else:
        if isinstance(data, dict) and {"paper", "task", "metric", "ours"} <= set(data):
            return data
        problem = "JSON, but not a results file (no paper, task, metric, ours)"
    if path.parent.name == "results":  # papers/<p>/results/<task>.json, committed
        fix = (
            f"restore the committed file with `git checkout -- {path}`, or re-make it with "
            f"`make repro PAPER={path.parent.parent.name} TASK={path.stem}`"
        )
    else:
        fix = "delete it and train its task again"
    raise ResultsFileError(f"{path}: {problem}; {fix}")
