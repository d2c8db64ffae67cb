"""Prove a code change result-neutral: run tasks at two commits on this machine, compare digit for digit.

Runs are bit-exact on one machine, so when a refactor touches code that committed results depend
on, running the old and the new code side by side here and finding every per-epoch value equal
shows that the committed numbers still come from the new code (then the stages' locks may be
re-committed without re-training; otherwise re-run them). Each commit is checked out into a
temporary git worktree sharing this checkout's ``prepared/`` and virtual environment::

    python -m shared.run.equivalence --old 5f1b156 --paper tcn --profile smoke
    python -m shared.run.equivalence --old 5f1b156 --paper tcn --task jsb_chorales --profile cpu --epochs 10

Compared: the reported value, every seed's value, steps, epochs and selected epoch, the lr search's
candidates, the online trials' outcomes, and the curves file row by row (wall-time columns aside).
``--epochs`` shortens the runs by editing the profile in both worktrees alike.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from shared.core.paths import REPO_ROOT

#: Curve columns that measure time, not the computation.
TIME_COLUMNS = {"train/steps_per_s", "eval_seconds"}


def fingerprint_of_result(path: Path) -> dict[str, Any]:
    """What must be equal between two runs of the same computation."""
    result = json.loads(path.read_text())
    found: dict[str, Any] = {
        "ours": result["ours"],
        "seeds": [(s["seed"], s["value"], s["steps"], s["epochs"], s.get("selected_epoch")) for s in result["seeds"]],
        "lr_search": [(c["lr"], c["valid"], c["test"]) for c in result.get("lr_search") or []],
        "trials": [
            (t["seed"], t["succeeded"], t["sequences"], t["wrong_predictions"], t["test_mse"])
            for t in result.get("trials") or []
        ],
        "secondary": result.get("secondary"),
    }
    curves = path.parent / "curves" / f"{path.stem}.csv"
    if curves.is_file():
        with curves.open() as f:
            found["curves"] = [{k: v for k, v in row.items() if k not in TIME_COLUMNS} for row in csv.DictReader(f)]
    return found


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable differences between two :func:`fingerprint_of_result`; empty when equal."""
    found = [
        f"{key}: {old.get(key)!r} != {new.get(key)!r}" for key in old if key != "curves" and old[key] != new.get(key)
    ]
    for i, (a, b) in enumerate(zip(old.get("curves", []), new.get("curves", []), strict=False)):
        if a != b:
            found.append(f"curve row {i}: {a} != {b}")
            break
    if len(old.get("curves", [])) != len(new.get("curves", [])):
        found.append("curves have different lengths")
    return found


def worktree(commit: str, where: Path) -> Path:
    """``commit`` checked out at ``where``, reading this checkout's prepared datasets."""
    subprocess.run(["git", "worktree", "add", "-q", "--detach", str(where), commit], cwd=REPO_ROOT, check=True)
    (where / "prepared").symlink_to(REPO_ROOT / "prepared")
    return where


def shorten(tree: Path, paper: str, task: str, profile: str, epochs: int) -> None:
    path = tree / "papers" / paper / "params.yaml"
    params = yaml.safe_load(path.read_text())
    entry = params["tasks"][task]["profiles"].setdefault(profile, {}) or {}
    entry.setdefault("train", {})["epochs"] = epochs
    params["tasks"][task]["profiles"][profile] = entry
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def run_task(tree: Path, paper: str, task: str, profile: str, out: Path, seeds: list[int]) -> Path:
    """Train ``task`` with the code of ``tree``; returns its results file."""
    results = out / f"{task}.json"
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "MLFLOW_TRACKING_URI": f"sqlite:///{out / 'mlflow.db'}",
        "OMP_NUM_THREADS": "1",
    }
    env.pop("SEQREPRO_PREPARED", None)
    command = [sys.executable, "-m", f"papers.{paper}", "train", task, "--profile", profile, "--results", str(results)]
    command += ["--run-root", str(out / "runs"), "--no-progress", "--no-resume"]
    command += [arg for seed in seeds for arg in ("--seed", str(seed))]
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{tree.name}: {' '.join(command[2:])} failed:\n{done.stderr[-2000:]}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.run.equivalence", description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="the commit whose code made the committed results")
    parser.add_argument("--new", default="HEAD", help="the changed code (default: HEAD; commit it first)")
    parser.add_argument("--paper", required=True)
    parser.add_argument("--task", action="append", help="repeatable (default: every task with the profile)")
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--epochs", type=int, help="shorten the profile to this many epochs in both trees")
    parser.add_argument("--seed", type=int, action="append", default=[], help="override the profile's seeds")
    args = parser.parse_args(argv)
    tasks = args.task or [
        task
        for task, entry in yaml.safe_load((REPO_ROOT / "papers" / args.paper / "params.yaml").read_text())[
            "tasks"
        ].items()
        if args.profile in entry.get("profiles", {})
    ]
    unequal = 0
    with tempfile.TemporaryDirectory(prefix="equivalence-") as tmp:
        trees = {label: worktree(commit, Path(tmp) / label) for label, commit in (("old", args.old), ("new", args.new))}
        try:
            for task in tasks:
                found = {}
                for label, tree in trees.items():
                    if args.epochs:
                        shorten(tree, args.paper, task, args.profile, args.epochs)
                    out = Path(tmp) / "out" / label
                    found[label] = fingerprint_of_result(run_task(tree, args.paper, task, args.profile, out, args.seed))
                diff = differences(found["old"], found["new"])
                unequal += bool(diff)
                rows = len(found["new"].get("curves", []))
                print(
                    f"{'DIFFERENT' if diff else 'EQUAL'} {args.paper}/{task} ({args.profile}): "
                    f"{found['new']['ours']!r}, {rows} curve rows" + "".join(f"\n  {d}" for d in diff),
                    flush=True,
                )
        finally:
            for tree in trees.values():
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO_ROOT, check=False)
    return 1 if unequal else 0


if __name__ == "__main__":
    raise SystemExit(main())
