"""Seeds trained at once in separate processes (``--jobs``, ``make repro`` on every core) give the
outcomes of the same seeds trained one after another."""

from __future__ import annotations

import csv
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from papers.tcn.__main__ import PAPER
from shared.core.config import ConfigError
from shared.core.paths import REPO_ROOT
from shared.run.experiment import RunOptions, main, run, threads_per_job

TIMINGS = ("train/steps_per_s", "eval_seconds")  # wall-clock columns: the only ones allowed to differ


@pytest.mark.slow
def test_seeds_in_parallel_processes_equal_seeds_one_after_another(
    prepared_data: Path, tmp_path: Path, mlflow_store: str
) -> None:
    outcomes = {}
    for jobs in (1, 2):
        path = tmp_path / f"jobs{jobs}.json"
        if jobs == 1:
            options = RunOptions(run_root=tmp_path / f"runs{jobs}", progress=False, jobs=jobs)
            run(PAPER, "jsb_chorales", "smoke", seeds=[1, 2, 3], results_path=path, options=options)
        else:  # as make repro runs it: `python -m papers.tcn`, whose functions live in __main__
            seeds = [arg for seed in ("1", "2", "3") for arg in ("--seed", seed)]
            command = ["train", "jsb_chorales", "--profile", "smoke", *seeds, "--jobs", "2", "--no-progress"]
            subprocess.run(
                [sys.executable, "-m", "papers.tcn", *command, "--results", path, "--run-root", tmp_path / "runs2"],
                cwd=REPO_ROOT,
                check=True,
            )
        result = json.loads(path.read_text())
        with (tmp_path / "curves" / f"jobs{jobs}.csv").open(newline="") as f:
            curves = [{k: v for k, v in row.items() if k not in TIMINGS} for row in csv.DictReader(f)]
        outcomes[jobs] = ([(s["seed"], s["value"], s["steps"]) for s in result["seeds"]], result["ours"], curves)
        assert len({s["mlflow_run_id"] for s in result["seeds"]}) == 3
        if jobs == 2:  # the threads each seed trained with, not those of the parent process
            threads = threads_per_job(2)
            assert result["device"].endswith("per seed, 2 seeds at once)")
            assert result["machine"]["torch_threads"] == threads and f"({threads} thread" in result["device"]
    assert outcomes[2] == outcomes[1]  # digit for digit, every epoch's losses and metrics included


def test_jobs_below_one_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(PAPER, ["train", "jsb_chorales", "--profile", "smoke", "--jobs", "0"]) == 2
    assert "--jobs 0" in capsys.readouterr().err


def test_jobs_default_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def runner(paper, task, profile, seeds=None, results_path=None, options=None):  # noqa: ANN001, ANN202
        seen["jobs"] = options.jobs
        raise ConfigError("stop here")

    monkeypatch.setenv("SEQREPRO_JOBS", "2")
    assert main(dataclasses.replace(PAPER, runner=runner), ["train", "jsb_chorales", "--profile", "smoke"]) == 2
    assert seen["jobs"] == 2
