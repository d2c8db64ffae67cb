"""Run one (paper, task, profile) over its seeds: train, track in MLflow, write the results file.

A paper's ``__main__`` supplies its config schema, the task family of each task and its model
(:class:`Paper`); everything else (seeding, determinism, device, resume, tracking, results)
happens here, identically for every paper.

Which checkpoint is resumed. Every run directory's ``last.pt`` carries a fingerprint of the
resolved configuration, the seed, the code closure of the paper's entry module and the raw data
(:mod:`shared.run.provenance`). A run resumes only an *interrupted* checkpoint of the same
fingerprint; a *finished* one is trained afresh unless ``keep_finished`` is asked for (a command
that trains should train: this is what makes ``dvc repro -f`` retrain, and a stage re-run after a
code change can never report the old number) or the same command was interrupted before it wrote
its results file: then it continues, keeping the seeds that finished (:mod:`shared.run.unfinished`).

Several processes. Started by ``torchrun`` (``make repro ... NPROC=N``), every process runs this
same code: they join one process group (:func:`shared.train.runtime.init_distributed`), each trains
on its part of every global batch (DistributedDataParallel), and only rank 0 holds the run
directory, writes checkpoints, the results file and the curves, and talks to MLflow. Every rank
reads ``last.pt`` to resume, so on several nodes ``--run-root`` must be on a shared filesystem.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import importlib
import json
import os
import signal
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from shared import results
from shared.core.config import ConfigError, load_task_config, to_flat_dict
from shared.core.paths import REPO_ROOT
from shared.data.checksums import DataError
from shared.results.paper_card import load_card
from shared.run import unfinished
from shared.run.guard import RunDirectoryBusy, Terminated, claim_run_dir, sigterm_as_interrupt
from shared.run.provenance import code_digest, data_digest, git_commit, machine, versions
from shared.tasks.base import Task
from shared.train import runtime
from shared.train.checkpoint import CheckpointError
from shared.train.loop import NonFiniteLossError, Trainer

RUN_ROOT = REPO_ROOT / "runs"


def fingerprint(config: Any, seed: int, code: str, data: str) -> str:
    """A hash of the resolved configuration, the seed, the code digest and the data digest: a
    checkpoint only resumes its own run."""
    blob = json.dumps(
        {"config": dataclasses.asdict(config), "seed": seed, "code": code, "data": data}, sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclasses.dataclass
class Paper:
    """What a paper folder hands to the runner: its configuration schema, the task family each
    task uses (``build_task(cfg, seed, device)``) and its model for that task
    (``build_model(cfg, task)``). ``schema_for(task)`` gives the schema of a paper whose tasks are
    of several kinds; ``runner`` replaces :func:`run` for a paper whose tasks are not all trained by
    the shared loop (it takes the same arguments). ``hooks(cfg, model)``, when given, returns the
    trainer hooks (:mod:`shared.train.hooks`) a task's model needs, e.g. a weight constraint
    enforced after every optimizer step; without it the trainer runs only the optimizer's own."""

    key: str
    folder: Path
    schema: type
    build_task: Callable[[Any, int, torch.device], Task]
    build_model: Callable[[Any, Task], torch.nn.Module]
    schema_for: Callable[[str], type] | None = None
    runner: Callable[..., results.TaskResult] | None = None
    hooks: Callable[[Any, torch.nn.Module], list[Any]] | None = None

    def config(self, task: str, profile: str) -> Any:
        """The resolved configuration of ``task`` at ``profile`` (errors name the file and key)."""
        schema = self.schema_for(task) if self.schema_for is not None else self.schema
        return load_task_config(self.params_path, task, profile, schema)

    @property
    def params_path(self) -> Path:
        return self.folder / "params.yaml"

    @property
    def card_path(self) -> Path:
        return self.folder / "paper.yaml"

    @property
    def entry_module(self) -> str:
        """The module ``python -m papers.<key>`` runs: its code closure keys every checkpoint."""
        return f"papers.{self.key}.__main__"

    def default_results_path(self, task: str, profile: str, run_root: Path = RUN_ROOT) -> Path:
        return run_root / self.key / task / profile / "result.json"


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How to run, as opposed to what: where checkpoints go, whether an interrupted run of the same
    fingerprint resumes, whether a finished one is reused instead of retrained, the progress bar."""

    run_root: Path = RUN_ROOT
    resume: bool = True
    keep_finished: bool = False
    progress: bool = True
    #: seeds trained at once, each in its own process with cores // jobs threads (1: one after another)
    jobs: int = 1


DEFAULT_OPTIONS = RunOptions()


def continuing(task_dir: Path, fingerprints: list[str], options: RunOptions) -> RunOptions:
    """``options`` for a command over the seeds of these fingerprints: when the previous command of
    the same invocation was interrupted, its finished seeds are kept (:mod:`shared.run.unfinished`;
    not with ``--no-resume``, which starts every seed afresh)."""
    # Silent: each kept seed says so as it resumes (a command that failed on a bad setting also
    # leaves the marker, and its next error message should stay one line).
    if unfinished.begin(task_dir, fingerprints) and options.resume:
        return dataclasses.replace(options, keep_finished=True)
    return options


#: the environment variable that sets ``--jobs`` for commands that cannot take it (a DVC stage's)
JOBS_ENV = "SEQREPRO_JOBS"


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One seed of one (paper, task, profile): what identifies the run and where it lives."""

    paper: str
    task: str
    profile: str
    seed: int
    run_dir: Path
    fingerprint: str
    options: RunOptions = DEFAULT_OPTIONS
    lr_candidate: int | None = None

    @property
    def name(self) -> str:
        candidate = "" if self.lr_candidate is None else f"-lr{self.lr_candidate}"
        return f"{self.task}-{self.profile}{candidate}-seed{self.seed}"

    def tags(self) -> dict[str, str]:
        tags = {"paper": self.paper, "task": self.task, "profile": self.profile, "seed": str(self.seed)}
        if self.lr_candidate is not None:
            tags["lr_candidate"] = str(self.lr_candidate)
        return tags


