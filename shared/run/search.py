"""Learning-rate selection on the validation split: random log-uniform candidates.

A task whose configuration has an ``lr_search`` entry (an :class:`LrSearch`) is trained once per
candidate learning rate (every seed each time); the runner (:func:`shared.run.experiment.run`) then
reports the candidate whose mean best validation metric is best, and writes every candidate's
validation and test numbers into the results file (``lr_search``), so the choice can be audited.
The test split never takes part in the choice.

Chung et al. (2014, Sec. 4.2) pick the learning rate of each model "out of 10 randomly chosen
log-uniform candidates sampled from U(-12, -6)" (natural logarithm), i.e.
:math:`\\ln \\eta \\sim U(-12, -6)`; that is ``LrSearch(samples=10, log_low=-12, log_high=-6)``.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import torch


@dataclass
class LrSearch:
    """``samples`` learning rates with :math:`\\ln \\eta \\sim U(\\text{log\\_low}, \\text{log\\_high})`.

    ``seed`` fixes the draw (the same candidates for every training seed and every rerun).
    ``stratified`` draws one candidate uniformly inside each of ``samples`` equal sub-intervals
    of the log range instead of ``samples`` independent draws: still random and log-uniform in
    distribution, but a small search cannot miss a whole region of the range by chance (for
    budgets smaller than the paper's; say so where it is used).
    """

    samples: int = 10
    log_low: float = -12.0
    log_high: float = -6.0
    seed: int = 0
    stratified: bool = False

    def validate(self) -> None:
        if self.samples < 1:
            raise ValueError(f"lr_search.samples: {self.samples} must be >= 1")
        if not self.log_low < self.log_high:
            raise ValueError(f"lr_search: log_low {self.log_low} must be < log_high {self.log_high}")

    def candidates(self) -> list[float]:
        """The candidate learning rates, in the order they are tried."""
        u = torch.rand(self.samples, generator=torch.Generator().manual_seed(self.seed), dtype=torch.float64)
        if self.stratified:
            u = (torch.arange(self.samples, dtype=torch.float64) + u) / self.samples
        return [math.exp(self.log_low + (self.log_high - self.log_low) * x) for x in u.tolist()]


def select(valid_per_candidate: list[list[float]], higher_is_better: bool) -> int:
    """Index of the candidate whose mean (over seeds) best validation metric is best.

    A candidate whose seeds never produced a finite validation number cannot be chosen.
    """
    means = [statistics.fmean(v) if v and all(math.isfinite(x) for x in v) else math.nan for v in valid_per_candidate]
    finite = [i for i, m in enumerate(means) if math.isfinite(m)]
    if not finite:
        raise ValueError("lr_search: no candidate has a finite validation metric")
    pick = max if higher_is_better else min
    return pick(finite, key=lambda i: means[i])
