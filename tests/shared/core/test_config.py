"""Typed configuration: profiles merge, and every mistake names the file and the key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from shared.core.config import ConfigError, load_task_config
from shared.train.config import TrainConfig


@dataclass
class Model:
    hidden: int = 8
    dropout: float = 0.0


@dataclass
class Schema:
    model: Model = field(default_factory=Model)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1))


def write_params(tmp_path: Path, task: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"tasks": {"toy": task}}))
    return path


BASE = {
    "model": {"hidden": 16, "dropout": 0.5},
    "train": {"epochs": 10, "lr": 0.002},
    "profiles": {"smoke": {"train": {"epochs": 1}}, "cpu": {}, "paper": {"model": {"hidden": 32}}},
}


def test_profile_is_merged_onto_the_base(tmp_path: Path) -> None:
    path = write_params(tmp_path, BASE)
    smoke = load_task_config(path, "toy", "smoke", Schema)
    assert smoke.train.epochs == 1 and smoke.model.hidden == 16 and smoke.train.lr == 0.002
    paper = load_task_config(path, "toy", "paper", Schema)
    assert paper.model.hidden == 32 and paper.model.dropout == 0.5 and paper.train.epochs == 10


def test_int_is_accepted_where_a_float_is_expected(tmp_path: Path) -> None:
    path = write_params(tmp_path, {**BASE, "model": {"dropout": 0}})
    assert load_task_config(path, "toy", "cpu", Schema).model.dropout == 0.0


@pytest.mark.parametrize(
    ("task", "profile", "expected"),
    [
        ({**BASE, "model": {"hiden": 3}}, "cpu", "tasks.toy.model.hiden: unknown key"),
        ({**BASE, "train": {"epochs": 1, "lrr": 0.1}}, "cpu", "tasks.toy.train.lrr: unknown key"),
        ({**BASE, "model": {"hidden": "wide"}}, "cpu", "tasks.toy.model.hidden: expected int, got 'wide'"),
        ({**BASE, "model": {"hidden": 2.5}}, "cpu", "tasks.toy.model.hidden: expected int"),
        ({**BASE, "train": {"epochs": True}}, "cpu", "tasks.toy.train.epochs: expected int"),
        ({**BASE, "train": {"lr": 0.1}}, "cpu", "tasks.toy.train.epochs: required key is missing"),
        ({**BASE, "train": {"epochs": 1, "optimizer": "adamw"}}, "cpu", "train.optimizer: 'adamw' is not one of"),
        ({**BASE, "profiles": {"cpu": {}}}, "smoke", "tasks.toy.profiles.smoke: profile is missing"),
        ({**BASE, "profiles": {"cpu": {}, "gpu": {}}}, "cpu", "tasks.toy.profiles.gpu: unknown profile"),
        ({**BASE, "profiles": {"cpu": {"model": {"depth": 2}}}}, "cpu", "tasks.toy.model.depth: unknown key"),
    ],
)
def test_mistakes_name_the_file_and_the_key(tmp_path: Path, task: dict, profile: str, expected: str) -> None:
    path = write_params(tmp_path, task)
    with pytest.raises(ConfigError) as err:
        load_task_config(path, "toy", profile, Schema)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_unknown_task_and_profile_and_missing_file(tmp_path: Path) -> None:
    path = write_params(tmp_path, BASE)
    with pytest.raises(ConfigError, match=r"tasks\.nope: unknown task \(known: toy\)"):
        load_task_config(path, "nope", "cpu", Schema)
    with pytest.raises(ConfigError, match="profile 'gpu' is not one of smoke, cpu, paper"):
        load_task_config(path, "toy", "gpu", Schema)
    with pytest.raises(ConfigError, match="file not found"):
        load_task_config(tmp_path / "missing.yaml", "toy", "cpu", Schema)