@dataclasses.dataclass
class SeedOutcome:
    """One trained seed: its results-file entry, its per-epoch history, its best valid metric and
    the task's secondary test metrics (:func:`secondary_values`)."""

    run: results.SeedRun
    history: list[dict[str, float]]
    best_valid: float | None
    metric: str
    higher_is_better: bool
    secondary: dict[str, float] = dataclasses.field(default_factory=dict)


def secondary_values(
    names: tuple[str, ...], history: list[dict[str, float]], selection: str, selected_epoch: int | None
) -> dict[str, float]:
    """The test metrics ``names`` (a task's ``secondary_metrics``, e.g. accuracy per sequence
    length) of one seed, selected as its headline number is: at the selected epoch (best
    validation, or the last), or averaged over the last three epochs (``last3_mean``). They come
    from the per-epoch evaluations, which saw the same weights as the headline's."""
    records = history[-3:] if selection == "last3_mean" else [history[(selected_epoch or len(history)) - 1]]
    return {name: sum(r[f"test/{name}"] for r in records) / len(records) for name in names}


def aggregate_secondary(outcomes: list[SeedOutcome]) -> dict[str, dict[str, float | None]]:
    """Mean and sample std over the seeds of every secondary metric (the results file's ``secondary``)."""
    names = outcomes[0].secondary if outcomes else {}
    aggregated: dict[str, dict[str, float | None]] = {}
    for name in names:
        values = [o.secondary[name] for o in outcomes]
        spread = statistics.stdev(values) if len(values) > 1 else None
        aggregated[name] = {"ours": statistics.fmean(values), "ours_std": spread}
    return aggregated


