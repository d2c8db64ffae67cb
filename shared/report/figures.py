"""The figures of ``make report``: what a reader would rather look at than read.

- ``papers/results_overview.png`` (shown in README.md): every reported number that has a
  reproduction, as the ratio ours / paper on a log scale, marked within the paper card's tolerance
  or not, with the tolerance band; beside it, each paper's claims by outcome.
- ``papers/<p>/results/learning_curves.png`` (shown in the paper's README): the per-epoch test
  metric (valid where a task has no test curve) of every seed of every task with curves, and the
  paper's number as a dashed line.
- ``papers/<p>/results/by_group.png`` (shown in the paper's README, where there is one): a test
  metric reported per group, the secondary metrics ``<base>_<k>`` of a results file (accuracy by
  number of logical operators, say), mean and standard error over seeds against ``k``, each task
  a line, so tasks that share the groups are compared at a glance (Shen et al. 2019, Fig. 2).
- ``papers/<p>/results/claims.png`` (shown in the paper's README, where there is one): every
  comparison claim of the paper card (check ``greater``) whose results files exist, a panel per
  pair of metrics compared: the two arms' means with their standard errors over seeds, the panel
  coloured by that pair's outcome checked alone, so an ablation's effect is seen beside its noise.

A figure's staleness is checked like the tables', through the text: the README line that shows a
figure carries the digest of everything it is drawn from (its results files, curves, paper
cards and this module), so ``make report --check`` fails when an input changed and the figure was
not redrawn. PNG bytes are not compared: they differ across fonts and library builds.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from shared import results
from shared.results.claims import FAILS, HOLDS, MEASURED, NOT_RUN, metric_summary
from shared.results.claims import check as check_claim
from shared.results.paper_card import Claim, PaperCard

OVERVIEW = Path("papers") / "results_overview.png"
CURVES = Path("results") / "learning_curves.png"
GROUPS = Path("results") / "by_group.png"
CLAIMS = Path("results") / "claims.png"
#: a secondary metric of one group: ``<base>_<k>``, k an integer (``accuracy_pct_7``)
GROUPED_METRIC = re.compile(r"^(?P<base>.+)_(?P<group>\d+)$")
#: fewer groups than this make no curve worth a figure
MIN_GROUPS = 4
CLAIM_COLOURS = {HOLDS: "tab:green", FAILS: "tab:red", NOT_RUN: "lightgrey", MEASURED: "tab:blue"}


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256(Path(__file__).read_bytes())
    for path in sorted(paths):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def _image_line(alt: str, png: Path, inputs: list[Path]) -> str:
    return f"![{alt}]({png.as_posix()}) <!-- inputs {_digest(inputs)} -->"


def _saved(fig: Any, path: Path) -> Path:
    """Write ``fig`` to ``path`` and close it; no software version in the PNG, so that redrawing
    the same inputs gives the same bytes."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
    return path


def _panels(n: int, width: float, height: float, **options: Any) -> tuple[Any, Any]:
    """A figure of ``n`` panels of ``width`` x ``height`` inches, three a row, the unused ones of
    the last row blank; ``(figure, 2-d array of axes)``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False, **options)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes


def _standard_error(std: float | None, seeds: int) -> float:
    """The standard error of a mean over ``seeds`` seeds from their sample std (0 for one seed,
    whose std is recorded as none)."""
    return std / math.sqrt(seeds) if std is not None else 0.0


def _result_paths(folder: Path) -> list[Path]:
    return sorted((folder / "results").glob("*.json"))


def _curve_paths(folder: Path) -> list[Path]:
    return sorted((folder / "results" / "curves").glob("*.csv"))


# --- per paper: learning curves ------------------------------------------------------------


def _curve_tasks(card: PaperCard, folder: Path) -> list[tuple[str, dict]]:
    """Tasks in the card's order that have a results file and per-epoch curves of its metric."""
    tasks, seen = [], set()
    for number in card.reported:
        path = folder / "results" / f"{number.task}.json"
        curves = folder / "results" / "curves" / f"{number.task}.csv"
        if number.task in seen or not path.exists() or not curves.exists():
            continue
        seen.add(number.task)
        tasks.append((number.task, results.read(path)))
    return tasks


