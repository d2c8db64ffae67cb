"""LibriSpeech (Panayotov et al. 2015), bring your own data: the ``paper`` profile of Deep Speech 2.

Not distributed with this project (the smallest official subsets are over 300 MB; see
``data/fsdd/SOURCE.md``). Unpack the official archives (https://www.openslr.org/12) so that
``external/librispeech/<subset>/<speaker>/<chapter>/`` holds the ``.flac`` files and their
``<speaker>-<chapter>.trans.txt``, for the subsets ``train-clean-100``, ``train-clean-360``,
``train-other-500``, ``dev-clean`` and ``test-clean`` (``external/`` as in
:mod:`shared.data.external`; a missing subset is an error naming it).
"""

from __future__ import annotations

from pathlib import Path

import soundfile
import torch

from shared.data.checksums import DataError
from shared.data.external import external_root

SAMPLE_RATE = 16000
TRAIN = ("train-clean-100", "train-clean-360", "train-other-500")
DEV, TEST = "dev-clean", "test-clean"
SOURCE = "the LibriSpeech archives of https://www.openslr.org/12, unpacked (LibriSpeech/<subset>/...)"


def require_subsets(subsets: tuple[str, ...], root: Path | None = None) -> dict[str, Path]:
    """The folders of ``subsets`` under ``external/librispeech``; DataError naming every missing one."""
    base = (root or external_root()) / "librispeech"
    paths = {name: base / name for name in subsets}
    missing = [str(p) for p in paths.values() if not any(p.glob("*/*/*.trans.txt"))]
    if missing:
        raise DataError(
            f"LibriSpeech is not distributed with this project. Provide {', '.join(missing)} yourself "
            f"(each <speaker>/<chapter>/ with its .flac files and <speaker>-<chapter>.trans.txt): {SOURCE}."
        )
    return paths


def read_subset(folder: Path) -> list[tuple[torch.Tensor, str]]:
    """Every utterance of one subset folder: the waveform (float32, 16 kHz) and its transcript in
    lower case, in the order of the utterance ids."""
    utterances = []
    for listing in sorted(folder.glob("*/*/*.trans.txt")):
        for line in listing.read_text(encoding="utf-8").splitlines():
            utterance, _, text = line.partition(" ")
            samples, rate = soundfile.read(listing.parent / f"{utterance}.flac", dtype="float32")
            if rate != SAMPLE_RATE:
                raise DataError(f"{listing.parent / utterance}.flac: {rate} Hz, expected {SAMPLE_RATE}")
            utterances.append((torch.from_numpy(samples), text.lower()))
    return utterances
