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


CLAIM_CHECKS = ("at_least", "at_most", "greater")
CLAIM_SCALES = ("paper", "reduced")


@dataclass
class ClaimCheck:
    r"""How a claim is tested on the results files, each metric a task's headline or one of its
    ``secondary`` metrics (mean over seeds):

    * ``at_least``: every metric of ``metrics`` of ``task`` is at least ``value``;
    * ``at_most``: every metric of ``metrics`` of ``task`` is at most ``value`` (a threshold on a
      metric where lower is better, e.g. an error that must fall below a level);
    * ``greater``: every metric of ``metrics`` is larger for ``task`` than for ``than`` by more
      than ``margin_se`` standard errors of the difference of the two means,
      :math:`\sqrt{s_1^2/n_1 + s_2^2/n_2}` over the seeds (0: larger at all). With
      ``than_metrics``, metric ``i`` of ``task`` is compared with ``than_metrics[i]`` of ``than``
      (two metrics of one run: a perplexity without and with a cache, say).
    """

    kind: str
    task: str
    metrics: list[str]
    value: float | None = None
    than: str | None = None
    than_metrics: list[str] | None = None
    margin_se: float = 0.0

    def validate(self) -> None:
        if self.kind not in CLAIM_CHECKS:
            raise ValueError(f"kind: {self.kind!r} is not one of {CLAIM_CHECKS}")
        if not self.metrics:
            raise ValueError("metrics: name at least one")
        bound = self.kind in ("at_least", "at_most")
        if bound != (self.value is not None) or (self.kind == "greater") != (self.than is not None):
            raise ValueError("at_least or at_most needs value (and no than), greater needs than (and no value)")
        if self.than_metrics is not None and (self.kind != "greater" or len(self.than_metrics) != len(self.metrics)):
            raise ValueError("than_metrics: only for greater, one per metric")
        if self.margin_se < 0:
            raise ValueError(f"margin_se: {self.margin_se} must be >= 0")


@dataclass
class Claim:
    """A qualitative result of the paper (an ordering, a threshold) written as a check that could
    fail; ``scale: reduced`` when our runs are smaller than the paper's (the check is then of the
    claim, not of the paper's numbers).

    A claim about results files has a ``check``, evaluated on them whenever the report is made. A
    claim measured by a benchmark (speed, memory) has instead its ``outcome`` as measured, and
    ``evidence``, the committed file the outcome was read from (``make bench`` re-makes it).
    """

    id: str
    statement: str
    source: str
    scale: str
    check: ClaimCheck | None = None
    outcome: str | None = None
    evidence: str | None = None

    def validate(self) -> None:
        if self.scale not in CLAIM_SCALES:
            raise ValueError(f"claim {self.id}: scale {self.scale!r} is not one of {CLAIM_SCALES}")
        if (self.check is None) == (self.outcome is None) or (self.outcome is None) != (self.evidence is None):
            raise ValueError(
                f"claim {self.id}: give either a check, or an outcome with its evidence (a committed file)"
            )


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
        ids = [c.id for c in self.claims]
        if len(ids) != len(set(ids)):
            raise ValueError(f"claims: an id appears twice in {ids}")
        tasks = {r.task for r in self.reported}
        for claim in self.claims:
            if claim.check is None:
                continue
            unknown = {claim.check.task, claim.check.than} - tasks - {None}
            if unknown:
                raise ValueError(f"claim {claim.id}: task {sorted(unknown)[0]!r} has no entry in reported")

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
