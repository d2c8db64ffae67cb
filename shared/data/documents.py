"""Document-classification corpora that cannot be distributed with the project ("bring your own
data", as :mod:`shared.data.external`): one csv of labelled documents per corpus,
``external/<name>/<name>.csv``, prepared and split as the paper that uses it does. A missing file is
an error naming it, where to put it, and where the corpus comes from.

Yelp 2013 (``yelp_2013``) as the Sliced RNN script (Yu & Liu 2018; ``zepingyu0512/srnn``,
``SRNN.py``) reads it: columns ``stars`` (1-5) and ``text``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import torch

from shared.data.checksums import DataError

# _read_text: the same checks of a user's file (UTF-8, not empty) as every bring-your-own corpus.
from shared.data.external import _read_text, external_root

#: The two first vocabulary entries, ids 0 and 1, as in :mod:`shared.data.imdb`'s vocabulary
#: (the ids :mod:`shared.tasks.text_classification` pads with and maps rare words to).
PAD, UNK = "<pad>", "<unk>"

DOCUMENT_SOURCES = {
    "yelp_2013": "Yelp 2013 as the Sliced RNN authors share it (https://figshare.com/articles/Yelp_2013/6292142): "
    "yelp_2013.csv with a header and the columns stars (1-5) and text",
}
#: The script's (zepingyu0512/srnn, SRNN.py) split: a numpy shuffle with this seed, then the last
#: 20 % held out: the first half of them validation, the second half test.
DOCUMENT_SPLIT_SEED = 2018
DOCUMENT_HELD_OUT, DOCUMENT_TEST = 0.2, 0.1
#: Keras' ``Tokenizer`` defaults: lower-case, these characters become spaces, split on spaces.
KERAS_FILTERS = re.compile("[" + re.escape('!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n') + "]")


def keras_words(text: str) -> list[str]:
    """Keras 2's ``text_to_word_sequence`` with its defaults (the words its ``Tokenizer`` counts)."""
    return KERAS_FILTERS.sub(" ", text.lower()).split()


def load_documents(name: str, root: Path | None = None) -> dict:
    """The user's document corpus in :func:`shared.data.imdb.load`'s layout (``vocab``; per split
    ``s_tokens``, ``s_lengths``, ``s_labels``) plus ``num_classes``, prepared as the Sliced RNN
    script prepares Yelp 2013: labels ``stars - 1``; the documents shuffled with numpy's seed 2018
    and split 80 / 10 / 10 (train, valid, test) in that order; Keras' tokenisation; the vocabulary
    counted over *all* documents (the script fits its ``Tokenizer`` on every text), most frequent
    first (ties in order of first appearance, as Keras), after ``<pad>`` (0) and ``<unk>`` (1). A
    document without a word is one ``<pad>``: Keras pads it to all zeros."""
    if name not in DOCUMENT_SOURCES:
        raise DataError(f"unknown external document corpus {name!r} (known: {', '.join(sorted(DOCUMENT_SOURCES))})")
    path = (root or external_root()) / name / f"{name}.csv"
    if not path.is_file():
        raise DataError(
            f"the {name} corpus is not distributed with this project (no redistributable copy could be "
            f"obtained). Provide {path} yourself: {DOCUMENT_SOURCES[name]}."
        )
    rows = list(csv.DictReader(_read_text(path, DOCUMENT_SOURCES[name]).splitlines(keepends=True)))
    if not rows or not {"stars", "text"} <= set(rows[0]):
        raise DataError(f"{path}: expected a header with the columns stars and text; {DOCUMENT_SOURCES[name]}")
    try:
        labels = [int(float(row["stars"])) - 1 for row in rows]
    except (TypeError, ValueError) as err:
        raise DataError(f"{path}: a stars value is not a number ({err})") from err
    if min(labels) < 0:
        raise DataError(f"{path}: stars must be >= 1")
    words = [keras_words(row["text"] or "") for row in rows]
    counts: dict[str, int] = {}
    for document in words:
        for word in document:
            counts[word] = counts.get(word, 0) + 1
    vocab = [PAD, UNK, *sorted(counts, key=lambda w: -counts[w])]  # stable: ties keep first appearance
    index = {word: i for i, word in enumerate(vocab)}
    order = np.arange(len(rows))
    np.random.seed(DOCUMENT_SPLIT_SEED)  # the script's global seeding, then its shuffle
    np.random.shuffle(order)
    held_out, test = int(DOCUMENT_HELD_OUT * len(rows)), int(DOCUMENT_TEST * len(rows))
    splits = {"train": order[: len(rows) - held_out], "valid": order[len(rows) - held_out : len(rows) - test]}
    splits["test"] = order[len(rows) - test :]
    out: dict = {"vocab": vocab, "num_classes": max(labels) + 1}
    for split, members in splits.items():
        documents = [[index[w] for w in words[i]] or [0] for i in members.tolist()]
        out[f"{split}_tokens"] = torch.tensor([t for d in documents for t in d], dtype=torch.int32)
        out[f"{split}_lengths"] = torch.tensor([len(d) for d in documents], dtype=torch.int64)
        out[f"{split}_labels"] = torch.tensor([labels[i] for i in members.tolist()], dtype=torch.int64)
    return out
