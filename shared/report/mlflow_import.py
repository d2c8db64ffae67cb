"""Every committed result in the MLflow store: ``python -m shared.report.mlflow_import``.

A fresh clone's store is empty until someone trains for hours; this fills it from what is
committed, so ``make ui`` (which runs the import before it serves) shows every reproduction at
once. For each ``papers/<p>/results/<task>.json`` it creates one run per seed in the paper's
experiment, as a training run would have (:func:`shared.run.experiment.train_seed`):

- **tags** ``paper``, ``task``, ``profile``, ``seed``, ``git_commit`` (the commit that made the
  number), ``device``, ``torch_version``, ``dvc_stage`` (the ``dvc repro`` target; absent for a
  task without a stage), and ``origin = imported`` with ``imported_from`` (the results file) and
  ``trained_run_id`` (the run's id in the store where it was trained). Runs trained here carry
  ``origin = trained``, so the two are told apart in the UI (``tags.origin = 'imported'``).
- **params** the flattened config of the results file, the seed, and the paper card's protocol:
  ``paper.value``, ``paper.tolerance``, ``paper.metric_definition``, ``paper.selection``,
  ``paper.source``, ``paper.verified``; the card's deviations for the task are the tag
  ``paper.deviations``.
- **metrics** the per-epoch curves of ``results/curves/<task>.csv`` as metric history (step =
  epoch), and the final ``ours/<metric>`` (this seed's value), ``paper/<metric>``,
  ``delta/<metric>``.
- **artifact** the learning-curve plot, where the task has per-epoch curves.

Idempotent: a results file is imported again only when its content or its curves changed (the tag
``imported_digest``) or its earlier import was cut short; its earlier imported runs are then
deleted, so the store holds exactly the committed results. Runs trained here are never touched.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from shared.core.paths import REPO_ROOT
from shared.results import record
from shared.results.paper_card import ReportedNumber, load_card
from shared.run.stages import stage_target
from shared.track.mlflow_tracker import (
    ORIGIN_TAG,
    MlflowTracker,
    learning_curve_png,
    open_experiment,
    tracking_uri,
)

IMPORTED = "imported"
#: MLflow's limit on a tag value (SQL store); longer deviation lists are cut with a marker
MAX_TAG_CHARS = 8000


def results_files(root: Path = REPO_ROOT) -> list[Path]:
    """Every committed results file, paper by paper, task by task."""
    return sorted((root / "papers").glob("*/results/*.json"))


def curves_of(results_path: Path) -> dict[int, list[dict[str, float]]]:
    """The per-epoch history of each seed from ``curves/<task>.csv`` (``{}`` when the task has
    none: the online learners of Hochreiter & Schmidhuber report per sequence, not per epoch)."""
    path = results_path.parent / "curves" / f"{results_path.stem}.csv"
    if not path.exists():
        return {}
    histories: dict[int, list[dict[str, float]]] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            seed = int(row.pop("seed"))
            histories.setdefault(seed, []).append({k: float(v) for k, v in row.items() if v != ""})
    return histories


def digest(results_path: Path) -> str:
    """What the import of a results file depends on: its bytes and those of its curves."""
    h = hashlib.sha256(results_path.read_bytes())
    curves = results_path.parent / "curves" / f"{results_path.stem}.csv"
    if curves.exists():
        h.update(curves.read_bytes())
    return h.hexdigest()[:16]


def _stage(paper: str, task: str, root: Path) -> str | None:
    try:
        return stage_target(paper, task, root)
    except ValueError:  # a task without a stage (smoke-only result, or no cpu profile)
        return None


def _protocol(number: ReportedNumber | None) -> dict[str, str]:
    if number is None:
        return {}
    tolerance = number.tolerance
    return {
        "paper.value": str(number.value),
        "paper.tolerance": "none" if tolerance is None else json.dumps(asdict(tolerance)),
        "paper.metric_definition": number.metric_definition,
        "paper.selection": number.selection,
        "paper.source": number.source,
        "paper.verified": str(number.verified),
    }


def _deviations(card_deviations: list[str], number: ReportedNumber | None) -> str:
    text = "\n".join(f"- {d}" for d in [*(number.deviations if number else []), *card_deviations])
    return text if len(text) <= MAX_TAG_CHARS else text[: MAX_TAG_CHARS - 40] + "\n[cut: see paper.yaml]"


def import_file(results_path: Path, root: Path = REPO_ROOT) -> int:
    """Import one results file (one run per seed); return the number of runs created (0 when the
    store already holds this very file)."""
    result = record.read(results_path)
    paper, task, metric = result["paper"], result["task"], result["metric"]
    source = results_path.relative_to(root).as_posix()
    file_digest = digest(results_path)
    client, experiment_id = open_experiment(paper)
    earlier = client.search_runs(
        [experiment_id], filter_string=f"tags.{ORIGIN_TAG} = '{IMPORTED}' and tags.imported_from = '{source}'"
    )
    complete = [r for r in earlier if r.data.tags.get("imported_digest") == file_digest and r.info.status == "FINISHED"]
    if len(complete) == len(result["seeds"]) == len(earlier):
        return 0
    for run in earlier:  # from an earlier version of the file, or an import cut short
        client.delete_run(run.info.run_id)
    card = load_card(root / "papers" / paper / "paper.yaml")
    number = card.number_for(task)
    histories = curves_of(results_path)
    stage = _stage(paper, task, root)
    for seed_run in result["seeds"]:
        seed = seed_run["seed"]
        run_name = f"{task}-{result['profile']}-seed{seed}"
        tags = {
            "paper": paper,
            "task": task,
            "profile": result["profile"],
            "seed": str(seed),
            ORIGIN_TAG: IMPORTED,
            "imported_from": source,
            "imported_digest": file_digest,
            "trained_run_id": seed_run["mlflow_run_id"],
            "git_commit": result["commit"],
            "device": result["device"],
            "torch_version": result["versions"].get("torch", "unknown"),
            "paper.deviations": _deviations(card.deviations, number),
        }
        if stage:
            tags["dvc_stage"] = stage
        tracker = MlflowTracker(paper, run_name=run_name, tags=tags)
        tracker.log_params({**result["config"], "seed": seed, **_protocol(number)})
        history = histories.get(seed, [])
        for row in history:
            tracker.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=int(row["epoch"]))
        final = {f"ours/{metric}": seed_run["value"]}
        if number is not None:
            final.update({f"paper/{metric}": number.value, f"delta/{metric}": seed_run["value"] - number.value})
        tracker.log_metrics(final, step=seed_run["steps"])
        if history and "train/loss" in history[0]:
            with tempfile.TemporaryDirectory() as tmp:
                title = f"{paper} {task} ({run_name}, imported)"
                tracker.log_artifact(learning_curve_png(history, metric, title, Path(tmp)))
        tracker.finish()
    return len(result["seeds"])


def import_all(root: Path = REPO_ROOT) -> tuple[int, int]:
    """Import every committed results file; return (runs created, files already up to date)."""
    created, unchanged = 0, 0
    for path in results_files(root):
        n = import_file(path, root)
        created += n
        unchanged += n == 0
    return created, unchanged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.report.mlflow_import", description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    start = time.perf_counter()
    created, unchanged = import_all()
    print(
        f"MLflow ({tracking_uri()}): {created} runs imported from committed results, "
        f"{unchanged} results files already imported and unchanged ({time.perf_counter() - start:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
