"""A run while it runs (issue 12 items 4-6): SIGTERM ends its MLflow run instead of leaving it
RUNNING, metrics are flushed with every checkpoint so that a resumed run has no gap, a second
process of the same run fails naming the first, a dead one's lock is taken over, and the
temporary files of killed atomic writes are removed."""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from papers.tcn.__main__ import PAPER as TCN
from shared.run.experiment import Paper, RunOptions, RunSpec, main, train_seed
from shared.run.guard import LOCK_NAME, RunDirectoryBusy, Terminated, claim_run_dir
from shared.train.config import TrainConfig

#: 12 batches per epoch, 36 steps; a checkpoint every 5 steps, a train/loss metric every step.
TRAIN = TrainConfig(epochs=3, lr=0.01, log_every=1, checkpoint_every=5, selection="last", seeds=[7])
STEPS = 36


@dataclasses.dataclass
class ToyConfig:
    train: TrainConfig


class ToyTask:
    """Noisy linear regression, small enough for a test to train it several times."""

    metric = "mse"
    higher_is_better = False
    has_valid = True

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(96, 6, generator=g)
        self.y = self.x @ torch.randn(6, 1, generator=g) + 0.1 * torch.randn(96, 1, generator=g)

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[torch.Tensor]:
        return list(torch.randperm(len(self.x), generator=generator).split(8))

    def train_loss(self, model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(model(self.x[idx]), self.y[idx])

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        rows = slice(0, 48) if split == "valid" else slice(48, None)
        mse = nn.functional.mse_loss(model(self.x[rows]), self.y[rows]).item()
        return {"loss": mse, "mse": mse}


def toy_paper() -> Paper:
    """The TCN paper's card and key with the toy task and a small MLP (dropout: resume must
    restore the RNG)."""
    return dataclasses.replace(
        TCN,
        build_task=lambda cfg, seed, device: ToyTask(),
        build_model=lambda cfg, task: nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 1)),
    )


def toy_spec(run_dir: Path, resume: bool = True) -> RunSpec:
    return RunSpec("tcn", "toy", "smoke", 7, run_dir, "toy-fingerprint", RunOptions(resume=resume, progress=False))


def train(run_dir: Path, on_step: Callable[[int], None] | None = None, resume: bool = True) -> str:
    """Train the toy run in ``run_dir``; its MLflow run id."""
    return train_seed(toy_paper(), toy_spec(run_dir, resume), ToyConfig(TRAIN), on_step).run.mlflow_run_id


#: Metrics that measure time, not training.
TIMING = ("train/steps_per_s", "eval_seconds")


