"""Settings that used to pass validation and then crash or train on nothing (issue 12 item 7), and
files that are cut short or malformed (item 8), stop ``python -m papers.<p>`` with one line and
status 2, naming the file (and key) and what to do; nothing else is touched."""

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
    ("tcn", "jsb_chorales", {"train": {"batch_size": 8}}, "train.batch_size: 8 must be 1 for poly_music"),
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


def run_cli(paper: Paper, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(paper, list(args))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return status, err


def one_line(err: str) -> bool:
    return err.startswith("error: ") and err.count("\n") == 1


def test_malformed_params_or_paper_yaml_and_an_empty_params_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paper = paper_with("tcn", "adding_t600", {}, tmp_path / "paper")
    card = paper.card_path.read_text()
    paper.card_path.write_text(card.replace("reported:", "reported: [", 1))  # an unclosed flow sequence
    status, err = run_cli(paper, "train", "adding_t600", "--profile", "smoke", capsys=capsys)
    assert status == 2 and one_line(err)
    assert f"{paper.card_path}: not valid YAML at line" in err and f"`git checkout -- {paper.card_path}`" in err

    paper.card_path.write_text(card)
    paper.params_path.write_text(paper.params_path.read_text() + "tasks: {adding_t600: [\n")
    for command in (["tasks"], ["train", "adding_t600"]):
        status, err = run_cli(paper, *command, capsys=capsys)
        assert status == 2 and one_line(err) and f"{paper.params_path}: not valid YAML at line" in err

    paper.params_path.write_text("")
    for command in (["tasks"], ["train", "adding_t600"]):
        status, err = run_cli(paper, *command, capsys=capsys)
        assert status == 2 and one_line(err) and f"{paper.params_path}: tasks: missing or not a mapping" in err


def test_an_empty_or_truncated_bring_your_own_file_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from papers.tcn.__main__ import PAPER
    from shared.data.external import EXTERNAL_ENV

    corpus = tmp_path / "external" / "lambada"
    corpus.mkdir(parents=True)
    monkeypatch.setenv(EXTERNAL_ENV, str(tmp_path / "external"))
    (corpus / "train.txt").write_text("a novel\n")
    (corpus / "valid.txt").write_text("")
    (corpus / "test.txt").write_bytes("an ending, cut inside a character: \u00e9".encode()[:-1])
    args = ["train", "lambada", "--profile", "paper", "--run-root", str(tmp_path / "runs")]
    status, err = run_cli(PAPER, *args, capsys=capsys)
    assert status == 2 and one_line(err) and f"{corpus / 'valid.txt'} is empty; provide it again: LAMBADA" in err
    (corpus / "valid.txt").write_text("a novel\n")
    status, err = run_cli(PAPER, *args, capsys=capsys)
    assert status == 2 and one_line(err) and f"{corpus / 'test.txt'} is not UTF-8 text (unexpected end of data" in err
    assert (corpus / "train.txt").read_text() == "a novel\n"  # the user's files, untouched


def test_a_truncated_prepared_file_says_which_stage_remakes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from papers.tcn.__main__ import PAPER
    from shared.data.prepared import PREPARED_ENV, save_prepared

    monkeypatch.setenv(PREPARED_ENV, str(tmp_path / "prepared"))
    path = tmp_path / "prepared" / "polyphonic_music" / "JSB_Chorales.pt"
    save_prepared({"train": [torch.ones(3, 88, dtype=torch.uint8)]}, path)
    path.write_bytes(path.read_bytes()[:200])
    args = ["train", "jsb_chorales", "--profile", "smoke", "--run-root", str(tmp_path / "runs")]
    status, err = run_cli(PAPER, *args, capsys=capsys)
    assert status == 2 and one_line(err)
    assert f"prepared file {path} cannot be read" in err and "`dvc repro prepare@polyphonic_music`" in err


@pytest.mark.slow
def test_a_truncated_checkpoint_says_no_resume_which_then_trains(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mlflow_store: str
) -> None:
    from papers.tcn.__main__ import PAPER
    from shared.train import checkpoint

    last = tmp_path / "runs" / "tcn" / "adding_t600" / "smoke" / "seed1" / "last.pt"
    last.parent.mkdir(parents=True)
    last.write_bytes(b"PK\x03\x04 the first bytes of a checkpoint, then nothing")
    args = ["train", "adding_t600", "--profile", "smoke", "--run-root", str(tmp_path / "runs"), "--no-progress"]
    args += ["--results", str(tmp_path / "result.json")]
    status, err = run_cli(PAPER, *args, capsys=capsys)
    assert status == 2 and one_line(err)
    assert f"{last} cannot be read" in err and f"--no-resume, or delete {last}" in err
    status, err = run_cli(PAPER, *args, "--no-resume", capsys=capsys)
    assert status == 0, err
    assert checkpoint.load(last)["epoch"] == 2  # overwritten by the new run's


def test_a_truncated_trial_outcome_is_named_when_it_would_be_reused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from papers.lstm.__main__ import PAPER

    outcome = tmp_path / "runs" / "lstm" / "temporal_order_6a" / "smoke" / "seed1" / "outcome.json"
    outcome.parent.mkdir(parents=True)
    outcome.write_text('{"seed": 1, "succeeded": tr')
    args = ["train", "temporal_order_6a", "--profile", "smoke", "--run-root", str(tmp_path / "runs")]
    status, err = run_cli(PAPER, *args, "--keep-finished", capsys=capsys)
    assert status == 2 and one_line(err) and f"{outcome}: not a finished trial's outcome" in err
    assert outcome.read_text() == '{"seed": 1, "succeeded": tr'
