r"""SICK (Marelli et al. 2014; SemEval-2014 Task 1) for semantic relatedness, with the parses of
Tai et al.'s (2015) preprocessing: sentence pairs scored 1-5 by their relatedness.

Raw: ``data/sick/{train,dev,test}/`` (see its ``SOURCE.md``; ``dev`` is SICK's trial split): per
side ``a`` and ``b`` of each pair the tokens (``*.toks``), the dependency parse (``*.parents``:
per token the 1-based index of its head, 0 for the root) and the binarized constituency parse
(``*.cparents``: the tokens first, then the internal nodes, 1-based, 0 for the root); the gold
score (``sim.txt``) and SICK's pair id (``id.txt``). 4,500 / 500 / 4,927 pairs.

Vocabulary: case-sensitive tokens (Tai et al.'s ``vocab-cased.txt``). ``<pad>`` (id 0) and
``<unk>`` (id 1), then every training token, most frequent first (ties alphabetical), then the
tokens seen only in dev or test, alphabetically; ``train_vocab_size`` as in :mod:`shared.data.sst`
(ids at or above it read as ``<unk>`` by a model without pretrained vectors).

Prepared: ``prepared/sick/sick.pt``, a dict with ``vocab``, ``train_vocab_size`` and per split
``s`` and side ``x`` in ``a``, ``b``: ``s_x_words`` (token ids, concatenated), ``s_x_lengths``
(tokens per sentence), ``s_x_parents`` (dependency parents, 0-based, -1 for the root, one per
token, concatenated), ``s_x_cparents`` (constituency parents in the same encoding, concatenated)
and ``s_x_csizes`` (nodes per constituency tree); ``s_scores`` (float32, 1..5) and ``s_ids``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch

from shared.data.checksums import DataError, expect_equal, verify_dataset
from shared.data.prepared import load_prepared, save_prepared

DATASET = "sick"
SPLITS = ("train", "dev", "test")
SIDES = ("a", "b")
PAD, UNK = "<pad>", "<unk>"
PAIRS = {"train": 4_500, "dev": 500, "test": 4_927}
_SIDE_FILES = ("toks", "parents", "cparents")


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _parents(line: str, where: str, size: int | None) -> list[int]:
    """0-based parents (-1 root) of one 1-based line; checked: one root, in range, ``size`` nodes."""
    parents = [int(p) - 1 for p in line.split()]
    if size is not None and len(parents) != size:
        raise DataError(f"{where}: {len(parents)} parents for {size} tokens")
    if parents.count(-1) != 1 or any(not -1 <= p < len(parents) for p in parents):
        raise DataError(f"{where}: not a tree with one root (0) and parents in 1..{len(parents)}: {line!r}")
    return parents


def read_split(split_dir: Path) -> dict[str, list]:
    """The raw files of one split: ``<side>_toks`` (token lists), ``<side>_parents``,
    ``<side>_cparents`` (0-based parent lists), ``scores`` and ``ids``."""
    split = split_dir.name
    out: dict[str, list] = {"scores": [float(s) for s in _lines(split_dir / "sim.txt")]}
    out["ids"] = [int(i) for i in _lines(split_dir / "id.txt")]
    expect_equal(f"sick {split}: pairs (sim.txt)", len(out["scores"]), PAIRS[split])
    expect_equal(f"sick {split}: pairs (id.txt)", len(out["ids"]), PAIRS[split])
    if not all(1.0 <= s <= 5.0 for s in out["scores"]):
        raise DataError(f"{split_dir / 'sim.txt'}: a relatedness score outside [1, 5]")
    for side in SIDES:
        lines = {kind: _lines(split_dir / f"{side}.{kind}") for kind in _SIDE_FILES}
        for kind, rows in lines.items():
            expect_equal(f"sick {split}: lines of {side}.{kind}", len(rows), PAIRS[split])
        toks = [line.split() for line in lines["toks"]]
        out[f"{side}_toks"] = toks
        out[f"{side}_parents"] = [
            _parents(line, f"{split_dir / f'{side}.parents'} line {n + 1}", len(t))
            for n, (line, t) in enumerate(zip(lines["parents"], toks, strict=True))
        ]
        out[f"{side}_cparents"] = [
            _parents(line, f"{split_dir / f'{side}.cparents'} line {n + 1}", None)
            for n, line in enumerate(lines["cparents"])
        ]
        for n, (cparents, t) in enumerate(zip(out[f"{side}_cparents"], toks, strict=True)):
            if len(cparents) < len(t):
                raise DataError(f"{split_dir / f'{side}.cparents'} line {n + 1}: fewer nodes than tokens")
    return out


def vocabulary(splits: dict[str, dict[str, list]]) -> tuple[list[str], int]:
    """The vocabulary of the module docstring and ``train_vocab_size``."""
    counts = Counter(w for side in SIDES for toks in splits["train"][f"{side}_toks"] for w in toks)
    train = sorted(counts, key=lambda w: (-counts[w], w))
    others = {w for split in ("dev", "test") for side in SIDES for toks in splits[split][f"{side}_toks"] for w in toks}
    return [PAD, UNK, *train, *sorted(others - set(counts))], 2 + len(train)


def prepare(raw_dir: Path, out_dir: Path) -> list[Path]:
    """Verify ``data/sick``, read its parses and write ``<out_dir>/sick.pt``."""
    raw_dir = Path(raw_dir)
    files = [f"{split}/{name}" for split in SPLITS for name in ("sim.txt", "id.txt")]
    files += [f"{split}/{side}.{kind}" for split in SPLITS for side in SIDES for kind in _SIDE_FILES]
    verify_dataset(raw_dir, files)
    splits = {split: read_split(raw_dir / split) for split in SPLITS}
    vocab, train_vocab_size = vocabulary(splits)
    index = {word: i for i, word in enumerate(vocab)}
    prepared: dict[str, list[str] | int | torch.Tensor] = {"vocab": vocab, "train_vocab_size": train_vocab_size}

    def flat(rows: list[list[int]]) -> torch.Tensor:
        return torch.tensor([x for row in rows for x in row], dtype=torch.int64)

    for split, raw in splits.items():
        prepared[f"{split}_scores"] = torch.tensor(raw["scores"], dtype=torch.float32)
        prepared[f"{split}_ids"] = torch.tensor(raw["ids"], dtype=torch.int64)
        for side in SIDES:
            toks = raw[f"{side}_toks"]
            prepared[f"{split}_{side}_words"] = flat([[index[w] for w in t] for t in toks])
            prepared[f"{split}_{side}_lengths"] = torch.tensor([len(t) for t in toks], dtype=torch.int64)
            prepared[f"{split}_{side}_parents"] = flat(raw[f"{side}_parents"])
            prepared[f"{split}_{side}_cparents"] = flat(raw[f"{side}_cparents"])
            prepared[f"{split}_{side}_csizes"] = torch.tensor([len(c) for c in raw[f"{side}_cparents"]])
    path = Path(out_dir) / f"{DATASET}.pt"
    save_prepared(prepared, path)
    return [path]


def load(root: Path | str | None = None) -> dict[str, list[str] | int | torch.Tensor]:
    """The prepared pairs: ``vocab``, ``train_vocab_size`` and per split ``<split>_scores``,
    ``<split>_ids`` and per side ``<split>_<side>_words/_lengths/_parents/_cparents/_csizes``."""
    return load_prepared(DATASET, DATASET, root)
