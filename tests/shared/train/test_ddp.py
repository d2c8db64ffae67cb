"""DistributedDataParallel on the CPU (Gloo), started by ``torchrun`` as a user starts it.

* Two processes train to the same weights as one process on the same global batches (to float
  tolerance: the gradients are summed in another order): a dataset task whose batches split
  unevenly (the loss weights), a task whose training data is drawn afresh per batch, and a stateful
  language model whose stream is split per rank.
* A two-process run killed right after a mid-epoch checkpoint and started again ends bit for bit
  where the uninterrupted two-process run ends (every rank's RNG and carried state restored; the
  models have dropout, so a wrong RNG would show).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("ddp_worker.py")
REPO = WORKER.parents[3]


def _train(task: str, run_dir: Path, out: Path, processes: int, *extra: str, check: bool = True) -> int:
    command = [sys.executable, str(WORKER), task, str(run_dir), str(out), *extra]
    if processes > 1:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
        command += [str(WORKER), task, str(run_dir), str(out), *extra]
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done.returncode


@pytest.mark.slow
@pytest.mark.parametrize("task", ["regression", "adding", "lm"])
def test_two_processes_train_as_one_process_on_the_global_batch(task: str, tmp_path: Path) -> None:
    _train(task, tmp_path / "one", tmp_path / "one.pt", 1)
    _train(task, tmp_path / "two", tmp_path / "two.pt", 2)
    one, two = torch.load(tmp_path / "one.pt"), torch.load(tmp_path / "two.pt")
    assert one["params"].keys() == two["params"].keys()
    for name, value in one["params"].items():
        torch.testing.assert_close(two["params"][name], value, rtol=1e-5, atol=1e-6, msg=name)
    assert len(one["history"]) == len(two["history"])
    for a, b in zip(one["history"], two["history"], strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert b[key] == pytest.approx(a[key], rel=1e-5, abs=1e-6), key
    # Not trivially equal: training moved the weights (the runs are compared after real steps).
    assert one["history"][0]["train/loss"] != one["history"][-1]["train/loss"]


@pytest.mark.slow
@pytest.mark.parametrize("task", ["regression", "lm"])
def test_a_killed_two_process_run_resumes_exactly(task: str, tmp_path: Path) -> None:
    dropout = ("--dropout", "0.3")
    _train(task, tmp_path / "straight", tmp_path / "straight.pt", 2, *dropout)
    # Killed at step 6: the checkpoint of step 4 is the last one (mid-epoch), steps 5-6 are redone.
    assert _train(task, tmp_path / "killed", tmp_path / "killed.pt", 2, *dropout, "--kill-at", "6", check=False) != 0
    assert not (tmp_path / "killed.pt").exists() and (tmp_path / "killed" / "last.pt").exists()
    state = torch.load(tmp_path / "killed" / "last.pt", weights_only=True)
    assert state["step"] == 4 and state["world_size"] == 2 and len(state["ranks"]) == 2
    _train(task, tmp_path / "killed", tmp_path / "killed.pt", 2, *dropout)
    straight, resumed = torch.load(tmp_path / "straight.pt"), torch.load(tmp_path / "killed.pt")
    for name, value in straight["params"].items():
        assert torch.equal(resumed["params"][name], value), name
    assert resumed["history"] == straight["history"]


@pytest.mark.slow
def test_a_checkpoint_of_two_processes_is_not_resumed_by_one(tmp_path: Path) -> None:
    assert _train("regression", tmp_path / "run", tmp_path / "a.pt", 2, "--kill-at", "6", check=False) != 0
    # One process: the checkpoint holds two ranks' RNG states; it trains afresh instead.
    _train("regression", tmp_path / "run", tmp_path / "one.pt", 1)
    _train("regression", tmp_path / "fresh", tmp_path / "fresh.pt", 1)
    one, fresh = torch.load(tmp_path / "one.pt"), torch.load(tmp_path / "fresh.pt")
    assert all(torch.equal(one["params"][k], v) for k, v in fresh["params"].items())
