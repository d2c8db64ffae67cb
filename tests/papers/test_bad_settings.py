"""Settings that used to pass validation and then crash or train on nothing (issue 12 item 7) stop
``python -m papers.<p> train`` before anything runs: one line, status 2, naming the file and key."""

from __future__ import annotations

import dataclasses
import importlib
import math
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from shared.core.config import deep_merge
from shared.run.experiment import Paper, main

NAN, INF = math.nan, math.inf


def paper_with(key: str, task: str, override: dict, folder: Path) -> Paper:
    """Paper ``key`` reading a copy of its params.yaml in ``folder`` whose ``smoke`` profile of
    ``task`` has ``override`` merged in (its card copied beside it)."""
    paper = importlib.import_module(f"papers.{key}.__main__").PAPER
    params = yaml.safe_load(paper.params_path.read_text())
    profiles = params["tasks"][task]["profiles"]
    profiles["smoke"] = deep_merge(profiles["smoke"] or {}, override)
    folder.mkdir()
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    shutil.copy(paper.card_path, folder / "paper.yaml")
    return dataclasses.replace(paper, folder=folder)


CASES = [
    ("tcn", "adding_t600", {"train": {"lr": NAN}}, "train.lr: expected a finite number, got nan"),
    ("tcn", "adding_t600", {"train": {"clip": INF}}, "train.clip: expected a finite number, got inf"),
    ("tcn", "adding_t600", {"train": {"log_every": 0}}, "train.log_every: 0 must be >= 1"),
    ("tcn", "adding_t600", {"train": {"max_steps_per_epoch": 0}}, "train.max_steps_per_epoch: 0 must be >= 1"),
    ("tcn", "adding_t600", {"train": {"max_steps_per_epoch": -1}}, "train.max_steps_per_epoch: -1 must be >= 1"),
    ("tcn", "adding_t600", {"data": {"limit_train": 0}}, "data.limit_train: 0 must be >= 1 (or null)"),
    ("tcn", "adding_t600", {"data": {"limit_eval": -1}}, "data.limit_eval: -1 must be >= 1 (or null)"),
    ("tcn", "adding_t600", {"model": {"hidden": 0}}, "model.hidden: 0 must be >= 1"),
    ("tcn", "adding_t600", {"train": {"device": "gpu"}}, "train.device: 'gpu' is not one of auto, cpu, cuda"),
    ("tcn", "jsb_chorales", {"data": {"dataset": "JSB_Chorale"}}, "data.dataset: 'JSB_Chorale' is not one of"),
    ("tcn", "word_ptb", {"data": {"dataset": "ptb-word"}}, "data.dataset: 'ptb-word' is not one of ptb_char"),
    ("gru", "jsb_chorales_gru", {"model": {"hidden": 0}}, "model.hidden: 0 must be >= 1"),
    ("gru", "jsb_chorales_gru", {"data": {"dataset": "jsb"}}, "data.dataset: 'jsb' is not one of JSB_Chorales"),
    ("gru", "jsb_chorales_gru", {"data": {"limit_train": 0}}, "data.limit_train: 0 must be >= 1"),
    ("gru", "multi30k_gru", {"data": {"dataset": "multi30"}}, "data.dataset: 'multi30' is not one of multi30k"),
    ("gru", "jsb_chorales_gru", {"train": {"weight_decay": NAN}}, "train.weight_decay: expected a finite number"),
    ("lstm", "zaremba_small", {"model": {"hidden": 0}}, "model.hidden: 0 must be >= 1"),
    ("lstm", "zaremba_small", {"data": {"limit_eval": 0}}, "data.limit_eval: 0 must be >= 1"),
    ("lstm", "zaremba_small", {"train": {"lr": NAN}}, "train.lr: expected a finite number"),
    ("lstm", "temporal_order_6a", {"model": {"blocks": 0}}, "model.blocks: 0 must be >= 1"),
    ("lstm", "temporal_order_6a", {"train": {"lr": NAN}}, "train.lr: expected a finite number"),
]


@pytest.mark.parametrize(("key", "task", "override", "expected"), CASES, ids=[f"{c[0]}-{c[1]}-{c[3]}" for c in CASES])
def test_a_bad_setting_is_one_line_naming_the_file_and_key_and_nothing_runs(
    key: str, task: str, override: dict, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paper = paper_with(key, task, override, tmp_path / "paper")
    runs = tmp_path / "runs"
    assert main(paper, ["train", task, "--profile", "smoke", "--run-root", str(runs), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {paper.params_path}: tasks.{task}") and err.count("\n") == 1, err
    assert expected in err
    assert not runs.exists()  # nothing trained, nothing written


def test_cuda_asked_for_without_a_cuda_device_names_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    paper = paper_with("tcn", "adding_t600", {"train": {"device": "cuda"}}, tmp_path / "paper")
    runs = tmp_path / "runs"
    assert main(paper, ["train", "adding_t600", "--profile", "smoke", "--run-root", str(runs)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {paper.params_path}: tasks.adding_t600.train.device: device 'cuda' was requested but CUDA is not "
        "available; set it to auto (CUDA when present, else the CPU) or cpu\n"
    )
    assert not runs.exists()