def select_device(paper: Paper, task: str, requested: str) -> torch.device:
    """The device ``train.device`` names; one this machine lacks is a ConfigError naming the key."""
    try:
        return runtime.select_device(requested)
    except runtime.DeviceUnavailable as err:
        raise ConfigError(
            f"{paper.params_path}: tasks.{task}.train.device: {err}; set it to auto (CUDA when present, "
            "else the CPU) or cpu"
        ) from None


def provenance(device: torch.device, code: str, data: str, commit: str, jobs: int = 1) -> results.Provenance:
    """The provenance of a number made now, on this machine, with this code and data; ``commit``
    is the checkout's commit read when the run started, with its code digest (read at the end it
    would name whatever the checkout holds by then, not what ran); ``jobs`` seeds trained at once,
    each in a process of :func:`threads_per_job` threads (not this one's)."""
    processes = runtime.distributed().world_size
    described = runtime.describe_device(device) + (f" x {processes} processes" if processes > 1 else "")
    found = machine()
    if jobs > 1 and device.type == "cpu":
        threads = threads_per_job(jobs)
        described = f"cpu ({threads} thread{'s' if threads > 1 else ''} per seed, {jobs} seeds at once)"
        found["torch_threads"] = threads
    return results.Provenance(
        device=described,
        machine=found,
        versions=versions(),
        commit=commit,
        code_digest=code,
        data_digest=data,
    )


def train_seed(paper: Paper, spec: RunSpec, cfg: Any, on_step: Callable[[int], None] | None = None) -> SeedOutcome:
    """Train one seed under the resolved configuration ``cfg``, tracked in MLflow.

    The run directory is held for the whole run (a second process of the same run fails, naming
    this one; under torchrun rank 0 holds it for all), and SIGTERM ends the run like Ctrl-C: its
    MLflow run is ended, not left RUNNING (:mod:`shared.run.guard`).
    """
    held = claim_run_dir(spec.run_dir) if runtime.distributed().is_main else contextlib.nullcontext()
    with held, sigterm_as_interrupt():
        if not runtime.distributed().is_main:
            return _train_seed_worker(paper, spec, cfg, on_step)
        return _train_seed(paper, spec, cfg, on_step)


def _build(
    paper: Paper, spec: RunSpec, cfg: Any, on_step: Callable[[int], None] | None
) -> tuple[Task, torch.nn.Module, Trainer, torch.device]:
    """The task, the model and their trainer, every RNG seeded from the run's seed."""
    train_cfg = cfg.train
    device = select_device(paper, spec.task, train_cfg.device)
    _, device = runtime.init_distributed(device)
    runtime.seed_everything(spec.seed)
    runtime.set_deterministic(train_cfg.deterministic)
    task = paper.build_task(cfg, spec.seed, device)
    model = paper.build_model(cfg, task).to(device)
    trainer = Trainer(
        model,
        task,
        train_cfg,
        spec.run_dir,
        spec.seed,
        spec.fingerprint,
        on_step=on_step,
        progress=spec.options.progress,
        hooks=paper.hooks(cfg, model) if paper.hooks is not None else (),
    )
    return task, model, trainer, device


def _resume(trainer: Trainer, spec: RunSpec, run_id_file: Path) -> bool:
    """Resume an interrupted checkpoint of this run; a finished one is discarded unless
    ``keep_finished``. Without resume, last.pt is not even read (--no-resume is the way past one
    that cannot be read); the new run overwrites it. Under torchrun every rank decides from the
    same file before rank 0 may delete it."""
    if not spec.options.resume:
        return False
    finished = trainer.saved_run() == "finished" and not spec.options.keep_finished
    runtime.barrier()
    if finished:
        if runtime.distributed().is_main:
            trainer.discard_saved_run()
            run_id_file.unlink(missing_ok=True)
        runtime.barrier()
    return trainer.try_resume()


