"""Run a 1997 experiment over its trials: online training by the paper's rule, its stopping
criterion, its test, MLflow tracking and the results file.

A trial is one weight initialisation (and, for the synthetic tasks, one stream of random
training sequences), both drawn from the trial's seed. The paper reports the mean number of
training sequences until its stopping/success criterion and the test errors, over 10-30 trials
(Tables 1, 7, 9); so does the results file, next to the fraction of trials that succeeded
within the budget (``max_sequences``).
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from papers.lstm.config import OnlineTaskConfig
from papers.lstm.model import LSTM1997Net
from papers.lstm.online import MOSTLY_CORRECT, OnlineLSTM
from shared import results
from shared.core.atomic import write_text_atomic
from shared.core.config import to_flat_dict
from shared.data import hochreiter1997 as tasks
from shared.results.paper_card import PaperCard, load_card
from shared.run import unfinished
from shared.run.experiment import DEFAULT_OPTIONS, Paper, RunOptions, RunSpec, continuing, fingerprint, provenance
from shared.run.guard import claim_run_dir, sigterm_as_interrupt
from shared.run.provenance import code_digest, data_digest, git_commit
from shared.tasks import hochreiter1997 as criteria
from shared.train import checkpoint
from shared.train.checkpoint import CheckpointError

# Streams of every trial: training chunks, test set, Reber (train, test) pair.
_TRAIN, _TEST, _PAIR = 1, 2, 3


@dataclass
class TrialOutcome:
    seed: int
    succeeded: bool
    sequences: int  #: training sequences presented until success (or the budget)
    wrong_predictions: int  #: test sequences with an output off by >= tolerance (of n_test)
    test_mse: float  #: mean over test sequences of sum_k (t_k - y_k)^2 at target steps
    wall_time_s: float
    mlflow_run_id: str
    #: training sequences until a full window was MOSTLY_CORRECT right (None: never; Reber: no window)
    mostly_correct_after: int | None = None
    #: the adding problem's test errors by the size of the sum (tasks.adding_errors_by_sum)
    errors_by_sum: dict[str, float] | None = None


def build_net(cfg: OnlineTaskConfig, seed: int) -> LSTM1997Net:
    """The trial's initial net (weights drawn from ``seed``)."""
    sizes = {"adding": (2, 1), "temporal_order": (8, 4), "reber": (7, 7)}
    n_in, n_out = sizes[cfg.data.kind]
    m = cfg.model
    torch.manual_seed(seed)
    return LSTM1997Net(
        n_in,
        n_out,
        m.blocks,
        m.block_size,
        m.init_range,
        m.input_gate_bias,
        m.output_gate_bias,
        m.bias_units,
        m.truncate,
    ).double()


def _rng(seed: int, stream: int, index: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, stream, index])


