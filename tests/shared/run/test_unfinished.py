"""A command stopped after some seeds finished continues with the rest when run again; a command that
completed trains every seed again (shared/run/unfinished.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from papers.lstm import trials
from papers.lstm.__main__ import PAPER as LSTM
from papers.tcn.__main__ import PAPER as TCN
from shared.run import experiment, unfinished
from shared.run.experiment import RunOptions, RunSpec, run


def test_the_marker_tells_an_interrupted_command_of_the_same_invocation(tmp_path: Path) -> None:
    task_dir = tmp_path / "runs" / "p" / "t" / "smoke"
    assert not unfinished.begin(task_dir, ["a", "b"])  # no marker: a new command
    assert unfinished.begin(task_dir, ["a", "b"])  # the marker of the same seeds: interrupted
    assert not unfinished.begin(task_dir, ["a", "c"])  # another configuration, code or seed
    assert unfinished.begin(task_dir, ["a", "c"])
    unfinished.end(task_dir)
    assert not unfinished.begin(task_dir, ["a", "c"])  # completed: the next command starts afresh


def _interrupt_at_seed(monkeypatch: pytest.MonkeyPatch, module: object, name: str, seed: int) -> None:
    """Stop the command (as Ctrl-C would) when it reaches ``seed``, after the seeds before it finished."""
    original = getattr(module, name)

    def stopping(*args: Any) -> Any:
        if next(a for a in args if isinstance(a, RunSpec)).seed == seed:
            raise KeyboardInterrupt
        return original(*args)

    monkeypatch.setattr(module, name, stopping)


def _run_ids(task_dir: Path, seeds: list[int]) -> dict[int, str]:
    return {seed: (task_dir / f"seed{seed}" / "mlflow_run_id").read_text().strip() for seed in seeds}


def _tcn_stopped_at_seed_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """TCN jsb_chorales (smoke) over seeds 1 and 2, stopped once seed 1 finished: the results path and
    seed 1's MLflow run."""
    results_path = tmp_path / "result.json"
    with monkeypatch.context() as patch:
        _interrupt_at_seed(patch, experiment, "train_seed", seed=2)
        with pytest.raises(KeyboardInterrupt):
            run(TCN, "jsb_chorales", "smoke", seeds=[1, 2], results_path=results_path, options=_options(tmp_path))
    return results_path, _run_ids(_task_dir(tmp_path), [1])[1]


def _options(tmp_path: Path, resume: bool = True) -> RunOptions:
    return RunOptions(run_root=tmp_path / "runs", progress=False, resume=resume)


def _task_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs" / "tcn" / "jsb_chorales" / "smoke"


@pytest.mark.slow
def test_an_interrupted_command_keeps_its_finished_seeds_and_a_completed_one_retrains(
    prepared_data: Path, tmp_path: Path, mlflow_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    results_path, finished = _tcn_stopped_at_seed_2(tmp_path, monkeypatch)
    again = run(TCN, "jsb_chorales", "smoke", seeds=[1, 2], results_path=results_path, options=_options(tmp_path))
    assert again.seeds[0].mlflow_run_id == finished  # seed 1 kept, not trained again
    assert not (_task_dir(tmp_path) / unfinished.MARKER).exists()
    fresh = run(TCN, "jsb_chorales", "smoke", seeds=[1, 2], results_path=results_path, options=_options(tmp_path))
    assert not {s.mlflow_run_id for s in fresh.seeds} & {s.mlflow_run_id for s in again.seeds}
    assert [s.value for s in fresh.seeds] == [s.value for s in again.seeds]  # deterministic either way


@pytest.mark.slow
def test_without_resume_an_interrupted_commands_seeds_train_again(
    prepared_data: Path, tmp_path: Path, mlflow_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    results_path, finished = _tcn_stopped_at_seed_2(tmp_path, monkeypatch)
    fresh = _options(tmp_path, resume=False)
    again = run(TCN, "jsb_chorales", "smoke", seeds=[1, 2], results_path=results_path, options=fresh)
    assert again.seeds[0].mlflow_run_id != finished


@pytest.mark.slow
def test_an_interrupted_1997_command_keeps_its_finished_trials(
    tmp_path: Path, mlflow_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = RunOptions(run_root=tmp_path / "runs", progress=False)
    task, results_path = "temporal_order_6a", tmp_path / "result.json"
    task_dir = tmp_path / "runs" / "lstm" / task / "smoke"
    cfg = LSTM.config(task, "smoke")
    with monkeypatch.context() as patch:
        _interrupt_at_seed(patch, trials, "run_trial", seed=2)
        with pytest.raises(KeyboardInterrupt):
            trials.run(LSTM, task, "smoke", cfg, results_path, seeds=[1, 2], options=options)
    finished = _run_ids(task_dir, [1])
    again = trials.run(LSTM, task, "smoke", cfg, results_path, seeds=[1, 2], options=options)
    assert again.seeds[0].mlflow_run_id == finished[1]
    fresh = trials.run(LSTM, task, "smoke", cfg, results_path, seeds=[1, 2], options=options)
    assert not {s.mlflow_run_id for s in fresh.seeds} & {s.mlflow_run_id for s in again.seeds}