def _train_seed_worker(paper: Paper, spec: RunSpec, cfg: Any, on_step: Callable[[int], None] | None) -> SeedOutcome:
    """A rank other than 0 of a torchrun run: trains in step with rank 0 and writes nothing."""
    task, _, trainer, _ = _build(paper, spec, cfg, on_step)
    _resume(trainer, spec, spec.run_dir / "mlflow_run_id")
    fit = trainer.fit(resume=False)
    secondary = secondary_values(
        tuple(getattr(task, "secondary_metrics", ())), fit.history, cfg.train.selection, fit.selected_epoch
    )
    seed_run = results.SeedRun(
        spec.seed, fit.value, fit.selected_epoch, fit.epochs, fit.steps, round(fit.wall_time_s, 1), ""
    )
    return SeedOutcome(seed_run, fit.history, trainer.best_valid, task.metric, task.higher_is_better, secondary)


def _train_seed(paper: Paper, spec: RunSpec, cfg: Any, on_step: Callable[[int], None] | None) -> SeedOutcome:
    from shared.track.mlflow_tracker import ORIGIN_TAG, MlflowTracker, learning_curve_png

    reported = load_card(paper.card_path).number_for(spec.task)
    train_cfg = cfg.train
    task, model, trainer, device = _build(paper, spec, cfg, on_step)
    run_id_file = spec.run_dir / "mlflow_run_id"
    # Resume before opening the MLflow run: only a checkpoint of this very run (same fingerprint)
    # continues, and then its MLflow run continues too.
    resumed = _resume(trainer, spec, run_id_file)
    previous_run = run_id_file.read_text().strip() if run_id_file.exists() else None
    tracker = MlflowTracker(
        spec.paper,
        run_name=spec.name,
        tags={
            **spec.tags(),
            ORIGIN_TAG: "trained",
            "git_commit": git_commit(),
            "device": runtime.describe_device(device),
            "torch_version": torch.__version__,
            "deterministic": str(train_cfg.deterministic),
            "amp": train_cfg.amp,
            "processes": str(runtime.distributed().world_size),
            "fingerprint": spec.fingerprint,
        },
        run_id=previous_run if resumed else None,
    )
    if previous_run and not resumed:
        tracker.end_abandoned(previous_run)
    run_id_file.write_text(tracker.run_id)
    tracker.log_params(
        {**to_flat_dict(cfg), "seed": spec.seed, "n_parameters": sum(p.numel() for p in model.parameters())}
    )
    trainer.tracker = tracker
    try:
        fit = trainer.fit(resume=False)
        metric = task.metric
        secondary = secondary_values(
            tuple(getattr(task, "secondary_metrics", ())), fit.history, train_cfg.selection, fit.selected_epoch
        )
        final = {f"ours/{metric}": fit.value, **{f"ours/{name}": value for name, value in secondary.items()}}
        if reported is not None:
            final.update({f"paper/{metric}": reported.value, f"delta/{metric}": fit.value - reported.value})
        tracker.log_metrics(final, step=fit.steps)
        with tempfile.TemporaryDirectory() as tmp:
            title = f"{spec.paper} {spec.task} ({spec.name})"
            tracker.log_artifact(learning_curve_png(fit.history, metric, title, Path(tmp)))
    except (NonFiniteLossError, KeyboardInterrupt):  # KeyboardInterrupt: Ctrl-C, or SIGTERM (Terminated)
        tracker.finish(status="FAILED")
        raise
    except BaseException:
        tracker.finish(status="KILLED")
        raise
    tracker.finish()
    seed_run = results.SeedRun(
        spec.seed, fit.value, fit.selected_epoch, fit.epochs, fit.steps, round(fit.wall_time_s, 1), tracker.run_id
    )
    return SeedOutcome(seed_run, fit.history, trainer.best_valid, metric, task.higher_is_better, secondary)


def seed_jobs(specs: list[RunSpec], on_step: Callable[[int], None] | None = None) -> int:
    """How many of ``specs`` :func:`train_seeds` trains at once (1 with an ``on_step`` callback)."""
    return min(specs[0].options.jobs, len(specs)) if specs and on_step is None else 1


