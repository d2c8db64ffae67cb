"""Preparation of the real raw data pulled by DVC; skipped when it has not been pulled."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from shared.core.paths import REPO_ROOT
from shared.data import mnist, polyphonic_music, ptb

DATA = REPO_ROOT / "data"

pytestmark = pytest.mark.skipif(
    not (DATA / "polyphonic_music" / "SOURCE.md").is_file(), reason="raw data not pulled (dvc pull)"
)


def test_polyphonic_music(tmp_path: Path) -> None:
    written = polyphonic_music.prepare(DATA / "polyphonic_music", tmp_path / "polyphonic_music")
    assert sorted(p.name for p in written) == sorted(f"{n}.pt" for n in polyphonic_music.NAMES)
    jsb = polyphonic_music.load("JSB_Chorales", root=tmp_path)
    assert [len(jsb[split]) for split in ("train", "valid", "test")] == [229, 76, 77]
    assert sum(roll.shape[0] for roll in jsb["train"]) == 13_807
    for roll in jsb["train"]:
        assert roll.dtype == torch.float32 and roll.shape[1] == 88
    with pytest.raises(ValueError, match="JSB_Chorales, Nottingham, MuseData, Piano_midi"):
        polyphonic_music.load("jsb", root=tmp_path)


def test_mnist(tmp_path: Path) -> None:
    mnist.prepare(DATA / "mnist", tmp_path / "mnist")
    data = mnist.load(root=tmp_path)
    assert data["train_images"].shape == (60000, 784) and data["train_images"].dtype == torch.uint8
    assert data["test_images"].shape == (10000, 784) and data["test_images"].dtype == torch.uint8
    assert data["train_labels"].shape == (60000,) and data["train_labels"].dtype == torch.int64
    assert data["test_labels"].shape == (10000,) and data["test_labels"].dtype == torch.int64
    # SOURCE.md: mean pixel / 255 is 0.1307 and there are 5923 zeros in train.
    assert data["train_images"].double().mean().item() / 255 == pytest.approx(0.1307, abs=1e-4)
    assert (data["train_labels"] == 0).sum().item() == 5923


def test_ptb_word(tmp_path: Path) -> None:
    ptb.prepare_word(DATA / "ptb_word", tmp_path / "ptb_word")
    corpus = ptb.load_word(root=tmp_path)
    assert len(corpus["vocab"]) == 10_000 and corpus["vocab"][0] == "aer"
    assert [corpus[s].numel() for s in ("train", "valid", "test")] == [929_589, 73_760, 82_430]
    assert corpus["train"].dtype == torch.int64
    assert corpus["vocab"][corpus["train"][-1]] == "<eos>"


def test_ptb_char(tmp_path: Path) -> None:
    ptb.prepare_char(DATA / "ptb_char", tmp_path / "ptb_char")
    corpus = ptb.load_char(root=tmp_path)
    assert len(corpus["vocab"]) == 50
    # One <eos> per line plus one for the final line holding a single space.
    assert [corpus[s].numel() for s in ("train", "valid", "test")] == [5_017_483, 393_043, 442_424]
    eos = corpus["vocab"].index("<eos>")
    assert corpus["train"][-2:].tolist() == [eos, eos]