def curves_line(card: PaperCard, folder: Path) -> str | None:
    """The README line that shows the paper's learning curves (``None``: no task has curves)."""
    if not _curve_tasks(card, folder):
        return None
    inputs = [folder / "paper.yaml", *_result_paths(folder), *_curve_paths(folder)]
    return _image_line("Learning curves of every task and seed, the paper's number dashed", CURVES, inputs)


def _read_curves(path: Path) -> dict[int, list[dict[str, float]]]:
    histories: dict[int, list[dict[str, float]]] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            histories.setdefault(int(row.pop("seed")), []).append({k: float(v) for k, v in row.items() if v})
    return histories


def epoch_limits(epochs: list[float]) -> tuple[float, float] | None:
    """The x range of a curve panel whose points all lie at one epoch: one epoch either side, so
    the ticks are whole epochs (matplotlib would span 5 % of an epoch in fractional ticks);
    ``None`` (matplotlib's own range) when the points span several epochs."""
    if not epochs or min(epochs) != max(epochs):
        return None
    return epochs[0] - 1, epochs[0] + 1


def draw_curves(card: PaperCard, folder: Path) -> Path | None:
    """Draw ``results/learning_curves.png`` of one paper; return its path (``None``: no curves)."""
    from matplotlib.ticker import MaxNLocator

    tasks = _curve_tasks(card, folder)
    if not tasks:
        return None
    fig, axes = _panels(len(tasks), 4.2, 3.0)
    for ax, (task, result) in zip(axes.flat, tasks, strict=False):
        metric = result["metric"]
        histories = _read_curves(folder / "results" / "curves" / f"{task}.csv")
        split = "test" if any(f"test/{metric}" in h for hs in histories.values() for h in hs) else "valid"
        shown, epochs = [], []
        for seed, history in histories.items():
            points = [(h["epoch"], h[f"{split}/{metric}"]) for h in history if f"{split}/{metric}" in h]
            if points:
                marker = "o" if len(points) <= 5 else None  # a 1-epoch run is a point, not a line
                ax.plot(*zip(*points, strict=True), lw=1, alpha=0.8, marker=marker, ms=4, label=f"seed {seed}")
                shown += [v for _, v in points]
                epochs += [e for e, _ in points]
        if (limits := epoch_limits(epochs)) is not None:
            ax.set_xlim(*limits)
        number = card.number_for(task)
        if number is not None and number.metric == metric:
            ax.axhline(number.value, color="black", ls="--", lw=1, label=f"paper {number.value:g}")
            shown.append(number.value)
        if shown and min(shown) > 0 and max(shown) / min(shown) > 50:  # e.g. MSE 0.17 down to 6e-5
            ax.set_yscale("log")
        arrow = "↑" if result["higher_is_better"] else "↓"
        ax.set_title(f"{task} ({result['profile']})", fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(f"{split} {metric} {arrow}", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    fig.suptitle(f"{card.key}: learning curves (committed results)", fontsize=10)
    fig.tight_layout()
    return _saved(fig, folder / CURVES)


# --- per paper: a metric by group ----------------------------------------------------------

#: ``(k, mean over seeds, sample std over seeds or None, seeds)`` of one task's ``<base>_<k>``
GroupPoint = tuple[int, float, float | None, int]


def grouped_metrics(folder: Path) -> dict[str, dict[str, list[GroupPoint]]]:
    """The secondary metrics ``<base>_<k>`` of the paper's results files, by base and then task
    (results files in name order), for each base with at least :data:`MIN_GROUPS` groups in a task."""
    found: dict[str, dict[str, list[GroupPoint]]] = {}
    for path in _result_paths(folder):
        result = results.read(path)
        by_base: dict[str, list[GroupPoint]] = {}
        for name, stats in (result.get("secondary") or {}).items():
            match = GROUPED_METRIC.match(name)
            if match and stats.get("ours") is not None:
                point = (int(match["group"]), stats["ours"], stats.get("ours_std"), result["n_seeds"])
                by_base.setdefault(match["base"], []).append(point)
        for base, points in by_base.items():
            if len(points) >= MIN_GROUPS:
                found.setdefault(base, {})[path.stem] = sorted(points)
    return found


def groups_line(folder: Path) -> str | None:
    """The README line that shows the paper's metrics by group (``None``: it has none)."""
    if not grouped_metrics(folder):
        return None
    inputs = [folder / "paper.yaml", *_result_paths(folder)]
    return _image_line("Test metrics by group, mean and standard error over seeds", GROUPS, inputs)


def draw_groups(card: PaperCard, folder: Path) -> Path | None:
    """Draw ``results/by_group.png`` of one paper, a panel per base; return its path (``None``:
    no grouped metrics)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    grouped = grouped_metrics(folder)
    if not grouped:
        return None
    fig, axes = plt.subplots(1, len(grouped), figsize=(5.5 * len(grouped), 3.6), squeeze=False)
    for ax, (base, tasks) in zip(axes.flat, grouped.items(), strict=True):
        for task, points in tasks.items():
            ks, means, stds, seeds = zip(*points, strict=True)
            errors = [_standard_error(s, n) for s, n in zip(stds, seeds, strict=True)]
            ax.errorbar(ks, means, yerr=errors, marker="o", ms=3, lw=1, capsize=2, label=f"{task} ({seeds[0]} seeds)")
        ax.set_xlabel(f"k, the group of the metric {base}_k", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(f"test {base}_k (mean ± s.e.)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    fig.suptitle(f"{card.key}: test metrics by group (committed results)", fontsize=10)
    fig.tight_layout()
    return _saved(fig, folder / GROUPS)


# --- per paper: the comparison claims --------------------------------------------------------


@dataclass(frozen=True)
class Arm:
    """One side of a comparison: a task's metric, its mean and standard error over seeds."""

    task: str
    metric: str
    mean: float
    se: float
    seeds: int


@dataclass(frozen=True)
class Comparison:
    """A pair of metrics compared by a claim, with that pair's own outcome (a claim over several
    pairs holds when each does); ``larger`` is the arm the claim says is larger."""

    claim: Claim
    status: str
    larger: Arm
    other: Arm


def _arm(result: dict[str, Any], task: str, metric: str) -> Arm:
    mean, std, seeds = metric_summary(result, metric)
    return Arm(task, metric, mean, _standard_error(std, seeds), seeds)


def compared_claims(card: PaperCard, folder: Path) -> list[Comparison]:
    """Every pair of metrics compared by a ``greater`` claim of the card whose results files are
    there, in the card's order, each checked alone by the claims' own rule."""
    found = []
    for claim in card.claims:
        check = claim.check
        if check is None or check.kind != "greater":
            continue
        paths = {task: folder / "results" / f"{task}.json" for task in (check.task, check.than)}
        if not all(path.exists() for path in paths.values()):
            continue
        read = {task: results.read(path) for task, path in paths.items()}
        for metric, than_metric in zip(check.metrics, check.than_metrics or check.metrics, strict=True):
            alone = replace(check, metrics=[metric], than_metrics=[than_metric] if check.than_metrics else None)
            status = check_claim(replace(claim, check=alone), folder / "results").status
            if status in (HOLDS, FAILS):
                larger = _arm(read[check.task], check.task, metric)
                found.append(Comparison(claim, status, larger, _arm(read[check.than], check.than, than_metric)))
    return found


def claims_line(card: PaperCard, folder: Path) -> str | None:
    """The README line that shows the paper's comparison claims (``None``: none checked yet)."""
    if not compared_claims(card, folder):
        return None
    inputs = [folder / "paper.yaml", *_result_paths(folder)]
    return _image_line("Each comparison claim: both arms' mean ± standard error over seeds", CLAIMS, inputs)


def draw_claims(card: PaperCard, folder: Path) -> Path | None:
    """Draw ``results/claims.png`` of one paper, a panel per compared pair; return its path
    (``None``: no comparison claim checked yet)."""
    pairs = compared_claims(card, folder)
    if not pairs:
        return None
    fig, axes = _panels(len(pairs), 5.4, 2.3, layout="constrained")
    for ax, pair in zip(axes.flat, pairs, strict=False):
        colour = CLAIM_COLOURS[pair.status]
        arms = [pair.other, pair.larger]  # the arm claimed larger on top
        ax.errorbar([a.mean for a in arms], [0, 1], xerr=[a.se for a in arms], fmt="o", color=colour, capsize=3, ms=4)
        ax.set_yticks([0, 1], [f"{a.task}\n{a.metric} ({a.seeds} seed{'s' if a.seeds > 1 else ''})" for a in arms])
        ax.set_ylim(-0.6, 1.6)
        margin = pair.claim.check.margin_se
        wanted = f"top > bottom by > {margin:g} s.e." if margin else "top > bottom"
        ax.set_title(f"{pair.claim.id}: {pair.status}\n(claimed: {wanted})", fontsize=7, color=colour)
        ax.set_xlabel("mean ± s.e. over seeds", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.suptitle(f"{card.key}: comparison claims, each pair checked alone (committed results)", fontsize=10)
    return _saved(fig, folder / CLAIMS)


def paper_figures(card: PaperCard, folder: Path) -> list[tuple[str, Path, Callable[[PaperCard, Path], Path | None]]]:
    """The figures one paper has something to show in, in README order: each one's README line,
    its PNG (relative to the paper's folder) and how to draw it."""
    candidates = [
        (curves_line(card, folder), CURVES, draw_curves),
        (groups_line(folder), GROUPS, draw_groups),
        (claims_line(card, folder), CLAIMS, draw_claims),
    ]
    return [(line, png, draw) for line, png, draw in candidates if line is not None]


# --- all papers: reported vs reproduced ------------------------------------------------------


def _compared(cards: list[tuple[PaperCard, Path]]) -> list[tuple[str, float, float, bool]]:
    """``(label, ours / paper, tolerance edge / paper, within tolerance)`` of every reported
    number with a value and a reproduction, in the tables' order."""
    rows = []
    for card, folder in cards:
        for number in card.reported:
            path = folder / "results" / f"{number.task}.json"
            if number.value is None or number.value == 0 or not path.exists():
                continue
            result = results.read(path)
            if result["metric"] == number.metric:
                ours = result["ours"]
            elif number.metric in result.get("secondary", {}):
                ours = result["secondary"][number.metric]["ours"]
            else:
                continue
            allowed = number.tolerance.allowed(number.value)
            edge = number.value + (-allowed if number.higher_is_better else allowed)
            arrow = "↑" if number.higher_is_better else "↓"
            label = f"{card.key} {number.task} ({number.metric} {arrow}, {result['profile']})"
            rows.append((label, ours / number.value, edge / number.value, number.within_tolerance(ours)))
    return rows


def overview_line(cards: list[tuple[PaperCard, Path]], root: Path) -> str:
    """The README line that shows the overview figure."""
    inputs = [p for card, folder in cards for p in [folder / "paper.yaml", *_result_paths(folder)]]
    return _image_line("Every reproduced number as ours / paper, and every claim by outcome", OVERVIEW, inputs)


def draw_overview(cards: list[tuple[PaperCard, Path]], root: Path) -> Path:
    """Draw ``papers/results_overview.png``; return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _compared(cards)
    height = max(3.0, 0.22 * len(rows) + 1.2)
    fig, (ax, ax_claims) = plt.subplots(
        1, 2, figsize=(13, height), gridspec_kw={"width_ratios": [3, 1.3]}, constrained_layout=True
    )
    y = list(range(len(rows)))[::-1]
    for yi, (_, ratio, edge, within) in zip(y, rows, strict=True):
        ax.plot([1, edge], [yi, yi], color="lightgrey", lw=5, solid_capstyle="butt", zorder=1)
        ax.scatter(ratio, yi, color="tab:green" if within else "tab:red", marker="o" if within else "X", zorder=2)
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(y, [r[0] for r in rows], fontsize=7)
    ax.set_ylim(-1, len(rows))
    ax.set_xlabel("ours / paper (log scale; grey: the tolerance band; green: within it, red X: not)", fontsize=8)
    ax.set_title("Reported vs reproduced, every number with a committed result", fontsize=10)

    names = [card.key for card, _ in cards]
    counts = {status: [] for status in CLAIM_COLOURS}
    for card, folder in cards:
        outcomes = [check_claim(claim, folder / "results").status for claim in card.claims]
        for status in counts:
            counts[status].append(outcomes.count(status))
    left = [0] * len(names)
    ypos = list(range(len(names)))[::-1]
    for status, colour in CLAIM_COLOURS.items():
        ax_claims.barh(ypos, counts[status], left=left, color=colour, label=status)
        left = [a + b for a, b in zip(left, counts[status], strict=True)]
    ax_claims.set_yticks(ypos, names, fontsize=8)
    ax_claims.set_xlabel("claims of the paper card", fontsize=8)
    ax_claims.set_title("Claims by outcome", fontsize=10)
    ax_claims.legend(fontsize=7, loc="lower right")
    return _saved(fig, root / OVERVIEW)
