r"""IMDb movie reviews (Maas et al. 2011): 25,000 labelled training and 25,000 test reviews.

Raw: ``data/imdb/aclImdb_labeled.tar.xz``, the ``aclImdb/{train,test}/{pos,neg}/<id>_<stars>.txt``
tree (see its ``SOURCE.md``). The unlabelled ``train/unsup`` reviews are not part of it.

Preparation (deterministic, no tokenizer library):

* Tokenisation: a review is lower-cased, its ``<br />`` line breaks become spaces, and it is cut
  into words (runs of letters and digits, with inner apostrophes: ``don't``) and single
  punctuation characters (:data:`TOKEN`).
* Validation: :data:`VALID_SIZE` training reviews, drawn with :data:`SPLIT_SEED`, are held out; the
  other 22,500 are the training split. Every split is stored in one seeded random order (so
  that its first reviews are a random sample); the test reviews are otherwise untouched.
* Vocabulary: from the 22,500 training reviews only, every token seen at least
  :data:`MIN_COUNT` times, most frequent first (ties alphabetical), after ``<pad>`` (id 0) and
  ``<unk>`` (id 1); any other token is ``<unk>``. A model may keep only the first ``V`` entries
  (the ``V - 2`` most frequent words): ids ``>= V`` then read as ``<unk>``.

Prepared: ``prepared/imdb/imdb.pt``, a dict with ``vocab`` (list of str), and per split ``s`` in
``train``, ``valid``, ``test``: ``s_tokens`` (every review's ids, concatenated, int32),
``s_lengths`` (tokens per review), ``s_labels`` (1 positive, 0 negative) and ``s_files`` (the
review's path in the archive).
"""

from __future__ import annotations

import re
import tarfile
from collections import Counter
from pathlib import Path

import torch

from shared.data.checksums import expect_equal, verify_dataset
from shared.data.prepared import load_prepared, save_prepared

ARCHIVE = "aclImdb_labeled.tar.xz"
SPLITS = ("train", "valid", "test")
PAD, UNK = "<pad>", "<unk>"
VALID_SIZE = 2500
SPLIT_SEED = 2017
MIN_COUNT = 2
#: A word (letters/digits with inner apostrophes) or one punctuation character.
TOKEN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
_REVIEW = re.compile(r"aclImdb/(train|test)/(pos|neg)/\d+_\d+\.txt")
_REVIEWS_PER_LABEL = 12_500


def tokenise(text: str) -> list[str]:
    """The tokens of one review (see the module docstring)."""
    return TOKEN.findall(text.lower().replace("<br />", " "))


def _read_archive(path: Path) -> dict[str, list[tuple[str, int, list[str]]]]:
    """``{"train"|"test": [(file, label, tokens), ...]}`` in file-name order."""
    reviews: dict[str, list[tuple[str, int, list[str]]]] = {"train": [], "test": []}
    with tarfile.open(path, "r:xz") as archive:
        for member in archive:
            match = _REVIEW.fullmatch(member.name)
            if not member.isfile() or match is None:
                continue
            text = archive.extractfile(member).read().decode("utf-8")
            reviews[match.group(1)].append((member.name, int(match.group(2) == "pos"), tokenise(text)))
    for split, items in reviews.items():
        items.sort(key=lambda item: item[0])
        positives = sum(label for _, label, _ in items)
        expect_equal(
            f"imdb {split}: (negative, positive) reviews",
            (len(items) - positives, positives),
            (_REVIEWS_PER_LABEL,) * 2,
        )
    return reviews


def vocabulary(reviews: list[list[str]], min_count: int = MIN_COUNT) -> list[str]:
    """``<pad>``, ``<unk>``, then every token of ``reviews`` seen ``min_count`` times or more, most
    frequent first, ties in alphabetical order."""
    counts = Counter(token for review in reviews for token in review)
    kept = sorted((token for token, n in counts.items() if n >= min_count), key=lambda t: (-counts[t], t))
    return [PAD, UNK, *kept]


def prepare(raw_dir: Path, out_dir: Path) -> list[Path]:
    """Verify ``data/imdb``, tokenise it, hold out the validation split and write ``imdb.pt``."""
    raw_dir = Path(raw_dir)
    verify_dataset(raw_dir)
    reviews = _read_archive(raw_dir / ARCHIVE)
    # One seeded shuffle of each split: the first VALID_SIZE training reviews are held out, and
    # every split is stored in random order, so that its first n reviews (the limit_* settings of
    # smoke runs) are a random sample of both labels, not n negatives in file-name order.
    generator = torch.Generator().manual_seed(SPLIT_SEED)
    train = [reviews["train"][i] for i in torch.randperm(len(reviews["train"]), generator=generator).tolist()]
    test = [reviews["test"][i] for i in torch.randperm(len(reviews["test"]), generator=generator).tolist()]
    splits = {"train": train[VALID_SIZE:], "valid": train[:VALID_SIZE], "test": test}
    vocab = vocabulary([tokens for _, _, tokens in splits["train"]])
    index = {token: i for i, token in enumerate(vocab)}
    unk = index[UNK]
    prepared: dict[str, list[str] | torch.Tensor] = {"vocab": vocab}
    for split, items in splits.items():
        ids = [index.get(token, unk) for _, _, tokens in items for token in tokens]
        prepared[f"{split}_tokens"] = torch.tensor(ids, dtype=torch.int32)
        prepared[f"{split}_lengths"] = torch.tensor([len(tokens) for _, _, tokens in items], dtype=torch.int64)
        prepared[f"{split}_labels"] = torch.tensor([label for _, label, _ in items], dtype=torch.int64)
        prepared[f"{split}_files"] = [name for name, _, _ in items]
    path = Path(out_dir) / "imdb.pt"
    save_prepared(prepared, path)
    return [path]


def load(root: Path | str | None = None) -> dict[str, list[str] | torch.Tensor]:
    """The prepared reviews: ``vocab`` and, per split, ``<split>_tokens/_lengths/_labels/_files``."""
    return load_prepared("imdb", "imdb", root)