class Trial:
    """One trial with checkpoints in ``run_dir`` (``last.pt`` after every chunk)."""

    def __init__(self, cfg: OnlineTaskConfig, seed: int, run_dir: Path, fingerprint: str) -> None:
        self.cfg = cfg
        self.seed = seed
        self.run_dir = run_dir
        self.fingerprint = fingerprint
        self.online = OnlineLSTM.from_net(build_net(cfg, seed))
        self.seen = 0
        self.chunk = 0
        self.succeeded = False
        self.elapsed = 0.0
        self.window_errors = np.zeros(cfg.train.window)
        self.window_correct = np.zeros(cfg.train.window, dtype=np.bool_)
        self.mostly_correct_after = np.full(1, -1, dtype=np.int64)  # -1: not yet
        if cfg.data.kind == "reber":
            self.reber_train, self.reber_test = tasks.reber_sets(
                cfg.data.n_train, cfg.data.n_train, _rng(seed % cfg.data.pairs, _PAIR)
            )

    @property
    def path(self) -> Path:
        return self.run_dir / "last.pt"

    def save(self) -> None:
        checkpoint.save_atomic(
            {
                "fingerprint": self.fingerprint,
                "hidden": torch.from_numpy(self.online.hidden),
                "output": torch.from_numpy(self.online.output),
                "seen": self.seen,
                "chunk": self.chunk,
                "succeeded": self.succeeded,
                "elapsed": self.elapsed,
                "window_errors": torch.from_numpy(self.window_errors),
                "window_correct": torch.from_numpy(self.window_correct),
                "mostly_correct_after": int(self.mostly_correct_after[0]),
            },
            self.path,
        )

    def try_resume(self) -> bool:
        if not self.path.exists():
            return False
        state = checkpoint.load(self.path)
        if state["fingerprint"] != self.fingerprint:
            return False
        self.online.hidden[:] = state["hidden"].numpy()
        self.online.output[:] = state["output"].numpy()
        self.seen, self.chunk, self.succeeded = state["seen"], state["chunk"], state["succeeded"]
        self.elapsed = state["elapsed"]
        self.window_errors[:] = state["window_errors"].numpy()
        self.window_correct[:] = state["window_correct"].numpy()
        self.mostly_correct_after[0] = state["mostly_correct_after"]
        return True

    def done(self) -> bool:
        return self.succeeded or self.seen >= self.cfg.train.max_sequences

    def step(self) -> dict[str, float]:
        """Train one chunk; returns what to log."""
        cfg, train = self.cfg, self.cfg.train
        if cfg.data.kind == "reber":
            # "training exemplars are picked randomly from the training set" (Sec. 5.1)
            rng = _rng(self.seed, _TRAIN, self.chunk)
            picks = rng.integers(0, len(self.reber_train), size=min(train.check_every, train.max_sequences - self.seen))
            batch = _subset(self.reber_train, picks)
            used, _ = self.online.train_until(
                batch,
                train.lr,
                train.per_step,
                cfg.data.tolerance,
                None,
                self.window_errors,
                self.window_correct,
                self.seen,
            )
            self.seen += used
            # The test strings only matter once every training string is right (half the cost).
            wrong = self.mistakes(self.reber_train)
            self.succeeded = wrong == 0 and self.mistakes(self.reber_test) == 0
            metrics = {"train/training_strings_with_mistakes": float(wrong)}
        else:
            n = min(train.chunk, train.max_sequences - self.seen)
            batch = criteria.generate(cfg.data.kind, n, _rng(self.seed, _TRAIN, self.chunk), cfg.data.min_length)
            used, self.succeeded = self.online.train_until(
                batch,
                train.lr,
                train.per_step,
                cfg.data.tolerance,
                train.stop_error,
                self.window_errors,
                self.window_correct,
                self.seen,
                MOSTLY_CORRECT,
                self.mostly_correct_after,
            )
            self.seen += used
            filled = min(self.seen, train.window)
            metrics = {
                "train/window_error": float(self.window_errors[:filled].mean()),
                "train/window_correct_pct": 100.0 * float(self.window_correct[:filled].mean()),
            }
        self.chunk += 1
        return metrics

    def test(self) -> tuple[int, float, dict[str, float] | None]:
        """(wrong predictions, mean squared error, the adding problem's errors by sum) on
        ``n_test`` fresh sequences (for Reber: the strings of the training and test sets with a
        mistake, and neither error)."""
        if self.cfg.data.kind == "reber":
            return self.mistakes(self.reber_train) + self.mistakes(self.reber_test), float("nan"), None
        d = self.cfg.data
        batch = criteria.generate(d.kind, d.n_test, _rng(self.seed, _TEST), d.min_length)
        outputs = self.online.predict(batch)
        wrong, mse = criteria.count_wrong(outputs, batch, d.tolerance)
        by_sum = criteria.adding_errors_by_sum(outputs, batch, d.tolerance) if d.kind == "adding" else None
        return wrong, mse, by_sum

    def mistakes(self, batch: tasks.SequenceBatch) -> int:
        """Reber strings of ``batch`` on which the net makes a mistake (Sec. 5.1)."""
        return criteria.reber_strings_with_mistakes(self.online.predict(batch), batch)


def _subset(batch: tasks.SequenceBatch, index: np.ndarray) -> tasks.SequenceBatch:
    return tasks.SequenceBatch(
        np.ascontiguousarray(batch.inputs[index]),
        np.ascontiguousarray(batch.targets[index]),
        np.ascontiguousarray(batch.target_mask[index]),
        np.ascontiguousarray(batch.lengths[index]),
        None if batch.allowed is None else batch.allowed[index],
    )


def _read_outcome(path: Path) -> dict:
    """A finished trial's ``outcome.json`` (with its fingerprint); CheckpointError if unreadable."""
    try:
        saved = json.loads(path.read_text())
        if isinstance(saved, dict) and "fingerprint" in saved:
            return saved
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass
    raise CheckpointError(
        f"{path}: not a finished trial's outcome (cut short?); delete it to train the trial again, or run without "
        "--keep-finished"
    )


def run_trial(spec: RunSpec, cfg: OnlineTaskConfig, card_path: Path, tags: dict[str, str]) -> TrialOutcome:
    """One trial with checkpoints and an MLflow run; a finished trial (``outcome.json``) is trained
    again unless ``spec.options.keep_finished`` (and its fingerprint matches). The run directory is
    held for the whole trial and SIGTERM ends it like Ctrl-C (:mod:`shared.run.guard`)."""
    with claim_run_dir(spec.run_dir), sigterm_as_interrupt():
        return _run_trial(spec, cfg, card_path, tags)


