r"""WikiText-2 (v1, tokenized; Merity et al. 2017, "Pointer Sentinel Mixture Models") for word-level
language modelling, as AWD-LSTM reads it.

Raw: ``data/wikitext2/{train,valid,test}.txt.gz``, the ``wiki.*.tokens`` files (see its
``SOURCE.md``). Tokenisation is PTB's (:func:`shared.data.ptb.tokenise`, the reader of the
official awd-lstm-lm ``data.py``): each line, blank ones included, becomes ``line.split() +
["<eos>"]``; the vocabulary is the train tokens in first-seen order (33,278, ``<unk>`` included),
and valid and test have no other token. Counts (``<eos>`` included): 2,088,628 / 217,646 /
245,569, as ``SOURCE.md`` and the dataset's paper state.

Prepared: ``prepared/wikitext2/wikitext2.pt``, the layout of :mod:`shared.data.ptb`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from shared.data.prepared import load_prepared
from shared.data.ptb import TokenCorpus, prepare_corpus

CORPUS = TokenCorpus("wikitext2", "{split}.txt.gz", (2_088_628, 217_646, 245_569), 33_278)


def prepare(raw_dir: Path, out_dir: Path) -> list[Path]:
    """Verify ``data/wikitext2``, tokenise it and write ``<out_dir>/wikitext2.pt``."""
    return prepare_corpus(CORPUS, raw_dir, out_dir)


def load(root: Path | str | None = None) -> dict[str, list[str] | torch.Tensor]:
    """WikiText-2: ``vocab`` (33,278 words); ``train``, ``valid``, ``test`` int64 ids."""
    return load_prepared(CORPUS.name, CORPUS.name, root)
