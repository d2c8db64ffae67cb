"""The NLTK 10% sample of the Penn Treebank WSJ (files wsj_0001 to wsj_0199), prepared for the
unsupervised-parsing evaluation of ON-LSTM (Shen et al. 2019) and PRPN (Shen et al. 2018).

Raw: ``data/wsj_sample/treebank.zip`` (nltk_data's ``treebank`` corpus; see its ``SOURCE.md``),
read from ``treebank/combined/wsj_*.mrg``: 199 files, 3,914 bracketed trees, 100,676 leaves.
Each file is parsed with NLTK's ``Tree.fromstring`` and, as NLTK's ``BracketParseCorpusReader``
does, the unlabelled node wrapping each tree (``( (S ...) )``) is stripped.

Preprocessing, that of the official evaluation (``data_ptb.py`` of yikangshen/Ordered-Neurons,
the same as PRPN's):

* a leaf is kept iff its part-of-speech tag is in :data:`WORD_TAGS`. This drops the ``-NONE-``
  traces and the punctuation and currency tags (``, . : `` '' -LRB- -RRB- $ #``); no other tag
  occurs in the sample. 82,369 words remain.
* each kept word becomes a language-model token by :func:`lm_token`: lower-cased, every run of
  digits replaced by ``N`` (so ``1.5`` becomes ``N.N``, which is not in the Mikolov PTB
  vocabulary and is read as ``<unk>``, exactly as in the official code);
* the tree is reduced to nested lists over those tokens by :func:`collapse`: constituents left
  without a word are removed and every node with a single child is replaced by that child, so the
  root always spans the whole sentence and every inner list has at least two children.

Prepared: ``prepared/wsj_sample/wsj_sample.pt``, a dict of three lists with one entry per tree,
in file order:

* ``fileids``: the file of the tree (``"wsj_0001"``);
* ``words``: the kept words as written in the treebank;
* ``trees``: the collapsed tree, nested lists of tokens (a single token for one-word sentences).

The sentences with at most 10 words (the WSJ10 filter of the official code: at most 12 tokens
with the two ``<eos>`` around the sentence) number 555.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.data.checksums import DataError, expect_equal, verify_dataset
from shared.data.prepared import load_prepared, save_prepared

if TYPE_CHECKING:
    from nltk.tree import Tree as NLTKTree

DATASET = "wsj_sample"
ARCHIVE = "treebank.zip"
_MRG = re.compile(r"treebank/combined/(wsj_\d{4})\.mrg")

#: The part-of-speech tags whose words the official evaluation keeps (``word_tags`` of its
#: ``data_ptb.py``): every PTB tag but punctuation, currency symbols and ``-NONE-``.
WORD_TAGS = frozenset(
    "CC CD DT EX FW IN JJ JJR JJS LS MD NN NNS NNP NNPS PDT POS PRP PRP$ RB RBR RBS RP SYM TO UH "
    "VB VBD VBG VBN VBP VBZ WDT WP WP$ WRB".split()
)

#: A collapsed tree: a token, or the list of its (at least two) children.
Tree = str | list["Tree"]

# SOURCE.md's verification figures, and the kept words and WSJ10 size measured on this sample.
FILES, TREES, LEAVES, WORDS, SHORT_SENTENCES = 199, 3_914, 100_676, 82_369, 555


def lm_token(word: str) -> str:
    """The language-model token of a treebank word: lower case, each run of digits ``N``."""
    return re.sub("[0-9]+", "N", word.lower())


def collapse(tree: NLTKTree | str) -> Tree | None:
    """The tree over the tokens of its kept words (module docstring); ``None`` if none is kept."""
    if isinstance(tree, str):
        return None  # the leaf of a tag that is not kept (a trace, a punctuation mark)
    if tree.label() in WORD_TAGS:
        return lm_token(tree[0])
    children = [c for c in (collapse(child) for child in tree) if c is not None]
    if not children:
        return None
    return children[0] if len(children) == 1 else children


def read_trees(archive: Path) -> list[tuple[str, NLTKTree]]:
    """``(fileid, tree)`` for every tree of ``combined/*.mrg`` in ``archive``, in file order."""
    from nltk.tree import Tree as NLTKTree  # imported here: NLTK takes seconds to import

    trees = []
    with zipfile.ZipFile(archive) as z:
        members = sorted((m.group(1), name) for name in z.namelist() if (m := _MRG.fullmatch(name)))
        expect_equal(f"{archive}: combined/*.mrg files", len(members), FILES)
        for fileid, name in members:
            # One file holds several top-level trees: parse them as the children of one node.
            for tree in NLTKTree.fromstring(f"(FILE {z.read(name).decode('ascii')})"):
                if tree.label() == "" and len(tree) == 1:
                    tree = tree[0]
                trees.append((fileid, tree))
    return trees


def prepare(raw_dir: Path, out_dir: Path) -> list[Path]:
    """Verify ``treebank.zip``, read and collapse its trees, write ``<out_dir>/wsj_sample.pt``."""
    raw_dir = Path(raw_dir)
    verify_dataset(raw_dir, [ARCHIVE])
    trees = read_trees(raw_dir / ARCHIVE)
    expect_equal("wsj_sample: trees", len(trees), TREES)
    expect_equal("wsj_sample: leaves", sum(len(tree.leaves()) for _, tree in trees), LEAVES)
    prepared: dict[str, list[Any]] = {"fileids": [], "words": [], "trees": []}
    for fileid, tree in trees:
        collapsed = collapse(tree)
        if collapsed is None:
            raise DataError(f"wsj_sample {fileid}: a tree without any word: {tree}")
        prepared["fileids"].append(fileid)
        prepared["words"].append([word for word, tag in tree.pos() if tag in WORD_TAGS])
        prepared["trees"].append(collapsed)
    expect_equal("wsj_sample: kept words", sum(map(len, prepared["words"])), WORDS)
    expect_equal("wsj_sample: sentences of <= 10 words", sum(len(w) <= 10 for w in prepared["words"]), SHORT_SENTENCES)
    path = Path(out_dir) / f"{DATASET}.pt"
    save_prepared(prepared, path)
    return [path]


def load(root: Path | str | None = None) -> dict[str, list[Any]]:
    """The prepared sample: ``fileids``, ``words`` and collapsed ``trees``, one entry per tree."""
    return load_prepared(DATASET, DATASET, root)
