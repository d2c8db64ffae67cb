"""Every GRU-paper task at the smoke profile, the lr search in the results file, the "learns"
check against the frame-independent floor, and the data errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from papers.gru.__main__ import PAPER, build_model, build_task
from papers.gru.config import DataConfig, ModelConfig, TaskConfig
from shared.core.config import ConfigError, from_dict, read_yaml
from shared.data import polyphonic_music
from shared.data.checksums import DataError
from shared.results.paper_card import load_card
from shared.run import experiment
from shared.run.experiment import RunOptions
from shared.tasks.music import bernoulli_baseline_nll
from shared.train import runtime
from shared.train.config import TrainConfig
from shared.train.loop import Trainer

ALL_TASKS = read_yaml(PAPER.params_path)["tasks"]
SMOKE_TASKS = [task for task, entry in ALL_TASKS.items() if "smoke" in entry["profiles"]]
BYO_TASKS = [task for task in ALL_TASKS if task not in SMOKE_TASKS]
CARD = load_card(PAPER.card_path)


@pytest.fixture(scope="module")
def gru_data(prepared_data: Path) -> Path:
    """``prepared/`` with Multi30k as well (the session fixture prepares every dataset)."""
    assert (prepared_data / "multi30k" / "multi30k.pt").exists()
    return prepared_data


@pytest.mark.parametrize("task", ["jsb_chorales_gru", "multi30k_gru"])
def test_smoke_results_record_the_lr_search_or_the_bleu(
    task: str, tmp_path: Path, mlflow_store: str, gru_data: Path
) -> None:
    """What the conformance suite does not check: the lr search's record, BLEU's range."""
    from mlflow import MlflowClient

    results_path = tmp_path / "results" / f"{task}.json"
    experiment.run(
        PAPER, task, "smoke", results_path=results_path, options=RunOptions(run_root=tmp_path / "runs", progress=False)
    )
    result = json.loads(results_path.read_text())
    assert result["task"] == task and result["profile"] == "smoke"
    number = CARD.number_for(task)
    assert result["paper_value"] == (number.value if number else None)
    client = MlflowClient(tracking_uri=mlflow_store)
    run = client.get_run(result["seeds"][0]["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.metrics[f"ours/{result['metric']}"] == pytest.approx(result["ours"])
    assert (tmp_path / "results" / "curves" / f"{task}.csv").exists()
    if result["metric"] == "nll_per_frame":
        # Two lr candidates; the reported one has the best validation NLL, its test NLL reported.
        search = result["lr_search"]
        assert len(search) == 2 and sum(c["selected"] for c in search) == 1
        chosen = next(c for c in search if c["selected"])
        assert chosen["valid"][0] == min(c["valid"][0] for c in search)
        assert chosen["lr"] == result["config"]["train.lr"] and chosen["test"][0] == result["ours"]
        assert result["wall_time_s"] == pytest.approx(sum(c["wall_time_s"] for c in search), abs=0.11)
        assert client.get_run(search[0]["mlflow_run_ids"][0]).data.tags["lr_candidate"] == "0"
    else:
        assert result["metric"] == "bleu" and result["lr_search"] is None and 0 <= result["ours"] <= 100


@pytest.mark.parametrize("task", BYO_TASKS)
def test_bring_your_own_data_tasks_name_the_missing_files(task: str, tmp_path: Path) -> None:
    # external/ is the session's empty folder (tests/conftest.py)
    with pytest.raises(DataError, match=r"not distributed.*/external/wmt14_en_fr/train\.en.*newstest2014"):
        experiment.run(PAPER, task, "paper", options=RunOptions(run_root=tmp_path / "runs", progress=False))


def test_every_task_has_a_card_entry_and_the_music_numbers_are_flagged_unverified() -> None:
    tasks = {r.task: r for r in CARD.reported}
    assert set(tasks) == set(ALL_TASKS)
    music = [t for t in tasks.values() if t.metric == "nll_per_frame"]
    assert len(music) == 12 + 6 and not any(t.verified for t in music)  # 6 rows trained to convergence
    assert all(tasks[t].value is None for t in ("multi30k_gru", "multi30k_lstm", "wmt14_en_fr_gru"))


def test_config_errors_name_the_key() -> None:
    entry = {"data": {"kind": "music", "dataset": "JSB_Chorales"}, "model": {"arch": "peephole"}}
    with pytest.raises(ConfigError, match=r"t\.model: model\.arch: 'peephole' is not one of"):
        from_dict(TaskConfig, entry, "t")
    with pytest.raises(ConfigError, match=r"t\.lr_search: lr_search: log_low"):
        from_dict(TaskConfig, {**entry, "model": {}, "lr_search": {"log_low": -6, "log_high": -12}}, "t")
    with pytest.raises(ValueError, match="unknown polyphonic music corpus"):
        build_task(TaskConfig(data=DataConfig(kind="music", dataset="Bach")), 0, torch.device("cpu"))


def test_a_gru_beats_the_frame_independent_floor_on_jsb_within_a_minute(tmp_path: Path, prepared_data: Path) -> None:
    """Chung et al.'s GRU (46 units, RMSProp, weight noise) against each pitch's training frequency."""
    cfg = TaskConfig(
        data=DataConfig(kind="music", dataset="JSB_Chorales"),
        model=ModelConfig(arch="gru", hidden=46, weight_noise=0.075),
        train=TrainConfig(epochs=25, batch_size=16, optimizer="rmsprop", lr=0.002, clip=1.0),
    )
    runtime.seed_everything(0)
    task = build_task(cfg, seed=0, device=torch.device("cpu"))
    result = Trainer(
        build_model(cfg, task), task, cfg.train, tmp_path, seed=0, fingerprint="learns", progress=False
    ).fit()
    data = polyphonic_music.load("JSB_Chorales")
    floor = bernoulli_baseline_nll(data["train"], data["test"])
    assert 11.0 < floor < 11.2  # 11.09 nats per frame
    assert result.value < floor - 1.0, (result.value, floor)


@pytest.mark.parametrize(
    "base", ["nottingham_tanh", "nottingham_gru", "nottingham_lstm", "musedata_tanh", "musedata_gru", "musedata_lstm"]
)
def test_a_converged_task_trains_the_lr_its_search_selected_with_the_same_model(base: str) -> None:
    """The lr of ``<base>_converged`` is written in params.yaml: it must be the committed search's choice."""
    search = json.loads((PAPER.folder / "results" / f"{base}.json").read_text())["lr_search"]
    (selected,) = [c["lr"] for c in search if c["selected"]]
    converged, searched = PAPER.config(f"{base}_converged", "cpu"), PAPER.config(base, "cpu")
    assert converged.train.lr == selected and converged.lr_search is None
    assert converged.model == searched.model and converged.data == searched.data
    assert converged.train.patience == 50 and converged.train.seeds == searched.train.seeds
