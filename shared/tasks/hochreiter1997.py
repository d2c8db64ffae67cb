"""The success criteria of Hochreiter & Schmidhuber's (1997) experiments, for nets trained online
one sequence at a time on the generators of :mod:`shared.data.hochreiter1997` (embedded Reber
grammar, adding problem, temporal order). They judge a net's ``outputs`` for a
:class:`~shared.data.hochreiter1997.SequenceBatch`: arrays ``(N, T, outputs)``, whatever produced them.
"""

from __future__ import annotations

import numpy as np

from shared.data import hochreiter1997 as generators


def generate(kind: str, n: int, rng: np.random.Generator, min_length: int | None = None) -> generators.SequenceBatch:
    """``n`` fresh sequences of the adding problem (minimal length ``min_length``, the paper's T)
    or the temporal-order task."""
    if kind == "adding":
        if min_length is None:
            raise ValueError("the adding problem needs its minimal length T")
        return generators.adding_problem(n, min_length, rng)
    return generators.temporal_order(n, rng)


def count_wrong(outputs: np.ndarray, batch: generators.SequenceBatch, tolerance: float) -> tuple[int, float]:
    """Sequences with some output off by ``tolerance`` or more at a target step, and the mean
    summed squared error per sequence (the paper's E, Eq. 16, at the target steps)."""
    errors = np.abs(batch.targets - outputs) * batch.target_mask[..., None]
    wrong = int((errors.max(axis=(1, 2)) >= tolerance).sum())
    return wrong, float((errors**2).sum(axis=(1, 2)).mean())


def reber_strings_with_mistakes(outputs: np.ndarray, batch: generators.SequenceBatch) -> int:
    """Strings with a mistake: at some step the units of the possible next symbols are not the
    most active ones (Sec. 5.1's success criterion)."""
    allowed = batch.allowed
    lowest_allowed = np.where(allowed, outputs, np.inf).min(axis=-1)
    highest_other = np.where(allowed, -np.inf, outputs).max(axis=-1)
    mistakes = (lowest_allowed <= highest_other) & batch.target_mask
    return int(mistakes.any(axis=1).sum())
