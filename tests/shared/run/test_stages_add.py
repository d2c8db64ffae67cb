"""A task's first result lands with one command: into its stage's foreach, out of the waiting comment."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shared.core.paths import REPO_ROOT
from shared.run.stages import add_stage, add_task

PIPELINE = """stages:
  adding:
    # waiting for the first committed result of: adding_t100_indrnn, adding_t100_rnn,
    # adding_t100_lstm (shared/README.md, 'A new stage')
    foreach: []
    do:
      cmd: python -m papers.indrnn train ${item}
  music:
    foreach:
      - jsb
    do:
      cmd: python -m papers.gru train ${item}
"""


def test_the_first_task_of_an_empty_stage_replaces_the_empty_list_and_leaves_the_others_waiting() -> None:
    text = add_task(PIPELINE, "adding", "adding_t100_rnn")
    stages = yaml.safe_load(text)["stages"]
    assert stages["adding"]["foreach"] == ["adding_t100_rnn"]
    assert stages["music"]["foreach"] == ["jsb"]
    assert "adding_t100_rnn" not in text.split("foreach")[0]
    assert "# waiting for the first committed result of: adding_t100_indrnn, adding_t100_lstm (shared/README.md" in text


def test_the_last_waiting_task_takes_the_comment_with_it() -> None:
    text = PIPELINE
    for task in ("adding_t100_indrnn", "adding_t100_rnn", "adding_t100_lstm"):
        text = add_task(text, "adding", task)
    assert "waiting" not in text
    assert yaml.safe_load(text)["stages"]["adding"]["foreach"] == [
        "adding_t100_indrnn",
        "adding_t100_rnn",
        "adding_t100_lstm",
    ]


def test_a_task_is_appended_after_the_existing_ones_and_the_rest_of_the_file_is_untouched() -> None:
    text = add_task(PIPELINE, "music", "nottingham")
    assert yaml.safe_load(text)["stages"]["music"]["foreach"] == ["jsb", "nottingham"]
    assert text.replace("      - nottingham\n", "") == PIPELINE


@pytest.mark.parametrize("pipeline", sorted((REPO_ROOT / "papers").glob("*/dvc.yaml")), ids=lambda p: p.parent.name)
def test_every_waiting_task_of_the_repository_can_be_added(pipeline: Path) -> None:
    text = pipeline.read_text()
    for stage, body in yaml.safe_load(text)["stages"].items():
        block = text.split(f"\n  {stage}:\n", 1)[1].split("    foreach:")[0]
        waiting = " ".join(line.strip("# \n") for line in block.splitlines()).split(":", 1)[-1]
        for task in [t for t in waiting.split(" (shared")[0].replace(",", " ").split() if "waiting" in block]:
            text = add_task(text, stage, task)
            assert task in yaml.safe_load(text)["stages"][stage]["foreach"]
        assert yaml.safe_load(text)["stages"][stage]["do"] == body["do"]
    assert "waiting" not in text


def test_bad_input_is_refused_with_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no stage 'translate'"):
        add_task(PIPELINE, "translate", "x")
    with pytest.raises(ValueError, match="already in the foreach"):
        add_task(PIPELINE, "music", "jsb")
    with pytest.raises(ValueError, match="is not papers/<paper>/dvc.yaml:<stage>@<task>"):
        add_stage("papers/gru/dvc.yaml:music", tmp_path)
    with pytest.raises(ValueError, match="does not exist: a stage is added with its first result"):
        add_stage("papers/gru/dvc.yaml:music@nottingham_gru_converged", tmp_path)