def threads_per_job(jobs: int) -> int:
    """The torch threads of each seed's process when ``jobs`` seeds train at once: the cores shared."""
    return max(1, (os.cpu_count() or 1) // jobs)


def train_seeds(
    paper: Paper, specs: list[RunSpec], cfg: Any, on_step: Callable[[int], None] | None = None
) -> list[SeedOutcome]:
    """Train the seeds one after another, or ``options.jobs`` at a time, each in a process of its
    own with ``cores // jobs`` threads. Each seed is its own deterministic run (its seed, run
    directory, checkpoint and MLflow run), so the outcomes are those of the same seeds trained one
    after another with that many threads. ``on_step`` (a callback of this process) keeps them in
    this process, one after another."""
    jobs = seed_jobs(specs, on_step)
    if jobs <= 1:
        return [train_seed(paper, spec, cfg, on_step) for spec in specs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    threads = threads_per_job(jobs)
    quiet = [dataclasses.replace(s, options=dataclasses.replace(s.options, progress=False)) for s in specs]
    context = multiprocessing.get_context("spawn")  # no fork of a process that holds torch threads
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=torch.set_num_threads, initargs=(threads,)) as pool:
        futures = [pool.submit(_train_seed_in_worker, paper.entry_module, spec, cfg) for spec in quiet]
        return [future.result() for future in futures]


def _train_seed_in_worker(entry_module: str, spec: RunSpec, cfg: Any) -> SeedOutcome:
    """:func:`train_seed` in a spawned process, with the paper imported there by its module name.
    Not the parent's :class:`Paper` itself: under ``python -m papers.<key>`` its functions live in
    ``__main__``, which spawn does not re-run in the child for a package's ``__main__`` module, so
    references to them would not unpickle."""
    paper = importlib.import_module(entry_module).PAPER
    return train_seed(paper, spec, cfg)


def _with_lr(cfg: Any, lr: float) -> Any:
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, lr=lr))


