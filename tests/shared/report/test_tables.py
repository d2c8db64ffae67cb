"""The generated tables (RESULTS.md, README.md, papers/*/README.md) match the committed results."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from shared.core.paths import REPO_ROOT
from shared.report import figures
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
    from shared.results.paper_card import PaperCard

    with pytest.raises(ValueError, match="appears twice"):
        PaperCard("p", "t", ["a"], 2000, "v", "u", "b", "c", [number(False, Tolerance(rel=1.0))] * 2).validate()


def copy_of_the_report_inputs(root: Path) -> dict[Path, bytes]:
    """The files ``make report`` reads and writes, copied under ``root``; their content by path."""
    names = ["README.md", "RESULTS.md"]
    for folder in sorted((REPO_ROOT / "papers").glob("*/paper.yaml")):
        paper = folder.parent.relative_to(REPO_ROOT)
        names += [str(paper / "paper.yaml"), str(paper / "README.md")]
        for pattern in ("*.json", "*.png", "curves/*.csv"):
            names += [str(p.relative_to(REPO_ROOT)) for p in sorted((REPO_ROOT / paper / "results").glob(pattern))]
    names.append(str(figures.OVERVIEW))
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, root / name)
    return {root / name: (root / name).read_bytes() for name in names}


@pytest.mark.parametrize("check", [[], ["--check"]])
def test_a_truncated_results_file_is_one_line_naming_it_and_no_file_is_touched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], check: list[str]
) -> None:
    before = copy_of_the_report_inputs(tmp_path)
    assert report.main(check, root=tmp_path) == 0
    truncated = tmp_path / "papers" / "tcn" / "results" / "jsb_chorales.json"
    truncated.write_bytes(before[truncated][: len(before[truncated]) // 2])  # a write cut short
    assert report.main(check, root=tmp_path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {truncated}: not complete JSON")
    assert f"`git checkout -- {truncated}`" in err and "`make repro PAPER=tcn TASK=jsb_chorales`" in err
    assert all(path.read_bytes() == content for path, content in before.items() if path != truncated)


def test_the_curves_file_is_written_atomically(tmp_path: Path) -> None:
    from shared.results import write_curves

    write_curves({1: [{"epoch": 1, "train/loss": 0.5}]}, tmp_path / "curves" / "t.csv")
    assert (tmp_path / "curves" / "t.csv").read_bytes() == b"seed,epoch,train/loss\r\n1,1,0.5\r\n"
    assert [p.name for p in (tmp_path / "curves").iterdir()] == ["t.csv"]


def test_a_malformed_paper_card_is_one_line_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = copy_of_the_report_inputs(tmp_path)
    card = tmp_path / "papers" / "gru" / "paper.yaml"
    card.write_text(card.read_text() + "\n  - task: [unclosed\n")
    assert report.main([], root=tmp_path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {card}: not valid YAML at line")
    assert all(path.read_bytes() == content for path, content in before.items() if path != card)


def test_a_figure_drawn_from_other_inputs_or_missing_is_stale_and_make_report_redraws_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_of_the_report_inputs(tmp_path)
    assert report.main(["--check"], root=tmp_path) == 0
    curves = tmp_path / "papers" / "tcn" / "results" / "curves" / "jsb_chorales.csv"
    curves.write_text(curves.read_text().replace("1111,1,", "1111,1,9", 1))  # a re-run's curves landed
    (tmp_path / figures.OVERVIEW).unlink()
    assert report.main(["--check"], root=tmp_path) == 1
    err = capsys.readouterr().err
    assert "papers/tcn/README.md" in err and str(figures.OVERVIEW) in err
    assert report.main([], root=tmp_path) == 0
    drawn = capsys.readouterr().out
    assert f"drew {figures.OVERVIEW}" in drawn and "drew papers/tcn/results/learning_curves.png" in drawn
    assert "drew papers/gru" not in drawn  # unchanged inputs: not redrawn
    for png in (tmp_path / figures.OVERVIEW, tmp_path / "papers" / "tcn" / figures.CURVES):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report.main(["--check"], root=tmp_path) == 0


def test_every_readme_shows_its_figures_and_they_are_committed() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert f"]({figures.OVERVIEW.as_posix()})" in readme and (REPO_ROOT / figures.OVERVIEW).exists()
    for card, folder in report.papers(REPO_ROOT):
        for line, png, _ in figures.paper_figures(card, folder):
            assert line in (folder / "README.md").read_text() and (folder / png).exists()


def test_a_metric_reported_by_group_is_drawn_against_its_groups(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    copy_of_the_report_inputs(tmp_path)
    folder = tmp_path / "papers" / "tcn"
    assert figures.groups_line(folder) is None and not (folder / figures.GROUPS).exists()
    path = folder / "results" / "jsb_chorales.json"
    result = json.loads(path.read_text())
    by_group = {f"accuracy_pct_{k}": {"ours": 100.0 - 3 * k, "ours_std": 2.0} for k in (12, 1, 2, 3)}
    too_few = {f"loss_{k}": {"ours": 1.0, "ours_std": None} for k in (1, 2, 3)}  # 3 groups: no curve
    per_layer = {f"f1_layer{k}": {"ours": 40.0, "ours_std": None} for k in (1, 2, 3, 4)}  # no "_<k>"
    result["secondary"] = {**by_group, **too_few, **per_layer, "accuracy_pct_unseen": {"ours": 70.0, "ours_std": 1.0}}
    path.write_text(json.dumps(result))
    n = result["n_seeds"]
    assert figures.grouped_metrics(folder) == {
        "accuracy_pct": {"jsb_chorales": [(1, 97.0, 2.0, n), (2, 94.0, 2.0, n), (3, 91.0, 2.0, n), (12, 64.0, 2.0, n)]}
    }
    assert report.main(["--check"], root=tmp_path) == 1  # the README lacks the figure's line
    assert report.main([], root=tmp_path) == 0
    assert "drew papers/tcn/results/by_group.png" in capsys.readouterr().out
    assert figures.groups_line(folder) in (folder / "README.md").read_text()
    assert (folder / figures.GROUPS).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report.main(["--check"], root=tmp_path) == 0


def test_each_pair_of_a_comparison_claim_is_drawn_with_its_own_outcome(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    import math

    copy_of_the_report_inputs(tmp_path)
    folder = tmp_path / "papers" / "tcn"
    card = dict((f.name, c) for c, f in report.papers(tmp_path))["tcn"]
    assert figures.claims_line(card, folder) is None  # the TCN card has no comparison claim
    for task, loss in (("jsb_chorales_gru", 1.0), ("jsb_chorales", 2.0)):
        path = folder / "results" / f"{task}.json"
        result = json.loads(path.read_text())
        result["secondary"] = {"loss_x": {"ours": loss, "ours_std": None}}
        path.write_text(json.dumps(result))
    claim = (
        "  - id: {}\n    statement: s\n    source: s\n    scale: reduced\n"
        "    check: {{kind: greater, task: {}, than: jsb_chorales, metrics: [{}]}}\n"
    )
    with (folder / "paper.yaml").open("a") as f:
        f.write("claims:\n" + claim.format("two_pairs", "jsb_chorales_gru", "nll_per_frame, loss_x"))
        f.write(claim.format("not_run", "text8", "nll_per_frame"))  # text8 has no results file
    card = dict((f.name, c) for c, f in report.papers(tmp_path))["tcn"]
    pairs = figures.compared_claims(card, folder)
    tcn = json.loads((folder / "results" / "jsb_chorales.json").read_text())
    assert [(p.claim.id, p.status, p.larger.metric, p.larger.mean, p.other.mean) for p in pairs] == [
        ("two_pairs", "holds", "nll_per_frame", pytest.approx(8.578, abs=1e-3), tcn["ours"]),
        ("two_pairs", "fails", "loss_x", 1.0, 2.0),  # the claim fails, its first pair holds alone
    ]
    assert pairs[0].other.se == pytest.approx(tcn["ours_std"] / math.sqrt(3)) and pairs[0].larger.se == 0.0
    assert report.main(["--check"], root=tmp_path) == 1  # the README lacks the figure's line
    assert report.main([], root=tmp_path) == 0
    assert "drew papers/tcn/results/claims.png" in capsys.readouterr().out
    assert figures.claims_line(card, folder) in (folder / "README.md").read_text()
    assert (folder / figures.CLAIMS).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report.main(["--check"], root=tmp_path) == 0


def test_a_curve_of_one_epoch_spans_whole_epochs_and_a_longer_one_its_own_range() -> None:
    assert figures.epoch_limits([1.0, 1.0]) == (0.0, 2.0)
    assert figures.epoch_limits([3.0]) == (2.0, 4.0)
    assert figures.epoch_limits([1.0, 2.0]) is None
    assert figures.epoch_limits([]) is None


def test_a_bar_inside_a_cell_does_not_split_the_row() -> None:
    from shared.report.tables import _table_row

    row = _table_row(["|X1 + X2| >= 1.8", "b"])
    assert row == "| \\|X1 + X2\\| >= 1.8 | b |"
    assert len(re.split(r"(?<!\\)\|", row)) == 4  # the outer bars and one between the two cells
