"""Claims of a paper card checked on results files: holds, fails, not run, and bad cards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.core.config import ConfigError, from_dict
from shared.results.claims import FAILS, HOLDS, MEASURED, NOT_RUN, OLDER_THAN_THE_METRIC, check, metric_summary
from shared.results.paper_card import Claim, PaperCard


def write_result(
    folder: Path, task: str, headline: float, secondary: dict[str, tuple[float, float | None]], n: int
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "paper": "p",
        "task": task,
        "metric": "accuracy_pct",
        "ours": headline,
        "ours_std": None,
        "n_seeds": n,
        "secondary": {k: {"ours": m, "ours_std": s} for k, (m, s) in secondary.items()},
    }
    (folder / f"{task}.json").write_text(json.dumps(data))


def claim(check_: dict) -> Claim:
    return from_dict(Claim, {"id": "c", "statement": "s", "source": "Fig. 2", "scale": "reduced", "check": check_}, "")


def test_at_least_holds_only_when_every_metric_reaches_the_value(tmp_path: Path) -> None:
    write_result(tmp_path, "a", 90.0, {"acc_1": (99.0, 0.5), "acc_2": (96.0, 1.0)}, 5)
    ok = claim({"kind": "at_least", "task": "a", "metrics": ["acc_1", "acc_2"], "value": 95.0})
    assert check(ok, tmp_path).status == HOLDS
    high = claim({"kind": "at_least", "task": "a", "metrics": ["acc_1", "acc_2"], "value": 97.0})
    outcome = check(high, tmp_path)
    assert outcome.status == FAILS and "96 < 97" in outcome.detail
    headline = claim({"kind": "at_least", "task": "a", "metrics": ["accuracy_pct"], "value": 90.0})
    assert check(headline, tmp_path).status == HOLDS


def test_at_most_holds_only_when_every_metric_is_at_or_below_the_value(tmp_path: Path) -> None:
    write_result(tmp_path, "a", 0.005, {"mse_long": (0.02, None)}, 1)
    below = claim({"kind": "at_most", "task": "a", "metrics": ["accuracy_pct"], "value": 0.01})
    assert check(below, tmp_path).status == HOLDS
    outcome = check(
        claim({"kind": "at_most", "task": "a", "metrics": ["accuracy_pct", "mse_long"], "value": 0.01}), tmp_path
    )
    assert outcome.status == FAILS and "0.02 > 0.01" in outcome.detail
    with pytest.raises(ConfigError, match="at_most needs value"):
        claim({"kind": "at_most", "task": "a", "metrics": ["mse_long"]})


def test_greater_needs_the_margin_in_standard_errors(tmp_path: Path) -> None:
    # diff 2.0; se = sqrt(2^2/4 + 2^2/4) = sqrt(2) = 1.414: 1 se holds, 2 se (2.83) fails.
    write_result(tmp_path, "on", 0.0, {"unseen": (80.0, 2.0)}, 4)
    write_result(tmp_path, "base", 0.0, {"unseen": (78.0, 2.0)}, 4)
    one = claim({"kind": "greater", "task": "on", "than": "base", "metrics": ["unseen"], "margin_se": 1.0})
    two = claim({"kind": "greater", "task": "on", "than": "base", "metrics": ["unseen"], "margin_se": 2.0})
    assert check(one, tmp_path).status == HOLDS
    assert check(two, tmp_path).status == FAILS
    reverse = claim({"kind": "greater", "task": "base", "than": "on", "metrics": ["unseen"]})
    assert check(reverse, tmp_path).status == FAILS


def test_greater_with_than_metrics_compares_two_metrics_of_one_run(tmp_path: Path) -> None:
    # A perplexity without (60) and with a cache (55): the plain one is the larger.
    write_result(tmp_path, "lm", 60.0, {"cache": (55.0, None)}, 1)
    c = claim({"kind": "greater", "task": "lm", "than": "lm", "metrics": ["accuracy_pct"], "than_metrics": ["cache"]})
    outcome = check(c, tmp_path)
    assert outcome.status == HOLDS and "vs cache 55" in outcome.detail
    flipped = claim(
        {"kind": "greater", "task": "lm", "than": "lm", "metrics": ["cache"], "than_metrics": ["accuracy_pct"]}
    )
    assert check(flipped, tmp_path).status == FAILS
    with pytest.raises(ConfigError, match="than_metrics"):
        claim({"kind": "at_least", "task": "lm", "metrics": ["cache"], "value": 1.0, "than_metrics": ["cache"]})


def test_a_missing_results_file_or_metric_is_not_run(tmp_path: Path) -> None:
    c = claim({"kind": "greater", "task": "on", "than": "base", "metrics": ["unseen"]})
    assert check(c, tmp_path).status == NOT_RUN
    write_result(tmp_path, "on", 0.0, {}, 1)
    write_result(tmp_path, "base", 0.0, {"unseen": (1.0, None)}, 1)
    # A results file older than the code that measures the metric: its stage is to be re-run.
    outcome = check(c, tmp_path)
    assert outcome.status == NOT_RUN and outcome.detail == "on has no unseen (a run older than the metric)"
    with pytest.raises(KeyError, match="no metric 'unseen'"):
        metric_summary(json.loads((tmp_path / "on.json").read_text()), "unseen")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"kind": "between", "task": "a", "metrics": ["m"], "value": 1.0}, "kind"),
        ({"kind": "at_least", "task": "a", "metrics": ["m"]}, "needs value"),
        ({"kind": "greater", "task": "a", "metrics": ["m"], "value": 1.0}, "needs than"),
        ({"kind": "greater", "task": "a", "than": "b", "metrics": []}, "at least one"),
    ],
)
def test_a_malformed_check_is_a_config_error(bad: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        claim(bad)


def test_a_claim_on_a_task_without_a_card_entry_is_an_error() -> None:
    card = {
        "key": "p",
        "title": "t",
        "authors": ["a"],
        "year": 2019,
        "venue": "v",
        "url": "u",
        "bibtex": "b",
        "official_code": "c",
        "reported": [],
        "claims": [
            {
                "id": "c",
                "statement": "s",
                "source": "f",
                "scale": "reduced",
                "check": {"kind": "at_least", "task": "ghost", "metrics": ["m"], "value": 1.0},
            }
        ],
    }
    with pytest.raises(ConfigError, match="ghost"):
        from_dict(PaperCard, card, "")


def test_a_measured_claim_reports_its_outcome_and_evidence(tmp_path: Path) -> None:
    c = from_dict(
        Claim,
        {
            "id": "speed",
            "statement": "s",
            "source": "Fig. 4",
            "scale": "reduced",
            "outcome": "holds: 1.4x",
            "evidence": "bench/x.md",
        },
        "",
    )
    outcome = check(c, tmp_path)
    assert outcome.status == MEASURED and outcome.detail == "holds: 1.4x (evidence: bench/x.md)"
    for bad in (
        {"outcome": "holds"},
        {},
        {"outcome": "x", "evidence": "y", "check": {"kind": "at_least", "task": "a", "metrics": ["m"], "value": 1.0}},
    ):
        with pytest.raises(ConfigError, match="an outcome with its evidence"):
            from_dict(Claim, {"id": "c", "statement": "s", "source": "x", "scale": "reduced", **bad}, "")


def test_no_committed_claim_waits_on_a_results_file_older_than_its_metric() -> None:
    """'Not run' for a missing metric is for work in progress; in what is committed it would hide a
    misspelt metric name or a stage that was never re-run, so every committed claim either has its
    numbers or lacks its whole results file."""
    from shared.core.paths import REPO_ROOT
    from shared.results.paper_card import load_card

    for card_path in sorted((REPO_ROOT / "papers").glob("*/paper.yaml")):
        for c in load_card(card_path).claims:
            outcome = check(c, card_path.parent / "results")
            assert not outcome.detail.endswith(OLDER_THAN_THE_METRIC), (card_path.parent.name, c.id, outcome.detail)
