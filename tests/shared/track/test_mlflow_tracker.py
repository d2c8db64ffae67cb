"""MLflow tracking: processes that start together on a fresh store all get their run."""

from __future__ import annotations

import multiprocessing as mp
import os
from multiprocessing.synchronize import Barrier

import pytest

from shared.track.mlflow_tracker import MlflowTracker


def _open_run(uri: str, seed: int, barrier: Barrier) -> None:
    os.environ["MLFLOW_TRACKING_URI"] = uri  # a spawned child: set it explicitly
    from mlflow import MlflowClient  # noqa: F401  (imported before the barrier: all start at once)

    barrier.wait()
    MlflowTracker("race", f"seed{seed}", {"seed": str(seed)}).finish()


@pytest.mark.slow
def test_parallel_trackers_on_a_fresh_store_all_create_their_run(mlflow_store: str) -> None:
    # Without the store lock, MLflow's schema migration or create_experiment fails in some of
    # the processes (seen when two trials of one task were started together).
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_open_run, args=(mlflow_store, seed, barrier)) for seed in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_store)
    runs = client.search_runs([client.get_experiment_by_name("race").experiment_id])
    assert sorted(r.info.run_name for r in runs) == [f"seed{s}" for s in range(4)]
