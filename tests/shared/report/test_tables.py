"""The generated tables (RESULTS.md, README.md, papers/*/README.md) match the committed results."""

from __future__ import annotations

from shared.report import tables as report
from shared.results.paper_card import ReportedNumber, Tolerance


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


def test_a_second_number_of_a_task_is_read_from_the_results_files_secondary_metrics() -> None:
    from shared.results.paper_card import PaperCard

    primary = number(False, Tolerance(rel=1.0))
    second = ReportedNumber(**{**primary.__dict__, "metric": "wrong", "value": 1.0, "tolerance": Tolerance(abs=3.0)})
    card = PaperCard("p", "t", ["a"], 2000, "v", "u", "b", "c", [primary, second])
    result = {
        "metric": "m",
        "ours": 9.0,
        "ours_std": None,
        "profile": "cpu",
        "n_seeds": 10,
        "epochs": 0,
        "budget": "10 trials",
        "wall_time_s": 60.0,
        "secondary": {"wrong": {"ours": 2.5, "ours_std": 1.0}},
    }
    row = report._row(card, second, result, with_paper=False)
    assert "2.5 ± 1" in row and "10 trials" in row and "| yes |" in row
    assert "not run" in report._row(card, second, {**result, "secondary": {}}, with_paper=False)


def test_a_task_may_not_report_the_same_metric_twice() -> None:
    import pytest

    from shared.results.paper_card import PaperCard

    with pytest.raises(ValueError, match="appears twice"):
        PaperCard("p", "t", ["a"], 2000, "v", "u", "b", "c", [number(False, Tolerance(rel=1.0))] * 2).validate()
