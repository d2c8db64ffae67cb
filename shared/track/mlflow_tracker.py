"""MLflow tracking for one training run, through ``MlflowClient`` (no global active-run state).

The store is SQLite at ``mlflow/mlflow.db`` with artifacts under ``mlflow/artifacts/<paper>``
(the file store is refused by MLflow >= 3.13); ``MLFLOW_TRACKING_URI`` overrides it, e.g. for a
team server. One experiment per paper, one run per (task, profile, seed). Per-step metrics are
buffered and written in batches, because one SQLite write per step would dominate small tasks.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shared.core.paths import REPO_ROOT

FLUSH_EVERY = 200
#: the tag that tells a run trained here (``trained``) from one imported from a committed results
#: file (``imported``, :mod:`shared.report.mlflow_import`)
ORIGIN_TAG = "origin"


def tracking_uri(root: Path = REPO_ROOT) -> str:
    """``MLFLOW_TRACKING_URI`` when set, else the repository's SQLite store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"


def artifact_root(root: Path = REPO_ROOT) -> Path:
    """Where experiments created here keep their artifacts (beside the SQLite store)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///")).parent / "artifacts"
    return root / "mlflow" / "artifacts"


@contextlib.contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """One process at a time opens a SQLite store and creates its experiment: processes started
    together on a fresh store (trials of one task run in parallel) otherwise race in MLflow's
    schema migration ("Online migration expected to match one row") or in create_experiment."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    db = Path(uri.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def open_experiment(paper: str) -> tuple[Any, str]:
    """An ``MlflowClient`` on the store and the id of the paper's experiment (created if new)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from mlflow import MlflowClient  # imported here: it costs ~1.5 s and only training needs it

    uri = tracking_uri()
    with _store_lock(uri):
        client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name(paper)
        if experiment is not None:
            return client, experiment.experiment_id
        location = None
        if not uri.startswith(("http://", "https://", "databricks")):
            location = (artifact_root() / paper).resolve().as_uri()
        return client, client.create_experiment(paper, artifact_location=location)


class MlflowTracker:
    """One MLflow run. ``run_id`` reattaches to an earlier run (a resumed training)."""

    def __init__(self, paper: str, run_name: str, tags: dict[str, str], run_id: str | None = None) -> None:
        self.client, experiment_id = open_experiment(paper)
        if run_id is not None:
            self.run_id = run_id
            self.client.update_run(run_id, status="RUNNING")
        else:
            self.run_id = self.client.create_run(experiment_id, run_name=run_name, tags=tags).info.run_id
        self._pending: list[Any] = []

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        existing = self.client.get_run(self.run_id).data.params
        fresh = [Param(k, str(v)[:6000]) for k, v in params.items() if k not in existing]
        for i in range(0, len(fresh), 100):
            self.client.log_batch(self.run_id, params=fresh[i : i + 100])

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._pending.extend(Metric(k, float(v), now, step) for k, v in metrics.items())
        if len(self._pending) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        for i in range(0, len(self._pending), 1000):
            self.client.log_batch(self.run_id, metrics=self._pending[i : i + 1000])
        self._pending = []

    def end_abandoned(self, run_id: str) -> None:
        """Mark ``run_id`` KILLED if a killed process (SIGKILL, a power cut) left it RUNNING and it
        is not resumed: the caller holds its run directory, so no process still writes to it."""
        from mlflow.exceptions import MlflowException

        try:
            if self.client.get_run(run_id).info.status == "RUNNING":
                self.client.set_terminated(run_id, status="KILLED")
        except MlflowException:
            pass  # a run of another tracking store (MLFLOW_TRACKING_URI changed): not ours to end

    def set_tags(self, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, value)

    def log_artifact(self, path: Path) -> None:
        self.client.log_artifact(self.run_id, str(path))

    def finish(self, status: str = "FINISHED") -> None:
        self.flush()
        self.client.set_terminated(self.run_id, status=status)


def learning_curve_png(
    history: list[dict[str, float]],
    metric: str,
    title: str,
    out_dir: Path | None = None,
    x: str = "epoch",
    train_key: str = "train/loss",
) -> Path:
    """Plot the training curve (``train_key``; the epoch-mean loss by default) and the valid/test
    ``metric`` against ``x`` (epochs by default; an online learner's sequences); return the PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h[x] for h in history]
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax_loss.plot(steps, [h[train_key] for h in history], marker=".", label=train_key)
    ax_loss.set_xlabel(x)
    ax_loss.set_ylabel(train_key)
    ax_loss.set_yscale("log" if min(h[train_key] for h in history) > 0 else "linear")
    for split in ("valid", "test"):
        key = f"{split}/{metric}"
        if key in history[0]:
            ax_metric.plot(steps, [h[key] for h in history], marker=".", label=split)
    ax_metric.set_xlabel(x)
    ax_metric.set_ylabel(metric)
    if ax_metric.lines:
        ax_metric.legend()
    fig.suptitle(title)
    fig.tight_layout()
    out_dir = out_dir or Path(tempfile.mkdtemp(prefix="curve-"))
    path = out_dir / "learning_curve.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
