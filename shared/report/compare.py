"""Does a re-made number agree with the committed one, and how does it stand against the paper's?
``make repro`` ends with this.

``python -m shared.report.compare --paper P [--task T]`` compares each task's results file in the
work tree (just re-made) with the version committed at ``HEAD``, then with the number the paper
reports (the card's value and tolerance, as recorded in the results file). Runs are bit-exact on one machine,
not across processors, so agreement means lying within the re-run tolerance,
:data:`RERUN_TOLERANCE` of the committed value (the cross-machine differences measured so far are
far smaller: TCN on JSB Chorales, 3 seeds at 2 threads each, 8.234 re-made on another machine vs
8.232 committed then).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from shared import results
from shared.core.paths import REPO_ROOT

#: A re-made number agrees with the committed one within this fraction of the committed value.
RERUN_TOLERANCE = 0.01


def committed(path: Path, root: Path = REPO_ROOT) -> dict[str, Any] | None:
    """The results file as committed at ``HEAD`` (``None`` when it is not in git)."""
    done = subprocess.run(["git", "show", f"HEAD:{path.relative_to(root)}"], cwd=root, capture_output=True, text=True)
    return json.loads(done.stdout) if done.returncode == 0 else None


def _show(result: dict[str, Any]) -> str:
    std = result.get("ours_std")
    seeds = len(result["seeds"])
    return f"{result['ours']:.6g}" + (f" ± {std:.2g}" if std else "") + f" ({seeds} seed{'s' * (seeds > 1)})"


def verdict(old: dict[str, Any] | None, new: dict[str, Any]) -> tuple[str, bool]:
    """A line for the user, and whether the re-made number agrees (or there was nothing to compare)."""
    task, metric = new["task"], new["metric"]
    if old is None:
        return f"{task}: {metric} = {_show(new)}; no committed number to compare with", True
    if old == new:
        return f"{task}: {metric} = {_show(new)}, unchanged: DVC found the stage up to date, nothing was re-made", True
    if old["profile"] != new["profile"]:
        return f"{task}: re-made at profile {new['profile']}, committed at {old['profile']}: not comparable", True
    allowed = RERUN_TOLERANCE * abs(old["ours"])
    delta = new["ours"] - old["ours"]
    ok = abs(delta) <= allowed
    where = f"on {new.get('machine', {}).get('processor', new['device'])}"
    line = (
        f"{task}: re-made {metric} = {_show(new)} {where}; committed {_show(old)}; "
        f"difference {delta:+.3g} is {'within' if ok else 'OUTSIDE'} the re-run tolerance ±{allowed:.3g}"
    )
    return line, ok


def versus_paper(result: dict[str, Any]) -> str:
    """The reported-vs-ours line of a results file."""
    task, metric, ours = result["task"], result["metric"], result["ours"]
    if result.get("paper_value") is None:
        return f"{task}: the paper reports no {metric} for this task (ours {ours:.6g})"
    within = "within" if result.get("within_tolerance") else "OUTSIDE"
    return (
        f"{task}: paper {metric} {result['paper_value']:.6g} vs ours {ours:.6g} "
        f"(difference {result['delta']:+.3g}, {within} the paper card's tolerance)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.report.compare", description=__doc__.splitlines()[0])
    parser.add_argument("--paper", required=True)
    parser.add_argument("--task", help="one task (default: every task with a results file)")
    args = parser.parse_args(argv)
    folder = REPO_ROOT / "papers" / args.paper
    paths = [folder / "results" / f"{args.task}.json"] if args.task else sorted((folder / "results").glob("*.json"))
    agree = True
    for path in paths:
        if not path.is_file():
            print(f"{path.relative_to(REPO_ROOT)}: no results file (the task was not run)")
            continue
        try:
            new = results.read(path)
            line, ok = verdict(committed(path), new)
        except results.ResultsFileError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(line)
        print(versus_paper(new))
        agree &= ok
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
