"""Every TCN task at the smoke profile, the "learns" check, and the data errors."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from papers.tcn.__main__ import PAPER, build_model, build_task
from papers.tcn.config import DataConfig, ModelConfig, TaskConfig
from shared.core.config import read_yaml
from shared.data.checksums import DataError
from shared.data.prepared import PREPARED_ENV
from shared.results.paper_card import load_card
from shared.run import experiment
from shared.run.experiment import RunOptions
from shared.train import runtime
from shared.train.config import TrainConfig
from shared.train.loop import Trainer

ALL_TASKS = read_yaml(PAPER.params_path)["tasks"]
SMOKE_TASKS = [task for task, entry in ALL_TASKS.items() if "smoke" in entry["profiles"]]
BYO_TASKS = [task for task in ALL_TASKS if task not in SMOKE_TASKS]
PAPER_VALUES = {number.task: number.value for number in load_card(PAPER.card_path).reported}


@pytest.mark.parametrize("task", BYO_TASKS)
def test_bring_your_own_data_tasks_name_the_missing_files(task: str, tmp_path: Path) -> None:
    # external/ is the session's empty folder (tests/conftest.py)
    with pytest.raises(DataError, match=rf"not distributed.*/external/{task}/train\.txt"):
        experiment.run(PAPER, task, "paper", options=RunOptions(run_root=tmp_path / "runs", progress=False))


def test_missing_prepared_data_says_how_to_make_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(PREPARED_ENV, str(tmp_path / "empty"))
    with pytest.raises(DataError, match=r"dvc repro prepare@polyphonic_music"):
        experiment.run(PAPER, "jsb_chorales", "smoke", options=RunOptions(run_root=tmp_path / "runs", progress=False))


def test_cli_reports_config_errors_without_a_traceback(capsys) -> None:
    assert experiment.main(PAPER, ["train", "no_such_task", "--profile", "smoke"]) == 2
    assert "tasks.no_such_task: unknown task" in capsys.readouterr().err


@pytest.mark.slow
def test_a_small_tcn_learns_the_adding_problem(tmp_path: Path) -> None:
    """T=50: MSE below 0.05 (always predicting 1 gives ~0.167) within a minute on CPU."""
    cfg = TaskConfig(
        data=DataConfig(kind="adding", seq_len=50, n_train=16000, n_test=500, eval_batch_size=500),
        model=ModelConfig(arch="tcn", hidden=24, levels=4, kernel_size=6),
        train=TrainConfig(epochs=3, batch_size=32, lr=0.004, selection="last"),
    )
    runtime.seed_everything(0)
    task = build_task(cfg, seed=0, device=torch.device("cpu"))
    model = build_model(cfg, task)
    assert model.encoder.receptive_field >= 50
    result = Trainer(model, task, cfg.train, tmp_path, seed=0, fingerprint="learns", progress=False).fit()
    assert result.value < 0.05, result.history


@pytest.mark.slow
def test_an_interrupted_run_resumes_into_the_same_mlflow_run(tmp_path: Path, mlflow_store: str) -> None:
    from mlflow import MlflowClient

    class Killed(Exception):
        pass

    def kill(step: int) -> None:
        if step == 3:
            raise Killed

    # The smoke profile with a checkpoint every 2 steps, in a copy of the paper folder.
    folder = tmp_path / "tcn"
    folder.mkdir()
    shutil.copy(PAPER.card_path, folder / "paper.yaml")
    params = read_yaml(PAPER.params_path)
    params["tasks"]["adding_t600"]["profiles"]["smoke"]["train"]["checkpoint_every"] = 2
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    paper = dataclasses.replace(PAPER, folder=folder)

    kwargs = {"results_path": tmp_path / "r.json", "options": RunOptions(run_root=tmp_path / "runs", progress=False)}
    with pytest.raises(Killed):
        experiment.run(paper, "adding_t600", "smoke", on_step=kill, **kwargs)
    first_run = (tmp_path / "runs" / "tcn" / "adding_t600" / "smoke" / "seed1" / "mlflow_run_id").read_text()
    result = experiment.run(paper, "adding_t600", "smoke", **kwargs)
    assert result.seeds[0].mlflow_run_id == first_run
    assert result.seeds[0].steps == 8  # 256 examples / batch 32, the same as an uninterrupted epoch
    assert MlflowClient(tracking_uri=mlflow_store).get_run(first_run).info.status == "FINISHED"
