r"""The Free Spoken Digit Dataset (FSDD, Jakobovski et al.): 3,000 recordings of single English
digits, 6 speakers x 10 digits x 50 takes, 8 kHz 16-bit mono WAV (``data/fsdd/SOURCE.md``).

Raw: ``data/fsdd/recordings.tar.xz`` (``recordings/{digit}_{speaker}_{take}.wav``),
``manifest.tsv`` (per file: digit, speaker, take, official split, sample rate, samples, sha256)
and ``speakers.json``. The official split is the one of FSDD's README: takes 0-4 of every
(speaker, digit) are the test set (300 recordings), takes 5-49 the training set (2,700).

Preparation reads every WAV with ``soundfile`` and checks it against the manifest (sha256, 8 kHz,
sample count, and that the manifest's split is the take rule). Prepared:
``prepared/fsdd/fsdd.pt``, the recordings sorted by (speaker, digit, take), a dict with ``audio``
(every recording's 16-bit samples, concatenated, int16), ``lengths`` (samples per recording),
``digits``, ``takes`` (int64), ``speakers`` and ``files`` (lists of str).

:func:`connected_digits` builds the connected-digit strings of the Deep Speech 2 reproduction
(``papers/deepspeech2``): recordings of one speaker concatenated with short silences, drawn from a
seed (a fixed, documented construction: the same seed gives the same strings, bit for bit).
"""

from __future__ import annotations

import csv
import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import soundfile
import torch

from shared.data.checksums import DataError, expect_equal, verify_dataset
from shared.data.prepared import load_prepared, save_prepared

ARCHIVE = "recordings.tar.xz"
MANIFEST = "manifest.tsv"
SAMPLE_RATE = 8000
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
TAKES = 50
#: FSDD's README: takes 0-4 of every (speaker, digit) are the test set.
TEST_TAKES = range(5)


def official_split(take: int) -> str:
    """``test`` for takes 0-4, ``train`` for 5-49 (FSDD's README)."""
    return "test" if take in TEST_TAKES else "train"


