"""The paper conformance suite: what every paper folder promises, checked for each ``papers/*/``.

A new paper folder is picked up without editing this file: its skeleton, configs, card, pipeline,
code dependencies and a smoke run of every task are checked like those of the landed papers.
"""

from __future__ import annotations

import ast
import importlib
import json
import math
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from shared.core.paths import REPO_ROOT
from shared.results.paper_card import load_card
from shared.run.experiment import Paper, RunOptions, run
from shared.run.stages import render

PAPERS = sorted(p.name for p in (REPO_ROOT / "papers").iterdir() if (p / "__main__.py").is_file())
SKELETON = ("README.md", "paper.yaml", "params.yaml", "dvc.yaml", "model.py", "__main__.py", "results")
#: Methods of the task protocol (shared.tasks.base.Task): a class with them is task code.
TASK_METHODS = {"train_batches", "train_loss", "evaluate"}


def paper_of(key: str) -> Paper:
    return importlib.import_module(f"papers.{key}.__main__").PAPER


def tasks_of(key: str) -> dict[str, dict]:
    return yaml.safe_load((REPO_ROOT / "papers" / key / "params.yaml").read_text())["tasks"]


SMOKE = [(key, task) for key in PAPERS for task, entry in tasks_of(key).items() if "smoke" in entry["profiles"]]


def test_the_landed_papers_are_all_checked() -> None:
    assert {"tcn", "lstm", "gru"} <= set(PAPERS)


@pytest.mark.parametrize("key", PAPERS)
def test_skeleton(key: str) -> None:
    folder = REPO_ROOT / "papers" / key
    missing = [name for name in SKELETON if not (folder / name).exists()]
    assert not missing, f"papers/{key} lacks {missing} (DESIGN.md: the paper folder skeleton)"
    assert paper_of(key).key == key


@pytest.mark.parametrize("key", PAPERS)
def test_the_readme_gives_the_papers_bibtex_and_how_to_cite_the_reproduction(key: str) -> None:
    readme = (REPO_ROOT / "papers" / key / "README.md").read_text()
    bibtex = re.findall(r"```bibtex\n(.*?)```", readme, flags=re.DOTALL)
    assert bibtex and all(re.match(r"@\w+\{\w+,", entry) for entry in bibtex), f"papers/{key}/README.md: no BibTeX"
    assert "**How to cite.**" in readme and f"`papers/{key}`" in readme and "`CITATION.cff`" in readme


