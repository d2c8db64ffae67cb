"""The paper card's claims (:class:`shared.results.paper_card.Claim`) checked on results files."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.results.paper_card import Claim
from shared.results.record import read

HOLDS, FAILS, NOT_RUN, MEASURED = "holds", "fails", "not run", "measured"
#: How a ``not run`` outcome ends when a results file predates the metric a claim needs.
OLDER_THAN_THE_METRIC = " (a run older than the metric)"


@dataclass(frozen=True)
class Outcome:
    """A claim's verdict (``holds``, ``fails`` or ``not run``) and the numbers behind it."""

    claim: Claim
    status: str
    detail: str


def metric_summary(result: dict[str, Any], metric: str) -> tuple[float, float, int]:
    """``(mean, std, seeds)`` of ``metric`` in a results file: its headline or a secondary
    metric; std 0 for a single seed. A KeyError names what the file has."""
    if not has_metric(result, metric):
        known = [result["metric"], *result.get("secondary", {})]
        raise KeyError(f"{result['task']}: no metric {metric!r} (has {', '.join(known)})")
    if result["metric"] == metric:
        mean, std = result["ours"], result.get("ours_std")
    else:
        mean, std = result["secondary"][metric]["ours"], result["secondary"][metric].get("ours_std")
    return mean, std or 0.0, result["n_seeds"]


def has_metric(result: dict[str, Any], metric: str) -> bool:
    """Whether a results file holds ``metric``, as its headline or a secondary metric."""
    return result["metric"] == metric or metric in result.get("secondary", {})


def check(claim: Claim, results_dir: Path) -> Outcome:
    """Check ``claim`` on ``results_dir/<task>.json``; ``not run`` while a file it needs is missing.
    A claim measured by a benchmark is ``measured``, with its recorded outcome and evidence."""
    if claim.check is None:
        return Outcome(claim, MEASURED, f"{claim.outcome} (evidence: {claim.evidence})")
    c = claim.check
    files = {task: results_dir / f"{task}.json" for task in (c.task, c.than) if task is not None}
    missing = [task for task, path in files.items() if not path.exists()]
    if missing:
        return Outcome(claim, NOT_RUN, f"no results for {', '.join(missing)}")
    results = {task: read(path) for task, path in files.items()}
    needed = [(c.task, m) for m in c.metrics] + [(c.than, m) for m in (c.than_metrics or c.metrics) if c.than]
    absent = [f"{task} has no {metric}" for task, metric in needed if not has_metric(results[task], metric)]
    if absent:  # a results file made before the code measured the metric: its stage is to re-run
        return Outcome(claim, NOT_RUN, "; ".join(dict.fromkeys(absent)) + OLDER_THAN_THE_METRIC)
    failed, shown = [], []
    for metric, than_metric in zip(c.metrics, c.than_metrics or c.metrics, strict=True):
        mean, std, n = metric_summary(results[c.task], metric)
        if c.kind == "at_least":
            ok = mean >= c.value
            shown.append(f"{metric} {mean:.4g} {'>=' if ok else '<'} {c.value:.4g}")
        elif c.kind == "at_most":
            ok = mean <= c.value
            shown.append(f"{metric} {mean:.4g} {'<=' if ok else '>'} {c.value:.4g}")
        else:
            other, other_std, other_n = metric_summary(results[c.than], than_metric)
            se = math.sqrt(std**2 / n + other_std**2 / other_n)
            ok = mean - other > c.margin_se * se
            versus = "" if than_metric == metric else f" {than_metric}"
            shown.append(f"{metric} {mean:.4g} vs{versus} {other:.4g} (diff {mean - other:+.3g}, se {se:.3g})")
        if not ok:
            failed.append(metric)
    status = FAILS if failed else HOLDS
    return Outcome(claim, status, "; ".join(shown))