def _read_manifest(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    expect_equal("fsdd manifest: recordings", len(rows), len(SPEAKERS) * len(DIGIT_WORDS) * TAKES)
    for row in rows:
        expect_equal(
            f"fsdd manifest {row['file']}: official_split", row["official_split"], official_split(int(row["index"]))
        )
    return {row["file"]: row for row in rows}


def prepare(raw_dir: Path, out_dir: Path) -> list[Path]:
    """Verify ``data/fsdd``, read and check every recording, and write ``fsdd.pt``."""
    raw_dir = Path(raw_dir)
    verify_dataset(raw_dir)
    manifest = _read_manifest(raw_dir / MANIFEST)
    waves: dict[str, torch.Tensor] = {}
    with tarfile.open(raw_dir / ARCHIVE, "r:xz") as archive:
        for member in archive:
            name = Path(member.name).name
            if not member.isfile() or name not in manifest:
                continue
            data = archive.extractfile(member).read()
            row = manifest[name]
            expect_equal(f"fsdd {name}: sha256", hashlib.sha256(data).hexdigest(), row["sha256"])
            samples, rate = soundfile.read(io.BytesIO(data), dtype="int16", always_2d=False)
            expect_equal(f"fsdd {name}: sample rate", rate, SAMPLE_RATE)
            expect_equal(f"fsdd {name}: samples", len(samples), int(row["n_samples"]))
            if samples.ndim != 1:
                raise DataError(f"fsdd {name}: expected mono audio, got shape {samples.shape}")
            waves[name] = torch.from_numpy(samples.copy())
    missing = sorted(set(manifest) - set(waves))
    if missing:
        raise DataError(f"fsdd: {len(missing)} recordings of the manifest are not in {ARCHIVE}, e.g. {missing[0]}")
    order = sorted(
        manifest, key=lambda f: (manifest[f]["speaker"], int(manifest[f]["digit"]), int(manifest[f]["index"]))
    )
    prepared: dict[str, Any] = {
        "audio": torch.cat([waves[f] for f in order]),
        "lengths": torch.tensor([len(waves[f]) for f in order], dtype=torch.int64),
        "digits": torch.tensor([int(manifest[f]["digit"]) for f in order], dtype=torch.int64),
        "takes": torch.tensor([int(manifest[f]["index"]) for f in order], dtype=torch.int64),
        "speakers": [manifest[f]["speaker"] for f in order],
        "files": order,
    }
    path = Path(out_dir) / "fsdd.pt"
    save_prepared(prepared, path)
    return [path]


@dataclass(frozen=True)
class Recordings:
    """The prepared recordings: ``waves[i]`` (float32 in [-1, 1)), ``digits[i]``, ``takes[i]``,
    ``speakers[i]``, ``files[i]``."""

    waves: list[torch.Tensor]
    digits: list[int]
    takes: list[int]
    speakers: list[str]
    files: list[str]

    def select(self, speakers: tuple[str, ...] | None = None, split: str | None = None) -> list[int]:
        """Indices of the recordings of ``speakers`` (all when ``None``) in the official ``split``
        (``train``, ``test``, or ``None`` for both)."""
        return [
            i
            for i in range(len(self.files))
            if (speakers is None or self.speakers[i] in speakers)
            and (split is None or official_split(self.takes[i]) == split)
        ]


def load(root: Path | str | None = None) -> Recordings:
    """The prepared recordings, each scaled from int16 to float32 in [-1, 1)."""
    prepared = load_prepared("fsdd", "fsdd", root)
    audio = prepared["audio"].float() / 32768.0
    waves = list(audio.split(prepared["lengths"].tolist()))
    return Recordings(
        waves, prepared["digits"].tolist(), prepared["takes"].tolist(), prepared["speakers"], prepared["files"]
    )


@dataclass(frozen=True)
class ConnectedDigits:
    """One connected-digit utterance: the recordings ``parts`` (indices) of one speaker, with
    ``gaps[k]`` samples of silence before part ``k + 1``."""

    parts: tuple[int, ...]
    gaps: tuple[int, ...]


def connected_digits(
    recordings: Recordings,
    pool: list[int],
    count: int,
    seed: int,
    min_digits: int = 2,
    max_digits: int = 7,
    gap_ms: tuple[int, int] = (50, 250),
) -> list[ConnectedDigits]:
    """``count`` connected-digit utterances drawn from the recordings ``pool`` with ``seed``.

    Each utterance: a speaker uniformly among the speakers of ``pool``, a number of digits
    uniformly in ``[min_digits, max_digits]``, that many recordings of that speaker uniformly from
    ``pool`` (without replacement within the utterance), and between consecutive ones a silence of
    a uniform number of milliseconds in ``gap_ms`` (inclusive). Everything is drawn from one
    ``torch.Generator`` seeded with ``seed``, in that order, so the construction is a pure function
    of its arguments. A test set is built from a pool of test takes only.
    """
    if not 1 <= min_digits <= max_digits:
        raise ValueError(f"connected_digits: need 1 <= min_digits <= max_digits, got {min_digits}, {max_digits}")
    if not 0 <= gap_ms[0] <= gap_ms[1]:
        raise ValueError(f"connected_digits: gap_ms {gap_ms} is not an interval of milliseconds")
    by_speaker: dict[str, list[int]] = {}
    for i in pool:
        by_speaker.setdefault(recordings.speakers[i], []).append(i)
    speakers = sorted(by_speaker)
    short = [s for s in speakers if len(by_speaker[s]) < max_digits]
    if not speakers or short:
        raise ValueError(
            f"connected_digits: every speaker of the pool needs {max_digits} recordings ({short or 'none'})"
        )
    generator = torch.Generator().manual_seed(seed)
    per_ms = SAMPLE_RATE // 1000
    utterances = []
    for _ in range(count):
        own = by_speaker[speakers[int(torch.randint(len(speakers), (1,), generator=generator))]]
        n = int(torch.randint(min_digits, max_digits + 1, (1,), generator=generator))
        parts = tuple(own[j] for j in torch.randperm(len(own), generator=generator)[:n].tolist())
        gaps = tuple(
            per_ms * g for g in torch.randint(gap_ms[0], gap_ms[1] + 1, (n - 1,), generator=generator).tolist()
        )
        utterances.append(ConnectedDigits(parts, gaps))
    return utterances


def render(recordings: Recordings, utterance: ConnectedDigits) -> tuple[torch.Tensor, str]:
    """The waveform of ``utterance`` (its recordings with silences between them) and its
    transcript, the digit words separated by spaces (``"seven one four"``)."""
    pieces = [recordings.waves[utterance.parts[0]]]
    for gap, part in zip(utterance.gaps, utterance.parts[1:], strict=True):
        pieces += [torch.zeros(gap), recordings.waves[part]]
    return torch.cat(pieces), " ".join(DIGIT_WORDS[recordings.digits[p]] for p in utterance.parts)
