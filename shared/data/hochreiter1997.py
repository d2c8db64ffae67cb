"""The synthetic tasks of Hochreiter & Schmidhuber (1997), "Long Short-Term Memory", Sec. 5.

Every generator is a pure function of its ``numpy.random.Generator`` and returns a
:class:`SequenceBatch` of padded float64 arrays (the online learner of ``papers/lstm`` and the
torch model read the same arrays). Inputs use the paper's encodings: local (one-hot) codes for
symbols, raw values for the adding problem.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REBER_SYMBOLS = "BTSXPVE"
# Reber grammar (Fig. 3): state -> [(symbol, next state)]; state 6 emits the final E.
_REBER = {
    0: [("B", 1)],
    1: [("T", 2), ("P", 3)],
    2: [("S", 2), ("X", 4)],
    3: [("T", 3), ("V", 5)],
    4: [("X", 3), ("S", 6)],
    5: [("P", 4), ("V", 6)],
    6: [("E", None)],
}
TEMPORAL_SYMBOLS = "EBabcdXY"  # Task 6a's 8 input symbols
TEMPORAL_CLASSES = "QRSU"  # (X,X) -> Q, (X,Y) -> R, (Y,X) -> S, (Y,Y) -> U


@dataclass
class SequenceBatch:
    """``n`` padded sequences.

    Attributes:
        inputs: ``(n, L_max, input_size)``, zero after each sequence's end.
        targets: ``(n, L_max, output_size)``; meaningful where ``target_mask`` is set.
        target_mask: ``(n, L_max)`` bool, the steps that carry an error signal.
        lengths: ``(n,)`` int64.
        allowed: for next-symbol prediction (Reber), ``(n, L_max, output_size)`` bool: the symbols
            the grammar allows next (several may be possible); ``None`` for the other tasks.
    """

    inputs: np.ndarray
    targets: np.ndarray
    target_mask: np.ndarray
    lengths: np.ndarray
    allowed: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.lengths)


def adding_problem(n: int, min_length: int, rng: np.random.Generator) -> SequenceBatch:
    """Experiment 4 (Sec. 5.4): ``n`` sequences of (value, marker) pairs.

    Length uniform in ``[T, T + T/10]``; values uniform in [-1, 1]; markers 0 except: one of the
    first ten pairs is marked 1 (value :math:`X_1`), then one of the first ``T/2 - 1`` pairs not
    yet marked (value :math:`X_2`); the first and the last pair have marker -1. When the first
    pair is marked its value is set to 0 (the paper's rule for :math:`X_1`, applied to whichever
    mark lands there). The only target, at the sequence end, is :math:`0.5 + (X_1 + X_2) / 4`.
    """
    if min_length < 24:
        raise ValueError(
            f"the adding problem needs T >= 24 (marks in the first 10 and T/2 - 1 pairs), got {min_length}"
        )
    lengths = rng.integers(min_length, min_length + min_length // 10 + 1, size=n)
    span = int(lengths.max())
    inputs = np.zeros((n, span, 2))
    targets = np.zeros((n, span, 1))
    mask = np.zeros((n, span), dtype=bool)
    pool = min_length // 2 - 1  # the first T/2 - 1 pairs
    for i, length in enumerate(lengths):
        values = rng.uniform(-1.0, 1.0, size=length)
        markers = np.zeros(length)
        markers[0] = markers[length - 1] = -1.0
        first = int(rng.integers(0, 10))
        second = int(rng.integers(0, pool - 1))
        second += second >= first  # uniform over the pool without ``first``
        markers[[first, second]] = 1.0
        if 0 in (first, second):
            values[0] = 0.0
        inputs[i, :length, 0] = values
        inputs[i, :length, 1] = markers
        targets[i, length - 1, 0] = 0.5 + (values[first] + values[second]) / 4.0
        mask[i, length - 1] = True
    return SequenceBatch(inputs, targets, mask, lengths.astype(np.int64))


def temporal_order(n: int, rng: np.random.Generator) -> SequenceBatch:
    """Experiment 6a (Sec. 5.6): classify the temporal order of two widely separated symbols.

    Length uniform in [100, 110]; the sequence starts with E and ends with the trigger B; every
    other element is one of a, b, c, d except positions :math:`t_1 \\in [10, 20]` and
    :math:`t_2 \\in [50, 60]` (1-based, as in the paper), which hold X or Y. Class (one-hot over
    Q, R, S, U, target at the end only): XX -> Q, XY -> R, YX -> S, YY -> U.
    """
    lengths = rng.integers(100, 111, size=n)
    span = int(lengths.max())
    inputs = np.zeros((n, span, len(TEMPORAL_SYMBOLS)))
    targets = np.zeros((n, span, len(TEMPORAL_CLASSES)))
    mask = np.zeros((n, span), dtype=bool)
    for i, length in enumerate(lengths):
        symbols = rng.integers(2, 6, size=length)  # a, b, c, d
        symbols[0], symbols[length - 1] = 0, 1  # E ... B
        t1, t2 = int(rng.integers(10, 21)) - 1, int(rng.integers(50, 61)) - 1
        relevant = rng.integers(0, 2, size=2)  # 0: X, 1: Y
        symbols[[t1, t2]] = 6 + relevant
        inputs[i, np.arange(length), symbols] = 1.0
        targets[i, length - 1, 2 * relevant[0] + relevant[1]] = 1.0
        mask[i, length - 1] = True
    return SequenceBatch(inputs, targets, mask, lengths.astype(np.int64))


def embedded_reber_string(rng: np.random.Generator) -> tuple[str, list[str]]:
    """One string of the embedded Reber grammar (Fig. 4) and, per position, the symbols that may
    follow it (an empty set after the final E). Choices are made with probability 0.5."""
    outer = "TP"[int(rng.integers(0, 2))]
    symbols, allowed = ["B", outer], ["TP", "B"]
    state = 0
    while state is not None:
        options = _REBER[state]
        symbol, state = options[int(rng.integers(0, len(options)))]
        symbols.append(symbol)
        allowed.append("".join(s for s, _ in _REBER[state]) if state is not None else outer)
    symbols += [outer, "E"]
    allowed += ["E", ""]
    return "".join(symbols), allowed


def reber_sets(n_train: int, n_test: int, rng: np.random.Generator) -> tuple[SequenceBatch, SequenceBatch]:
    """Experiment 1 (Sec. 5.1): a training set of ``n_train`` random embedded Reber strings and a
    test set of ``n_test`` random strings that do not occur in the training set (256 each in the
    paper, following Fahlman). Task: predict the next symbol at every step (local codes over
    B, T, S, X, P, V, E); the target is the symbol that follows, ``allowed`` every symbol that may."""
    train = [embedded_reber_string(rng) for _ in range(n_train)]
    seen = {s for s, _ in train}
    test: list[tuple[str, list[str]]] = []
    while len(test) < n_test:
        string, allowed = embedded_reber_string(rng)
        if string not in seen:
            test.append((string, allowed))
    return _symbol_batch(train), _symbol_batch(test)


def _symbol_batch(strings: list[tuple[str, list[str]]]) -> SequenceBatch:
    n, k = len(strings), len(REBER_SYMBOLS)
    lengths = np.array([len(s) for s, _ in strings], dtype=np.int64)
    span = int(lengths.max())
    inputs = np.zeros((n, span, k))
    targets = np.zeros((n, span, k))
    allowed = np.zeros((n, span, k), dtype=bool)
    mask = np.zeros((n, span), dtype=bool)
    for i, (string, nexts) in enumerate(strings):
        codes = [REBER_SYMBOLS.index(c) for c in string]
        inputs[i, np.arange(len(codes)), codes] = 1.0
        targets[i, np.arange(len(codes) - 1), codes[1:]] = 1.0
        mask[i, : len(codes) - 1] = True
        for t, options in enumerate(nexts):
            allowed[i, t, [REBER_SYMBOLS.index(c) for c in options]] = True
    return SequenceBatch(inputs, targets, mask, lengths, allowed)
