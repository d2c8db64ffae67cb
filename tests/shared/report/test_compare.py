"""make repro's last lines: a re-made number against the committed one, and against the paper's."""

from __future__ import annotations

from shared.report.compare import RERUN_TOLERANCE, verdict, versus_paper


def result(ours: float, profile: str = "cpu", **extra: object) -> dict:
    return {
        "task": "jsb",
        "metric": "nll",
        "ours": ours,
        "ours_std": 0.02,
        "profile": profile,
        "device": "cpu",
        "seeds": [{}, {}, {}],
        "machine": {"processor": "AMD EPYC"},
        **extra,
    }


def test_a_re_made_number_within_the_tolerance_agrees_and_one_outside_does_not() -> None:
    old = result(8.232)
    line, ok = verdict(old, result(8.234, commit="new"))
    assert ok and "within" in line and "8.234" in line and "AMD EPYC" in line
    line, ok = verdict(old, result(8.232 * (1 + 2 * RERUN_TOLERANCE), commit="new"))
    assert not ok and "OUTSIDE" in line


def test_nothing_re_made_or_nothing_committed_is_said_plainly() -> None:
    assert "nothing was re-made" in verdict(result(8.0), result(8.0))[0]
    assert "no committed number" in verdict(None, result(8.0))[0]
    line, ok = verdict(result(8.0), result(60.0, profile="smoke"))
    assert ok and "not comparable" in line


def test_the_last_line_puts_ours_beside_the_papers_number() -> None:
    line = versus_paper(result(8.234, paper_value=8.1, delta=0.134, within_tolerance=True))
    assert line == "jsb: paper nll 8.1 vs ours 8.234 (difference +0.134, within the paper card's tolerance)"
    assert "OUTSIDE" in versus_paper(result(9.0, paper_value=8.1, delta=0.9, within_tolerance=False))
    assert "reports no nll" in versus_paper(result(8.0, paper_value=None))