def _run_trial(spec: RunSpec, cfg: OnlineTaskConfig, card_path: Path, tags: dict[str, str]) -> TrialOutcome:
    from shared.track.mlflow_tracker import ORIGIN_TAG, MlflowTracker, learning_curve_png

    run_dir, seed = spec.run_dir, spec.seed
    outcome_path = run_dir / "outcome.json"
    run_id_file = run_dir / "mlflow_run_id"
    trial = Trial(cfg, seed, run_dir, spec.fingerprint)
    if outcome_path.exists():
        if spec.options.keep_finished:
            saved = _read_outcome(outcome_path)
            if saved.pop("fingerprint") == spec.fingerprint:
                return TrialOutcome(**saved)
        for path in (outcome_path, trial.path, run_id_file):
            path.unlink(missing_ok=True)
    resumed = spec.options.resume and trial.try_resume()
    previous_run = run_id_file.read_text().strip() if run_id_file.exists() else None
    tracker = MlflowTracker(
        spec.paper,
        spec.name,
        {**tags, **spec.tags(), ORIGIN_TAG: "trained", "fingerprint": spec.fingerprint},
        run_id=previous_run if resumed else None,
    )
    if previous_run and not resumed:
        tracker.end_abandoned(previous_run)
    run_id_file.write_text(tracker.run_id)
    tracker.log_params({**to_flat_dict(cfg), "seed": seed, "n_weights": build_net(cfg, seed).num_weights()})
    started = time.perf_counter() - trial.elapsed
    bar = tqdm(
        total=cfg.train.max_sequences,
        initial=trial.seen,
        desc=f"{spec.task} seed {seed}",
        unit="seq",
        disable=not spec.options.progress,
        leave=False,
        dynamic_ncols=True,
        mininterval=2.0,
    )
    curve: list[dict[str, float]] = []  # this session's part of the training curve, for the plot
    between_chunks = True  # False while trial.step() runs: it updates the weights before the counters
    try:
        while not trial.done():
            before = trial.seen
            between_chunks = False
            metrics = trial.step()
            between_chunks = True
            bar.update(trial.seen - before)
            tracker.log_metrics(metrics, step=trial.seen)
            curve.append({"sequences": float(trial.seen), **metrics})
            trial.elapsed = time.perf_counter() - started
            if trial.cfg.data.kind != "reber" or trial.chunk % 100 == 0 or trial.done():
                # Metrics first: a kill between the two re-trains and re-logs the chunks since the
                # previous checkpoint; the other order would lose the metrics before this one.
                tracker.flush()
                trial.save()
        bar.close()
        wrong, mse, by_sum = trial.test()
        mostly = int(trial.mostly_correct_after[0])
        wall = time.perf_counter() - started
        # The trained net as a torch state_dict, loadable into build_net(cfg, seed).
        net = build_net(cfg, seed)
        trial.online.copy_into(net)
        checkpoint.save_atomic({"model": net.state_dict(), "sequences": trial.seen}, run_dir / "final.pt")
        final = {
            "ours/success_after": float(trial.seen),
            "ours/succeeded": float(trial.succeeded),
            "ours/wrong_predictions": float(wrong),
            **({} if np.isnan(mse) else {"ours/test_mse": mse}),
            **({} if mostly < 0 else {"ours/mostly_correct_after": float(mostly)}),
            **{f"ours/{key}": value for key, value in (by_sum or {}).items()},
        }
        reported = load_card(card_path).number_for(spec.task)
        if reported is not None:
            final.update({"paper/success_after": reported.value, "delta/success_after": trial.seen - reported.value})
        tracker.log_metrics(final, step=trial.seen)
        if curve:
            with tempfile.TemporaryDirectory() as tmp:
                train_key = [key for key in curve[0] if key != "sequences"][0]
                title = f"{spec.paper} {spec.task} ({spec.name})"
                tracker.log_artifact(
                    learning_curve_png(curve, "", title, Path(tmp), x="sequences", train_key=train_key)
                )
    except BaseException:
        bar.close()
        # Interrupted inside a chunk (SIGTERM or Ctrl-C arrive as soon as the compiled learner
        # returns), the weights are ahead of the counters: keep the previous checkpoint, so that
        # the resumed trial stays exact.
        if between_chunks:
            trial.save()
        tracker.finish(status="KILLED")
        raise
    tracker.finish()
    outcome = TrialOutcome(
        seed,
        trial.succeeded,
        trial.seen,
        wrong,
        mse,
        round(wall, 1),
        tracker.run_id,
        mostly_correct_after=mostly if mostly >= 0 else None,
        errors_by_sum=by_sum,
    )
    write_text_atomic(json.dumps({**asdict(outcome), "fingerprint": spec.fingerprint}), outcome_path)
    tqdm.write(
        f"[{spec.task} seed {seed}] {'success' if trial.succeeded else 'FAILED'} after {trial.seen:,} sequences; "
        f"test: {wrong} wrong, {wall:.0f} s"
    )
    return outcome


