"""Keep every stage's code dependencies equal to the code closure of its entry module.

A stage ``python -m papers.<p> train ...`` runs the closure of ``papers.<p>.__main__``, a root
``prepare@<dataset>`` stage that of ``shared.data.prepare`` (:func:`shared.run.provenance.code_closure`);
if ``dvc.yaml`` listed less, a code change could move a number without ``dvc status`` noticing. The
dependency lists are therefore computed, not written by hand: ``python -m shared.run.stages``
rewrites the code part of every stage's ``deps:`` (data dependencies, the entries that are not
Python files or code folders, are kept), and ``--check`` fails when a list is out of date (the
conformance suite runs it).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from shared.core.paths import REPO_ROOT
from shared.run.provenance import code_closure, code_digest

#: A stage's ``deps:`` block inside a foreach ``do:`` (six spaces), up to the next key.
DEPS_BLOCK = re.compile(r"(?P<head>\n      deps:\n)(?P<items>(?:        - .*\n)+)")


#: The module each pipeline's stages run.
ROOT_ENTRY = "shared.data.prepare"

#: The comment a stage carries over ``foreach:`` while some of its tasks have no committed result.
WAITING = "# waiting for the first committed result of: "
WAITING_END = " (shared/README.md, 'A new stage')"


def entry_module(dvc_yaml: Path, root: Path = REPO_ROOT) -> str:
    """``papers.<p>.__main__`` for ``papers/<p>/dvc.yaml``; :data:`ROOT_ENTRY` for the root one."""
    folder = dvc_yaml.parent.relative_to(root)
    return ROOT_ENTRY if folder == Path(".") else ".".join(folder.parts) + ".__main__"


def stage_deps(module: str, kept: list[str], root: Path = REPO_ROOT) -> list[str]:
    """``kept`` (the stage's data dependencies) followed by the code closure of ``module``."""
    code = [str(path) for path in code_closure(module, root)]
    return kept + [path for path in code if path not in kept]


def render(dvc_yaml: Path, root: Path = REPO_ROOT) -> str:
    """The text of ``dvc_yaml`` with the code dependencies of every stage recomputed."""
    module = entry_module(dvc_yaml, root)

    def replace(match: re.Match[str]) -> str:
        items = [line.strip()[2:] for line in match["items"].splitlines()]
        kept = [item for item in items if not item.endswith(".py") and not _is_code_dir(item, root)]
        return match["head"] + "".join(f"        - {dep}\n" for dep in stage_deps(module, kept, root))

    return DEPS_BLOCK.sub(replace, dvc_yaml.read_text())


def _is_code_dir(item: str, root: Path) -> bool:
    path = root / item
    return path.is_dir() and any(path.rglob("*.py"))


def add_task(text: str, stage: str, task: str) -> str:
    """``text`` (a paper's ``dvc.yaml``) with ``task`` appended to the ``foreach`` of ``stage`` and
    struck from the stage's waiting comment (the comment goes with its last task). A ValueError for
    an unknown stage or a task already there."""
    lines = text.splitlines(keepends=True)
    try:
        start = lines.index(f"  {stage}:\n")
    except ValueError:
        raise ValueError(f"no stage {stage!r} in this dvc.yaml") from None
    at = start + 1
    comment_from = at
    while lines[at].startswith("    #"):
        at += 1
    if not lines[at].startswith("    foreach:"):
        raise ValueError(f"stage {stage!r} has no foreach: list")
    items_end = at + 1
    while items_end < len(lines) and lines[items_end].startswith("      - "):
        items_end += 1
    items = [line.strip()[2:] for line in lines[at + 1 : items_end]]
    if task in items:
        raise ValueError(f"{task} is already in the foreach of {stage}")
    foreach = ["    foreach:\n", *lines[at + 1 : items_end], f"      - {task}\n"]
    comment = _waiting_comment("".join(lines[comment_from:at]), task)
    return "".join(lines[:comment_from] + comment + foreach + lines[items_end:])


def _waiting_comment(comment: str, task: str) -> list[str]:
    # Only the waiting comment is rewritten; any other comment over foreach stays as written.
    flat = " ".join(line.strip().removeprefix("#").strip() for line in comment.splitlines())
    if not flat.startswith("waiting for the first committed result"):
        return comment.splitlines(keepends=True)
    names = flat.split(":", 1)[1].removesuffix(WAITING_END.strip()).replace(",", " ").split()
    left = [name for name in names if name != task]
    if not left:
        return []
    out, line = [], "    #"
    for word in (WAITING + ", ".join(left) + WAITING_END).split(" ")[1:]:
        if len(line) + 1 + len(word) > 104:  # the width the hand-written comments keep
            out.append(line + "\n")
            line = "    #"
        line += " " + word
    return [*out, line + "\n"]


def pipelines(root: Path = REPO_ROOT) -> list[Path]:
    """The root ``dvc.yaml`` and every paper's."""
    return [root / "dvc.yaml", *sorted((root / "papers").glob("*/dvc.yaml"))]


def stage_target(paper: str, task: str, root: Path = REPO_ROOT) -> str:
    """The ``dvc repro`` target of ``task`` (``all``: the paper's whole pipeline); a ValueError that
    lists what exists for a paper or task without a stage, before DVC can run anything else."""
    papers_found = sorted(p.parent.name for p in (root / "papers").glob("*/dvc.yaml"))
    if paper not in papers_found:
        raise ValueError(f"unknown paper {paper!r} (known: {', '.join(papers_found)})")
    path = f"papers/{paper}/dvc.yaml"
    if task == "all":
        return path
    stages = yaml.safe_load((root / path).read_text())["stages"]
    for group, stage in stages.items():
        if task in stage["foreach"]:
            return f"{path}:{group}@{task}"
    keys = sorted(k for stage in stages.values() for k in stage["foreach"])
    tasks = yaml.safe_load((root / "papers" / paper / "params.yaml").read_text())["tasks"]
    if task in tasks and "cpu" in tasks[task].get("profiles", {}):
        raise ValueError(
            f"{paper}/{task} has no DVC stage yet (no committed result); make its first one directly: "
            f"make repro PAPER={paper} TASK={task} PROFILE=cpu (then shared/README.md, 'A new stage')"
        )
    if task in tasks:
        raise ValueError(
            f"{paper}/{task} has no DVC stage (it has no cpu profile); run it directly: "
            f"make repro PAPER={paper} TASK={task} PROFILE=paper"
        )
    raise ValueError(f"unknown task {task!r} of {paper} (stages: {', '.join(keys)}; or TASK=all)")


def stale_stages(root: Path = REPO_ROOT) -> dict[str, list[str]]:
    """Stages whose dependencies or parameters differ from ``dvc.lock`` (``dvc status``), with what
    changed: their committed results no longer come from the committed code. Outputs missing from
    the cache, or data not pulled, are not staleness."""
    dvc = Path(sys.executable).with_name("dvc")  # the environment's own, whatever PATH says
    done = subprocess.run(
        [str(dvc) if dvc.exists() else "dvc", "status", "--json"], cwd=root, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"dvc status failed: {done.stderr.strip()}")
    stale: dict[str, list[str]] = {}
    for stage, changes in json.loads(done.stdout or "{}").items():
        for change in changes:
            if not isinstance(change, dict):
                continue
            for kind in ("changed deps", "changed params"):
                for path, status in _flatten(change.get(kind, {})):
                    if status != "deleted":
                        stale.setdefault(stage, []).append(f"{path} ({status})")
    return stale


def commit_locks(targets: list[str], root: Path = REPO_ROOT) -> list[str]:
    """Record the current dependency hashes of ``targets`` in their ``dvc.lock``, keeping the
    recorded hashes of outputs that are not in this checkout (``runs/`` checkpoints are not in the
    shared DVC remote, and ``dvc commit`` refuses a stage whose output is missing). Only for stages
    whose result-neutrality was shown (``shared.run.equivalence``) or whose result was just made
    by their own code and parameters (:func:`add_stage`, :func:`land`); returns the stages committed."""
    from dvc.repo import Repo

    done = []
    with Repo(str(root)) as repo, repo.lock:
        for target in targets:
            for stage in repo.stage.collect(target):
                stage.save(allow_missing=True, run_cache=False)
                stage.dump(update_pipeline=False)
                done.append(stage.addressing)
    return done


def _parse_target(target: str) -> re.Match[str]:
    match = re.fullmatch(r"(papers/(?P<paper>\w+)/dvc\.yaml):(?P<stage>\w+)@(?P<task>\w+)", target)
    if not match:
        raise ValueError(f"{target!r} is not papers/<paper>/dvc.yaml:<stage>@<task>")
    return match


def add_stage(target: str, root: Path = REPO_ROOT) -> None:
    """Step 2 of 'A new stage' (shared/README.md): ``papers/<p>/dvc.yaml:<stage>@<task>`` into its
    stage's ``foreach`` and out of its waiting comment, then its lock recorded. The results file of
    the task must exist: a stage is added with its first result, never before."""
    match = _parse_target(target)
    results = root / "papers" / match["paper"] / "results" / f"{match['task']}.json"
    if not results.exists():
        raise ValueError(f"{results.relative_to(root)} does not exist: a stage is added with its first result")
    tasks = yaml.safe_load((root / "papers" / match["paper"] / "params.yaml").read_text())["tasks"]
    if match["task"] not in tasks:
        raise ValueError(f"{match['task']} is not a task of papers/{match['paper']}/params.yaml")
    path = root / match[1]
    path.write_text(add_task(path.read_text(), match["stage"], match["task"]))
    path.write_text(render(path, root))
    commit_locks([target], root)


def land(source: Path, target: str, root: Path = REPO_ROOT) -> Path:
    """A task's cpu result made in another checkout of this repository (a worktree of a clean
    commit, another machine), brought here: its results file and curves copied when the run's code
    digest and its task's parameters equal this checkout's, then the stage added (:func:`add_stage`)
    or, for a task that has its stage already (a re-run after a change of its parameters), that
    stage's lock recorded as ``dvc repro`` here would (:func:`commit_locks`). A ValueError, before
    anything is copied, for a run of other code or parameters or of another profile or task.
    Returns the results file written."""
    match = _parse_target(target)
    paper, task = match["paper"], match["task"]
    found = Path(source) / "papers" / paper / "results" / f"{task}.json"
    if not found.exists():
        raise ValueError(f"{found} does not exist: nothing to land")
    result = json.loads(found.read_text())
    if (result.get("paper"), result.get("task"), result.get("profile")) != (paper, task, "cpu"):
        raise ValueError(
            f"{found} is {result.get('paper')}/{result.get('task')} at profile {result.get('profile')}, "
            f"not {paper}/{task} at profile cpu (the profile every stage runs)"
        )
    stages = yaml.safe_load((root / match[1]).read_text())["stages"]
    if match["stage"] not in stages:
        raise ValueError(f"no stage {match['stage']!r} in {match[1]} (stages: {', '.join(stages)})")
    if _task_params(Path(source), paper, task) != _task_params(root, paper, task):
        raise ValueError(
            f"{found} was made with other parameters than this checkout's papers/{paper}/params.yaml "
            f"(tasks.{task} or repro.profile, the stage's params): land it with the change that made them"
        )
    here = code_digest(f"papers.{paper}.__main__", root)
    if result.get("code_digest") != here:
        raise ValueError(
            f"{found} was made by code {result.get('code_digest')} (commit {result.get('commit')}), this checkout "
            f"runs {here}: show the change result-neutral first (shared/README.md, 'Changing code that "
            "committed results depend on') or re-run the task here"
        )
    results = root / "papers" / paper / "results" / f"{task}.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(found, results)
    curves = found.parent / "curves" / f"{task}.csv"
    if curves.exists():
        (results.parent / "curves").mkdir(exist_ok=True)
        shutil.copyfile(curves, results.parent / "curves" / curves.name)
    if task in stages[match["stage"]].get("foreach", []):
        commit_locks([target], root)
    else:
        add_stage(target, root)
    return results


def _task_params(root: Path, paper: str, task: str) -> tuple[object, object]:
    # What a stage's `params:` tracks of a task: its block of tasks and the profile stages run.
    params = yaml.safe_load((root / "papers" / paper / "params.yaml").read_text())
    return params.get("tasks", {}).get(task), params.get("repro", {}).get("profile")


def _flatten(changed: dict) -> list[tuple[str, str]]:
    # ``changed params`` nests one level deeper: {file: {key: status}}.
    out = []
    for path, status in changed.items():
        if isinstance(status, dict):
            out += [(f"{path}:{key}", value) for key, value in status.items()]
        else:
            out.append((path, status))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.run.stages", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail (status 1) when a dvc.yaml is out of date")
    parser.add_argument(
        "--status", action="store_true", help="fail (status 1) when dvc status shows a modified dependency or parameter"
    )
    parser.add_argument("--target", nargs=2, metavar=("PAPER", "TASK"), help="print the dvc repro target of a task")
    parser.add_argument(
        "--commit", nargs="+", metavar="STAGE", help="dvc commit STAGEs shown result-neutral, outputs not in the cache"
    )
    parser.add_argument(
        "--add",
        nargs="+",
        metavar="STAGE",
        help="papers/<p>/dvc.yaml:<stage>@<task> with its first result: into the stage's foreach, then locked",
    )
    parser.add_argument(
        "--land",
        nargs="+",
        metavar=("CHECKOUT", "STAGE"),
        help="copy the results of STAGEs (papers/<p>/dvc.yaml:<stage>@<task>) from another CHECKOUT of the "
        "same code and parameters here, then --add them (or record the lock of a stage that exists)",
    )
    args = parser.parse_args(argv)
    if args.land:
        if len(args.land) < 2:
            parser.error("--land needs a CHECKOUT and at least one STAGE")
        try:
            for target in args.land[1:]:
                landed = land(Path(args.land[0]), target)
                print(f"landed {landed.relative_to(REPO_ROOT)}; {target} locked")
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        return 0
    if args.add:
        try:
            for target in args.add:
                add_stage(target)
                print(f"added and committed {target}")
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        return 0
    if args.commit:
        for stage in commit_locks(args.commit):
            print(f"committed {stage}")
        return 0
    if args.target:
        try:
            print(stage_target(*args.target))
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        return 0
    if args.status:
        stale = stale_stages()
        for stage, changed in stale.items():
            print(f"{stage}: {', '.join(changed[:4])}{' ...' if len(changed) > 4 else ''}", file=sys.stderr)
        if stale:
            print(
                f"{len(stale)} stage(s) do not match the committed code: re-run them, or prove the change "
                "result-neutral and `dvc commit` (see shared/README.md)",
                file=sys.stderr,
            )
        return 1 if stale else 0
    stale = []
    for path in pipelines():
        text = path.read_text()
        new = render(path)
        if new != text:
            stale.append(str(path.relative_to(REPO_ROOT)))
            if not args.check:
                path.write_text(new)
    if stale and args.check:
        print(f"out of date: {', '.join(stale)}; run `python -m shared.run.stages` and commit", file=sys.stderr)
        return 1
    for name in stale:
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
