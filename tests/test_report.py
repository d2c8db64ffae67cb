"""The generated tables (RESULTS.md, README.md, papers/*/README.md) match the committed results."""

from __future__ import annotations

from shared import report
from shared.paper_card import ReportedNumber, Tolerance


def test_committed_tables_are_up_to_date() -> None:
    stale = [str(path) for path, content in report.generated().items() if path.read_text() != content]
    assert not stale, f"out of date: {stale}; run `make report` and commit"


def number(higher_is_better: bool, tolerance: Tolerance) -> ReportedNumber:
    return ReportedNumber(
        task="t",
        dataset="d",
        split="test",
        metric="m",
        metric_definition="",
        higher_is_better=higher_is_better,
        value=8.10,
        model="",
        selection="",
        tolerance=tolerance,
        source="",
        verified=True,
    )


def test_tolerance_is_one_sided() -> None:
    lower = number(False, Tolerance(rel=0.025))
    assert lower.within_tolerance(8.30) and lower.within_tolerance(7.0) and not lower.within_tolerance(8.31)
    higher = number(True, Tolerance(abs=0.5))
    assert higher.within_tolerance(7.6) and higher.within_tolerance(9.9) and not higher.within_tolerance(7.59)