def run(
    paper: Paper,
    task: str,
    profile: str,
    seeds: list[int] | None = None,
    results_path: Path | None = None,
    options: RunOptions = DEFAULT_OPTIONS,
    on_step: Callable[[int], None] | None = None,
) -> results.TaskResult:
    """Train every seed of ``task`` at ``profile`` and write its results file.

    With an ``lr_search`` in the task's configuration (:class:`shared.run.search.LrSearch`), every
    candidate learning rate is trained (each in ``.../lr<k>/seed<s>``) and the one with the best
    mean validation metric is reported; a candidate that diverges (NaN/Inf) is recorded as such.
    """
    cfg = paper.config(task, profile)
    device = select_device(paper, task, cfg.train.device)  # before any training: no CUDA is a config error
    world, device = runtime.init_distributed(device)
    reported = load_card(paper.card_path).number_for(task)
    seeds = seeds or cfg.train.seeds
    code, data, commit = code_digest(paper.entry_module), data_digest(), git_commit()
    base_dir = options.run_root / paper.key / task / profile
    options = continuing(base_dir, [fingerprint(cfg, seed, code, data) for seed in seeds], options)
    search = getattr(cfg, "lr_search", None)
    if search is None:
        candidates = [(cfg, base_dir, None)]
    else:
        candidates = [(_with_lr(cfg, lr), base_dir / f"lr{k}", k) for k, lr in enumerate(search.candidates())]
    outcomes: list[list[SeedOutcome]] = []
    jobs = 1
    for trial_cfg, trial_dir, k in candidates:
        specs = [
            RunSpec(
                paper.key,
                task,
                profile,
                seed,
                trial_dir / f"seed{seed}",
                fingerprint(trial_cfg, seed, code, data),
                options,
                lr_candidate=k,
            )
            for seed in seeds
        ]
        jobs = seed_jobs(specs, on_step)
        try:
            trial = train_seeds(paper, specs, trial_cfg, on_step)
        except NonFiniteLossError as err:
            if search is None:
                raise
            print(f"[search] lr candidate {k}: {err}; candidate dropped", file=sys.stderr)
            trial = []
        outcomes.append(trial)
    lr_search = None
    chosen = 0
    if search is not None:
        from shared.run.search import select

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
        paper=paper.key,
        task=task,
        profile=profile,
        metric=selected[0].metric,
        higher_is_better=selected[0].higher_is_better,
        selection=selected_cfg.train.selection,
        seeds=[o.run for o in selected],
        reported=reported,
        provenance=provenance(device, code, data, commit, jobs),
        config=to_flat_dict(selected_cfg),
        lr_search=lr_search,
    )
    result.secondary = aggregate_secondary(selected)
    results_path = results_path or paper.default_results_path(task, profile, options.run_root)
    if not world.is_main:
        return result
    results.write(result, results_path)
    histories = {o.run.seed: o.history for o in selected}
    results.write_curves(histories, results_path.parent / "curves" / f"{results_path.stem}.csv")
    unfinished.end(base_dir)
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
    # Relative to the working directory, as a command line's paths are; made absolute here so that
    # every message names the file for sure (the defaults do not depend on the working directory).
    train.add_argument(
        "--results",
        type=lambda path: Path(path).absolute(),
        help="results file (default: runs/<paper>/<task>/<profile>/result.json in the repository)",
    )
    train.add_argument(
        "--run-root",
        type=lambda path: Path(path).absolute(),
        default=RUN_ROOT,
        help="where checkpoints go (default: runs/ in the repository)",
    )
    train.add_argument("--no-resume", action="store_true", help="start afresh even from an interrupted checkpoint")
    train.add_argument(
        "--keep-finished",
        action="store_true",
        help="reuse a finished run of the same code, configuration, data and seed instead of retraining it",
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument(
        "--jobs",
        type=int,
        default=int(os.environ.get(JOBS_ENV, "1")),
        help=f"seeds trained at once, each in its own process (default: ${JOBS_ENV} or 1; make repro sets it "
        "to the number of cores)",
    )
    sub.add_parser("tasks", help="list the tasks and their profiles")
    args = parser.parse_args(argv)
    try:
        if args.command == "tasks":
            from shared.core.config import read_tasks

            for name, entry in read_tasks(paper.params_path).items():
                print(f"{name}: {', '.join(entry.get('profiles') or {})}")
            return 0
        if args.jobs < 1:
            raise ConfigError(f"--jobs {args.jobs}: give 1 (seeds one after another) or more")
        options = RunOptions(
            run_root=args.run_root,
            resume=not args.no_resume,
            keep_finished=args.keep_finished,
            progress=not args.no_progress,
            jobs=1 if runtime.launched_processes() > 1 else args.jobs,  # torchrun: its processes
        )
        result = (paper.runner or run)(
            paper, args.task, args.profile, seeds=args.seed, results_path=args.results, options=options
        )
    except (ConfigError, DataError, NonFiniteLossError, RunDirectoryBusy, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        # Ctrl-C or SIGTERM (Terminated): the MLflow run is ended, the checkpoint kept; the usual
        # exit status of a process ended by that signal.
        signum = err.signum if isinstance(err, Terminated) else signal.SIGINT
        print(
            f"interrupted ({signal.Signals(signum).name}): the same command resumes from the last checkpoint",
            file=sys.stderr,
        )
        return 128 + signum
    finally:
        is_main = runtime.distributed().is_main
        runtime.shutdown_distributed()
    if not is_main:
        return 0
    paper_value = "n/a" if result.paper_value is None else f"{result.paper_value:.6g}"
    print(f"{paper.key}/{args.task} ({args.profile}): test {result.metric} = {result.ours:.6g} (paper {paper_value})")
    print(f"results: {args.results or paper.default_results_path(args.task, args.profile, args.run_root)}")
    return 0


__all__ = ["Paper", "RunOptions", "RunSpec", "main", "run"]