def metrics(mlflow_store: str, run_id: str) -> set[tuple[str, int, float]]:
    """Every (key, step, value) logged in the run, timing aside; a value logged twice counts once."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_store)
    keys = [k for k in client.get_run(run_id).data.metrics if k not in TIMING]
    return {(k, m.step, m.value) for k in keys for m in client.get_metric_history(run_id, k)}


def loss_steps(mlflow_store: str, run_id: str) -> set[int]:
    """The steps with a train/loss (the per-step loss; the epoch means add steps 1-3)."""
    return {step for key, step, _ in metrics(mlflow_store, run_id) if key == "train/loss"}


def status(mlflow_store: str, run_id: str) -> str:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=mlflow_store).get_run(run_id).info.status


def signal_at(step: int, signum: int) -> Callable[[int], None]:
    def send(current: int) -> None:
        if current == step:
            os.kill(os.getpid(), signum)

    return send


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, int, float]]:
    """The metrics of an uninterrupted run."""
    root = tmp_path_factory.mktemp("straight")
    store = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store)
        run_id = train(root / "run")
    assert loss_steps(store, run_id) == set(range(1, STEPS + 1))
    return metrics(store, run_id)


@pytest.mark.slow
def test_sigterm_ends_the_mlflow_run_and_the_resumed_run_continues_it_without_a_gap(
    tmp_path: Path, mlflow_store: str, straight: set[tuple[str, int, float]]
) -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        train(tmp_path / "run", on_step=signal_at(17, signal.SIGTERM))
    assert signal.getsignal(signal.SIGTERM) == before  # the handler lasts only as long as the run
    run_id = (tmp_path / "run" / "mlflow_run_id").read_text()
    assert status(mlflow_store, run_id) in ("KILLED", "FAILED")  # was: RUNNING forever

    assert train(tmp_path / "run") == run_id  # the same MLflow run continues
    assert status(mlflow_store, run_id) == "FINISHED"
    # No gap, and nothing else: steps 16-17, logged before the signal and again after the resume
    # from step 15, have the same values (the resumed run is bit-exact).
    assert metrics(mlflow_store, run_id) == straight


def _train_then_sigkill(run_dir: Path) -> None:
    train(run_dir, on_step=signal_at(17, signal.SIGKILL))


@pytest.mark.slow
def test_after_sigkill_the_metrics_up_to_the_last_checkpoint_are_in_mlflow_and_resume_fills_the_rest(
    tmp_path: Path, mlflow_store: str, straight: set[tuple[str, int, float]]
) -> None:
    child = mp.get_context("spawn").Process(target=_train_then_sigkill, args=(tmp_path / "run",))
    child.start()
    child.join(timeout=300)
    assert child.exitcode == -signal.SIGKILL
    run_id = (tmp_path / "run" / "mlflow_run_id").read_text()
    assert status(mlflow_store, run_id) == "RUNNING"  # nothing runs on SIGKILL
    # Flushed with the checkpoints of steps 5, 10 and 15 (was: nothing below the tracker's batch
    # of 200 metrics); 16 and 17 were still buffered.
    assert loss_steps(mlflow_store, run_id) == set(range(1, 16))

    assert train(tmp_path / "run") == run_id
    assert status(mlflow_store, run_id) == "FINISHED"
    assert metrics(mlflow_store, run_id) == straight


@pytest.mark.slow
def test_a_run_left_running_by_a_killed_process_is_ended_when_its_directory_starts_afresh(
    tmp_path: Path, mlflow_store: str
) -> None:
    from shared.track.mlflow_tracker import MlflowTracker

    abandoned = MlflowTracker("tcn", "toy-smoke-seed7", {}).run_id  # never finished: a SIGKILL
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "mlflow_run_id").write_text(abandoned)
    fresh = train(tmp_path / "run", resume=False)
    assert fresh != abandoned
    assert (status(mlflow_store, abandoned), status(mlflow_store, fresh)) == ("KILLED", "FINISHED")


def _race(run_dir: Path, barrier, go_on, report) -> None:
    """One of two processes training the same run: the one holding the directory waits at its
    first step until the other has reported its error."""
    barrier.wait()
    try:
        train(run_dir, on_step=lambda step: go_on.wait(120) if step == 1 else None)
    except RunDirectoryBusy as err:
        report.put(("busy", os.getpid(), str(err)))
        return
    report.put(("trained", os.getpid(), ""))


@pytest.mark.slow
def test_a_second_train_of_the_same_run_fails_naming_the_first_which_finishes_untouched(
    tmp_path: Path, mlflow_store: str
) -> None:
    ctx = mp.get_context("spawn")
    barrier, go_on, report = ctx.Barrier(2), ctx.Event(), ctx.Queue()
    run_dir = tmp_path / "runs" / "tcn" / "toy" / "smoke" / "seed7"
    procs = [ctx.Process(target=_race, args=(run_dir, barrier, go_on, report)) for _ in range(2)]
    for p in procs:
        p.start()
    outcome, loser, message = report.get(timeout=300)
    go_on.set()
    assert outcome == "busy"
    winner = next(p.pid for p in procs if p.pid != loser)
    assert f"process {winner}" in message and str(run_dir) in message and f"kill {winner}" in message
    assert report.get(timeout=300)[:2] == ("trained", winner)
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0]

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_store)
    runs = client.search_runs([client.get_experiment_by_name("tcn").experiment_id])
    assert [r.info.status for r in runs] == ["FINISHED"]  # one run, written by one process
    assert (run_dir / "mlflow_run_id").read_text() == runs[0].info.run_id


def _hold_then_die(run_dir: Path, held) -> None:
    with claim_run_dir(run_dir):
        held.set()
        time.sleep(120)


@pytest.mark.slow
def test_the_lock_of_a_dead_process_is_taken_over_and_orphan_temporary_files_removed(tmp_path: Path) -> None:
    run_dir = tmp_path / "seed1"
    ctx = mp.get_context("spawn")
    held = ctx.Event()
    holder = ctx.Process(target=_hold_then_die, args=(run_dir, held))
    holder.start()
    assert held.wait(60)
    with pytest.raises(RunDirectoryBusy, match=rf"{run_dir} is in use by another training, process {holder.pid}"):
        with claim_run_dir(run_dir):
            pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(timeout=60)
    assert (run_dir / LOCK_NAME).read_text().strip() == str(holder.pid)  # a stale lock file

    orphan = run_dir / ".last.pt.k3j_x9a2.tmp"  # what a write killed mid-way leaves
    orphan.write_bytes(b"half a checkpoint")
    os.utime(orphan, (time.time() - 60, time.time() - 60))
    kept = [run_dir / "last.pt", run_dir / "notes.tmp", run_dir / ".notes.tmp", run_dir / ".best.pt.inuse123.tmp"]
    for path in kept:
        path.write_text("not an orphan of ours")
    os.utime(kept[-1], (time.time() + 60, time.time() + 60))  # newer than the run's start: a live write
    with claim_run_dir(run_dir):
        assert (run_dir / LOCK_NAME).read_text().strip() == str(os.getpid())
    assert not orphan.exists()
    assert all(path.read_text() == "not an orphan of ours" for path in kept)


def _raise(error: BaseException) -> Callable[..., None]:
    def runner(*args: object, **kwargs: object) -> None:
        raise error

    return runner


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (Terminated(signal.SIGTERM), 143, "interrupted (SIGTERM): the same command resumes from the last checkpoint"),
        (KeyboardInterrupt(), 130, "interrupted (SIGINT): the same command resumes from the last checkpoint"),
        (RunDirectoryBusy("runs/x is in use by another training, process 12"), 2, "error: runs/x is in use"),
    ],
)
def test_the_command_line_ends_an_interrupted_or_refused_run_in_one_line(
    error: BaseException, code: int, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(dataclasses.replace(TCN, runner=_raise(error)), ["train", "adding_t600", "--profile", "smoke"]) == code
    err = capsys.readouterr().err
    assert err.startswith(line) and "Traceback" not in err
