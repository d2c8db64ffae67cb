"""Run one (paper, task, profile) over its seeds: train, track in MLflow, write the results file.

A paper's ``__main__`` only supplies its config schema and a ``build_task`` function; everything
else (seeding, determinism, device, resume, tracking, results) happens here, identically for
every paper.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from shared import results, runtime
from shared.config import ConfigError, load_task_config, to_flat_dict
from shared.data.checksums import DataError
from shared.paper_card import load_card
from shared.provenance import REPO_ROOT, git_commit, versions
from shared.train.loop import NonFiniteLossError, Trainer

RUN_ROOT = Path("runs")


def fingerprint(config: Any, seed: int) -> str:
    """A hash of the resolved configuration and seed: a checkpoint only resumes its own run."""
    blob = json.dumps({"config": dataclasses.asdict(config), "seed": seed}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclasses.dataclass
class Paper:
    """What a paper folder hands to the runner. ``runner`` replaces :func:`run` for a paper whose
    tasks are not all trained by the shared loop (it takes the same arguments)."""

    key: str
    folder: Path
    schema: type
    build_task: Callable[[Any, int, torch.device], Any]
    runner: Callable[..., results.TaskResult] | None = None

    @property
    def params_path(self) -> Path:
        return self.folder / "params.yaml"

    @property
    def card_path(self) -> Path:
        return self.folder / "paper.yaml"

    def default_results_path(self, task: str, profile: str) -> Path:
        return RUN_ROOT / self.key / task / profile / "result.json"


@dataclasses.dataclass
class SeedOutcome:
    """One trained seed: its results-file entry, its per-epoch history and its best valid metric."""

    run: results.SeedRun
    history: list[dict[str, float]]
    best_valid: float | None
    metric: str
    higher_is_better: bool


def train_seed(
    paper: Paper,
    task: str,
    profile: str,
    cfg: Any,
    seed: int,
    run_dir: Path,
    run_name: str,
    resume: bool = True,
    progress: bool = True,
    on_step: Callable[[int], None] | None = None,
    extra_tags: dict[str, str] | None = None,
) -> SeedOutcome:
    """Train one seed of ``task`` under the resolved configuration ``cfg``, tracked in MLflow."""
    from shared.track.mlflow_tracker import MlflowTracker, learning_curve_png

    reported = load_card(paper.card_path).number_for(task)
    train_cfg = cfg.train
    device = runtime.select_device(train_cfg.device)
    runtime.seed_everything(seed)
    runtime.set_deterministic(train_cfg.deterministic)
    task_obj = paper.build_task(cfg, seed, device)
    model = task_obj.build_model().to(device)
    run_dir.mkdir(parents=True, exist_ok=True)
    run_id_file = run_dir / "mlflow_run_id"
    trainer = Trainer(
        model, task_obj, train_cfg, run_dir, seed, fingerprint(cfg, seed), on_step=on_step, progress=progress
    )
    # Resume before opening the MLflow run: only a checkpoint of this very configuration
    # (same fingerprint) continues, and then its MLflow run continues too.
    resumed = resume and trainer.try_resume()
    tracker = MlflowTracker(
        paper.key,
        run_name=run_name,
        tags={
            "paper": paper.key,
            "task": task,
            "profile": profile,
            "seed": str(seed),
            "git_commit": git_commit(),
            "device": runtime.describe_device(device),
            "torch_version": torch.__version__,
            "deterministic": str(train_cfg.deterministic),
            **(extra_tags or {}),
        },
        run_id=run_id_file.read_text().strip() if resumed and run_id_file.exists() else None,
    )
    run_id_file.write_text(tracker.run_id)
    tracker.log_params({**to_flat_dict(cfg), "seed": seed, "n_parameters": sum(p.numel() for p in model.parameters())})
    trainer.tracker = tracker
    try:
        fit = trainer.fit(resume=False)
    except (NonFiniteLossError, KeyboardInterrupt):
        tracker.finish(status="FAILED")
        raise
    except BaseException:
        tracker.finish(status="KILLED")
        raise
    metric = task_obj.metric
    final = {f"ours/{metric}": fit.value}
    if reported is not None:
        final.update({f"paper/{metric}": reported.value, f"delta/{metric}": fit.value - reported.value})
    tracker.log_metrics(final, step=fit.steps)
    with tempfile.TemporaryDirectory() as tmp:
        tracker.log_artifact(learning_curve_png(fit.history, metric, f"{paper.key} {task} ({run_name})", Path(tmp)))
    tracker.finish()
    seed_run = results.SeedRun(
        seed, fit.value, fit.selected_epoch, fit.epochs, fit.steps, round(fit.wall_time_s, 1), tracker.run_id
    )
    return SeedOutcome(seed_run, fit.history, trainer.best_valid, metric, task_obj.higher_is_better)


def _with_lr(cfg: Any, lr: float) -> Any:
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, lr=lr))


def run(
    paper: Paper,
    task: str,
    profile: str,
    seeds: list[int] | None = None,
    results_path: Path | None = None,
    run_root: Path = RUN_ROOT,
    resume: bool = True,
    progress: bool = True,
    on_step: Callable[[int], None] | None = None,
) -> results.TaskResult:
    """Train every seed of ``task`` at ``profile`` and write its results file.

    With an ``lr_search`` in the task's configuration (:class:`shared.search.LrSearch`), every
    candidate learning rate is trained (each in ``.../lr<k>/seed<s>``) and the one with the best
    mean validation metric is reported; a candidate that diverges (NaN/Inf) is recorded as such.
    """
    cfg = load_task_config(paper.params_path, task, profile, paper.schema)
    card = load_card(paper.card_path)
    reported = card.number_for(task)
    seeds = seeds or cfg.train.seeds
    base_dir = run_root / paper.key / task / profile
    search = getattr(cfg, "lr_search", None)
    if search is None:
        candidates = [(cfg, base_dir, "", {})]
    else:
        candidates = [
            (_with_lr(cfg, lr), base_dir / f"lr{k}", f"-lr{k}", {"lr_candidate": str(k)})
            for k, lr in enumerate(search.candidates())
        ]
    outcomes: list[list[SeedOutcome]] = []
    for trial_cfg, trial_dir, suffix, tags in candidates:
        trial = []
        for seed in seeds:
            name = f"{task}-{profile}{suffix}-seed{seed}"
            try:
                trial.append(
                    train_seed(
                        paper, task, profile, trial_cfg, seed, trial_dir / f"seed{seed}", name, resume, progress,
                        on_step, tags,
                    )
                )
            except NonFiniteLossError as err:
                if search is None:
                    raise
                print(f"[search] {name}: {err}; candidate dropped", file=sys.stderr)
                trial = []
                break
        outcomes.append(trial)
    lr_search = None
    chosen = 0
    if search is not None:
        from shared.search import select

        valid = [[o.best_valid if o.best_valid is not None else float("nan") for o in trial] for trial in outcomes]
        done = [trial for trial in outcomes if trial]
        if not done:
            raise NonFiniteLossError(f"{task}: every candidate learning rate diverged")
        chosen = select(valid, done[0][0].higher_is_better)
        lr_search = [
            {
                "lr": trial_cfg.train.lr,
                "valid": [o.best_valid for o in trial] or None,
                "test": [o.run.value for o in trial] or None,
                "wall_time_s": round(sum(o.run.wall_time_s for o in trial), 1),
                "mlflow_run_ids": [o.run.mlflow_run_id for o in trial],
                "selected": k == chosen,
            }
            for k, ((trial_cfg, *_), trial) in enumerate(zip(candidates, outcomes, strict=True))
        ]
    selected_cfg, selected = candidates[chosen][0], outcomes[chosen]
    result = results.summarize(
        paper.key,
        task,
        profile,
        selected[0].metric,
        selected[0].higher_is_better,
        selected_cfg.train.selection,
        [o.run for o in selected],
        reported,
        runtime.describe_device(runtime.select_device(cfg.train.device)),
        versions(),
        git_commit(),
        to_flat_dict(selected_cfg),
        lr_search=lr_search,
    )
    results_path = results_path or paper.default_results_path(task, profile)
    results.write(result, results_path)
    histories = {o.run.seed: o.history for o in selected}
    results.write_curves(histories, results_path.parent / "curves" / f"{results_path.stem}.csv")
    return result


def main(paper: Paper, argv: list[str] | None = None) -> int:
    """``python -m papers.<p> train <task> [--profile P] [--seed S ...] [--results PATH]``."""
    parser = argparse.ArgumentParser(
        prog=f"python -m papers.{paper.key}", description=f"Train and evaluate a task of the {paper.key} paper."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train one task at one profile over its seeds")
    train.add_argument("task", help="a key of tasks: in params.yaml")
    train.add_argument("--profile", default="cpu", help="smoke, cpu or paper (default: cpu)")
    train.add_argument("--seed", type=int, action="append", help="override the profile's seeds (repeatable)")
    train.add_argument("--results", type=Path, help="results file (default: runs/<paper>/<task>/<profile>/result.json)")
    train.add_argument("--run-root", type=Path, default=RUN_ROOT, help="where checkpoints go (default: runs/)")
    train.add_argument("--no-resume", action="store_true", help="start afresh even if a checkpoint exists")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    sub.add_parser("tasks", help="list the tasks and their profiles")
    args = parser.parse_args(argv)
    try:
        if args.command == "tasks":
            from shared.config import read_yaml

            for name, entry in read_yaml(paper.params_path)["tasks"].items():
                print(f"{name}: {', '.join(entry.get('profiles', {}))}")
            return 0
        result = (paper.runner or run)(
            paper,
            args.task,
            args.profile,
            seeds=args.seed,
            results_path=args.results,
            run_root=args.run_root,
            resume=not args.no_resume,
            progress=not args.no_progress,
        )
    except (ConfigError, DataError, NonFiniteLossError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    paper_value = "n/a" if result.paper_value is None else f"{result.paper_value:.6g}"
    print(f"{paper.key}/{args.task} ({args.profile}): test {result.metric} = {result.ours:.6g} (paper {paper_value})")
    return 0


__all__ = ["Paper", "REPO_ROOT", "main", "run"]