def test_the_citation_file_is_valid_and_carries_the_package_version() -> None:
    citation = yaml.safe_load((REPO_ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["type"] == "software"
    assert citation["title"] and citation["message"] and citation["authors"]
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert str(citation["version"]) == pyproject["project"]["version"]


@pytest.mark.parametrize("key", PAPERS)
def test_every_task_loads_at_every_profile(key: str) -> None:
    paper = paper_of(key)
    for task, entry in tasks_of(key).items():
        assert entry.get("profiles"), f"{key}/{task} has no profiles"
        for profile in entry["profiles"]:
            paper.config(task, profile)  # a ConfigError names the file and key


@pytest.mark.parametrize("key", PAPERS)
def test_every_task_has_a_card_entry_and_a_missing_number_says_why(key: str) -> None:
    card = load_card(REPO_ROOT / "papers" / key / "paper.yaml")
    entries = {r.task: r for r in card.reported}
    assert set(tasks_of(key)) <= set(entries), f"no card entry for {set(tasks_of(key)) - set(entries)}"
    for entry in card.reported:
        if entry.value is None:
            assert len(entry.source.strip()) > 20, f"{key}/{entry.task}: a null value needs its reason in source"


@pytest.mark.parametrize("key", PAPERS)
def test_the_pipeline_has_one_stage_per_task_with_a_cpu_profile_and_a_committed_result(key: str) -> None:
    """Tasks with only a ``paper`` profile (data you bring, or a GPU-sized run) have no stage; a
    task with a cpu profile gets its stage with its first committed result (until then a stage
    would have no lock entry, and ``dvc status`` would report all its dependencies modified)."""
    pipeline = yaml.safe_load((REPO_ROOT / "papers" / key / "dvc.yaml").read_text())
    keys = [k for stage in pipeline["stages"].values() for k in stage["foreach"]]
    assert len(keys) == len(set(keys)), f"a task has two stages in papers/{key}/dvc.yaml"
    results = REPO_ROOT / "papers" / key / "results"
    assert set(keys) == {
        task
        for task, entry in tasks_of(key).items()
        if "cpu" in entry["profiles"] and (results / f"{task}.json").is_file()
    }
    for name, stage in pipeline["stages"].items():
        # A stage reads its task's preset from the paper's params.yaml (a bare list would make DVC
        # look for the keys in the repository root's params.yaml, where they are not).
        variable = "${" + ("key" if "${key}" in stage["do"]["cmd"] else "item") + "}"
        expected = [{f"papers/{key}/params.yaml": [f"tasks.{variable}", "repro.profile"]}]
        assert stage["do"]["params"] == expected, f"papers/{key}/dvc.yaml: {name}.params"


@pytest.mark.parametrize("dvc_yaml", ["dvc.yaml", *(f"papers/{key}/dvc.yaml" for key in PAPERS)])
def test_stage_dependencies_are_the_code_closure_of_the_entry_module(dvc_yaml: str) -> None:
    path = REPO_ROOT / dvc_yaml
    assert render(path) == path.read_text(), f"{dvc_yaml} is out of date: run `python -m shared.run.stages`"


@pytest.mark.parametrize("key", PAPERS)
def test_no_task_code_in_the_paper_folder(key: str) -> None:
    """Data reading, batching, loss and metric live in shared/tasks; a paper configures them."""
    for path in sorted((REPO_ROOT / "papers" / key).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                methods = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
                assert not TASK_METHODS <= methods, f"{path.name}: {node.name} is a task; move it to shared/tasks"


@pytest.mark.slow
@pytest.mark.parametrize(("key", "task"), SMOKE, ids=[f"{k}-{t}" for k, t in SMOKE])
def test_smoke_run_writes_a_results_file_and_mlflow_runs(
    key: str, task: str, tmp_path: Path, mlflow_store: str, prepared_data: Path
) -> None:
    from mlflow import MlflowClient

    paper = paper_of(key)
    results_path = tmp_path / "results" / f"{task}.json"
    (paper.runner or run)(
        paper, task, "smoke", results_path=results_path, options=RunOptions(run_root=tmp_path / "runs", progress=False)
    )
    result = json.loads(results_path.read_text())
    assert (result["paper"], result["task"], result["profile"]) == (key, task, "smoke")
    assert math.isfinite(result["ours"])
    number = load_card(paper.card_path).number_for(task)
    assert result["paper_value"] == (number.value if number else None)
    assert result["machine"]["processor"] and result["code_digest"] and result["data_digest"]
    metric = result["metric"]
    client = MlflowClient(tracking_uri=mlflow_store)
    for seed in result["seeds"]:
        mlflow_run = client.get_run(seed["mlflow_run_id"])
        assert mlflow_run.info.status == "FINISHED"
        assert (mlflow_run.data.tags["paper"], mlflow_run.data.tags["task"]) == (key, task)
        assert mlflow_run.data.tags["origin"] == "trained"  # told apart from imported committed results
        logged = mlflow_run.data.metrics
        assert logged[f"ours/{metric}"] == pytest.approx(seed["value"])
        if number is not None:
            assert logged[f"paper/{metric}"] == pytest.approx(number.value)
            assert logged[f"delta/{metric}"] == pytest.approx(seed["value"] - number.value)
        artifacts = {a.path for a in client.list_artifacts(seed["mlflow_run_id"])}
        assert "learning_curve.png" in artifacts