def summarize(
    paper: str,
    task: str,
    profile: str,
    cfg: OnlineTaskConfig,
    card: PaperCard,
    outcomes: list[TrialOutcome],
    provenance: results.Provenance,
) -> results.TaskResult:
    """Means over the successful trials (the paper's "success after" is defined for them), the
    success rate over all trials, and the per-trial outcomes."""
    good = [o for o in outcomes if o.succeeded] or outcomes
    after = [float(o.sequences) for o in good]
    wrong = [float(o.wrong_predictions) for o in good]
    reported = card.number_for(task)

    def spread(values: list[float]) -> float | None:
        return statistics.stdev(values) if len(values) > 1 else None

    secondary = {
        "success_pct": {"ours": 100.0 * sum(o.succeeded for o in outcomes) / len(outcomes), "ours_std": None},
        "wrong_predictions": {"ours": statistics.fmean(wrong), "ours_std": spread(wrong)},
    }
    mses = [o.test_mse for o in good if not np.isnan(o.test_mse)]
    if mses:
        secondary["test_mse"] = {"ours": statistics.fmean(mses), "ours_std": spread(mses)}
    # Over every trial that got there (a trial that never did counts in none).
    mostly = [float(o.mostly_correct_after) for o in outcomes if o.mostly_correct_after is not None]
    if mostly:
        secondary["mostly_correct_after"] = {"ours": statistics.fmean(mostly), "ours_std": spread(mostly)}
    by_sum = [o.errors_by_sum for o in good if o.errors_by_sum is not None]
    for key in dict.fromkeys(key for b in by_sum for key in b):
        values = [b[key] for b in by_sum if key in b]
        secondary[key] = {"ours": statistics.fmean(values), "ours_std": spread(values)}
    ours = statistics.fmean(after)
    seeds = [
        results.SeedRun(o.seed, float(o.sequences), None, 0, o.sequences, o.wall_time_s, o.mlflow_run_id)
        for o in outcomes
    ]
    return results.TaskResult(
        paper=paper,
        task=task,
        profile=profile,
        metric="success_after",
        split="train (online)",
        higher_is_better=False,
        ours=ours,
        ours_std=spread(after),
        paper_value=reported.value if reported else None,
        delta=ours - reported.value if reported else None,
        within_tolerance=reported.within_tolerance(ours) if reported else None,
        selection="mean over successful trials of the training sequences until the stopping criterion",
        seeds=seeds,
        config=to_flat_dict(cfg),
        secondary=secondary,
        budget=f"{len(outcomes)} trials, <= {cfg.train.max_sequences:,} seq",
        trials=[asdict(o) for o in outcomes],
        **asdict(provenance),
    )


def run(
    paper: Paper,
    task: str,
    profile: str,
    cfg: OnlineTaskConfig,
    results_path: Path,
    seeds: list[int] | None = None,
    options: RunOptions = DEFAULT_OPTIONS,
) -> results.TaskResult:
    """Every trial of ``task`` (resuming interrupted ones, and keeping the finished ones of a command
    that was interrupted: :mod:`shared.run.unfinished`), then the results file.

    A trial's fingerprint covers its configuration without the list of trials (adding seeds to a
    profile does not change the others), its seed, the code closure and the data.
    """
    code, data, commit = code_digest(paper.entry_module), data_digest(), git_commit()
    trial_cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seeds=[]))
    tags = {"git_commit": commit, "device": "cpu (numba)", "torch_version": torch.__version__}
    task_dir = options.run_root / paper.key / task / profile
    digests = {seed: fingerprint(trial_cfg, seed, code, data) for seed in seeds or cfg.train.seeds}
    options = continuing(task_dir, list(digests.values()), options)
    outcomes = [
        run_trial(
            RunSpec(paper.key, task, profile, seed, task_dir / f"seed{seed}", digest, options),
            cfg,
            paper.card_path,
            tags,
        )
        for seed, digest in digests.items()
    ]
    prov = dataclasses.replace(provenance(torch.device("cpu"), code, data, commit), device="cpu (numba, 1 thread)")
    result = summarize(paper.key, task, profile, cfg, load_card(paper.card_path), outcomes, prov)
    results.write(result, results_path)
    unfinished.end(task_dir)
    return result
