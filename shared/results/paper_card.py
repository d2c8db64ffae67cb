"""The paper card (``papers/<p>/paper.yaml``): citation and every number the paper reports,
with the definition, protocol and tolerance needed to compare a reproduction with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from shared.core.config import from_dict, read_yaml


@dataclass
class Tolerance:
    """How far a reproduction may fall short of the paper and still count as matching it:
    ``rel`` is a fraction of the paper's value, ``abs`` an absolute amount. Doing better than the
    paper is always within tolerance."""

    rel: float | None = None
    abs: float | None = None

    def validate(self) -> None:
        if (self.rel is None) == (self.abs is None):
            raise ValueError("tolerance: give exactly one of rel or abs")

    def allowed(self, value: float) -> float:
        return self.abs if self.abs is not None else self.rel * abs(value)


@dataclass
class ReportedNumber:
    """One number of the paper, tied to the task (``params.yaml`` key) that reproduces it.

    ``value`` and ``tolerance`` are ``null`` for a task the paper has no number for (e.g. a
    substitute dataset): it still gets a row in the results tables, with our number only.
    """

    task: str
    dataset: str
    split: str
    metric: str
    metric_definition: str
    higher_is_better: bool
    value: float | None
    model: str
    selection: str
    tolerance: Tolerance | None
    source: str
    verified: bool
    deviations: list[str] = field(default_factory=list)

    def validate(self) -> None:
        if (self.value is None) != (self.tolerance is None):
            raise ValueError(f"reported {self.task}: value and tolerance are both given or both null")

    def within_tolerance(self, ours: float) -> bool:
        if self.value is None or self.tolerance is None:
            raise ValueError(f"reported {self.task}: the paper has no number to compare with")
        allowed = self.tolerance.allowed(self.value)
        return ours >= self.value - allowed if self.higher_is_better else ours <= self.value + allowed


CLAIM_SCALES = ("reduced", "full")


@dataclass
class Claim:
    """A claim of the paper, reproduced as a check on our results that could fail.

    ``tasks`` lists tasks (``params.yaml`` keys) from best to worst by their test metric: the
    claim holds when the mean over seeds of each is better than that of the next. With
    ``separated``, each must also be better at every seed: the next task's best seed is worse
    than this task's worst, an ordering that seed noise cannot produce by chance with 3 seeds
    each (1 in 20). ``scale: reduced`` marks a claim checked on smaller models or budgets than the
    paper's (DESIGN.md, convention 7), described in ``setting``.
    """

    id: str
    statement: str
    source: str
    tasks: list[str]
    scale: str
    setting: str
    separated: bool = False
    paper_values: list[float] | None = None  #: the paper's numbers for ``tasks``, for the reader

    def validate(self) -> None:
        if len(self.tasks) < 2:
            raise ValueError(f"claim {self.id}: an ordering needs at least two tasks")
        if self.scale not in CLAIM_SCALES:
            raise ValueError(f"claim {self.id}: scale {self.scale!r} is not one of {CLAIM_SCALES}")
        if self.paper_values is not None and len(self.paper_values) != len(self.tasks):
            raise ValueError(f"claim {self.id}: paper_values needs one value per task")

    def holds(self, values: dict[str, list[float]], higher_is_better: bool) -> bool:
        """Whether the claim holds for ``values``, each task's per-seed test metric."""
        missing = [task for task in self.tasks if not values.get(task)]
        if missing:
            raise ValueError(f"claim {self.id}: no results for {missing}")
        sign = 1.0 if higher_is_better else -1.0
        for better, worse in zip(self.tasks, self.tasks[1:], strict=False):
            a = [sign * v for v in values[better]]
            b = [sign * v for v in values[worse]]
            if not sum(a) / len(a) > sum(b) / len(b):
                return False
            if self.separated and not min(a) > max(b):
                return False
        return True


@dataclass
class PaperCard:
    key: str
    title: str
    authors: list[str]
    year: int
    venue: str
    url: str
    bibtex: str
    official_code: str
    reported: list[ReportedNumber]
    deviations: list[str] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)

    def validate(self) -> None:
        keys = [(r.task, r.metric) for r in self.reported]
        duplicated = sorted({k for k in keys if keys.count(k) > 1})
        if duplicated:
            raise ValueError(f"reported: task {duplicated[0][0]!r} with metric {duplicated[0][1]!r} appears twice")
        tasks = {r.task for r in self.reported}
        for claim in self.claims:
            unknown = [task for task in claim.tasks if task not in tasks]
            if unknown:
                raise ValueError(f"claim {claim.id}: tasks {unknown} have no entry in reported")

    def number_for(self, task: str) -> ReportedNumber | None:
        """The task's headline number: its first entry with a value (``None`` when the card has
        none). Later entries of the same task are secondary metrics of the same runs, found in the
        results file's ``secondary``."""
        return next((r for r in self.reported if r.task == task and r.value is not None), None)

    @property
    def citation(self) -> str:
        authors = ", ".join(self.authors)
        return f"{authors} ({self.year}). {self.title}. {self.venue}."


def load_card(path: str | Path) -> PaperCard:
    """Read and check ``paper.yaml``; mistakes raise ConfigError naming the file and key."""
    return from_dict(PaperCard, read_yaml(path), f"{path}: ")
