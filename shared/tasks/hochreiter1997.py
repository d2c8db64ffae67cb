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


#: |X1 + X2| from which an adding-problem sum counts as extreme (targets within 0.05 of 0 or 1).
EXTREME_SUM = 1.8


def adding_errors_by_sum(outputs: np.ndarray, batch: generators.SequenceBatch, tolerance: float) -> dict[str, float]:
    """Where an adding-problem net errs, by the size of the sum it must output: wrong sequences
    (error >= ``tolerance``) with :math:`|X_1 + X_2|` >= :data:`EXTREME_SUM` and below it, the
    mean signed error (output - target) of the sums >= 1.8 and of those <= -1.8, and the largest
    absolute error of the rest.

    The target of a sequence is :math:`0.5 + (X_1 + X_2) / 4`, so the sum is read back from it.
    """
    last = batch.lengths - 1
    rows = np.arange(len(last))
    target = batch.targets[rows, last, 0]
    signed = outputs[rows, last, 0] - target
    total = 4.0 * (target - 0.5)
    extreme = np.abs(total) >= EXTREME_SUM
    wrong = np.abs(signed) >= tolerance
    high, low, other = total >= EXTREME_SUM, total <= -EXTREME_SUM, ~extreme
    by_sum = {
        "wrong_extreme_sum": float((wrong & extreme).sum()),
        "wrong_other_sum": float((wrong & other).sum()),
    }
    # A band without test sequences has no entry (rather than a NaN that compares unequal to itself).
    if high.any():
        by_sum["signed_error_high_sum"] = float(signed[high].mean())
    if low.any():
        by_sum["signed_error_low_sum"] = float(signed[low].mean())
    if other.any():
        by_sum["max_abs_error_other_sum"] = float(np.abs(signed[other]).max())
    return by_sum
