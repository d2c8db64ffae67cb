"""Raw data and the user's own corpora survive every command that touches ``data/`` (issue 12
items 2-3): bring-your-own corpora live outside DVC's ``data/``, ``make setup`` never hides
DVC's message nor suggests ``--force`` silently, and ``make restore-data`` (the hint of a
checksum failure) restores a corrupted file even after DVC re-hashed ``data.dvc`` to it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shared.core.paths import REPO_ROOT
from shared.data import external
from shared.data.checksums import DataError, verify_dataset


def make_lines(target: str) -> list[str]:
    """The shell lines ``make <target>`` runs, with this interpreter as ``$(PY)`` and without the
    virtual environment's set-up (``-o``: a test must never run a pip install)."""
    recipe = subprocess.run(
        ["make", "--no-print-directory", "-n", "-o", ".venv/.installed", target, f"PY={sys.executable}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return recipe.splitlines()


def tool_env(fake_bin: Path | None = None) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(fake_bin) if fake_bin else "", str(Path(sys.executable).parent)]))
    return {**os.environ, "PATH": f"{path}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO_ROOT)}


def sh(*args: str, cwd: Path) -> str:
    done = subprocess.run(args, cwd=cwd, env=tool_env(), capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


# ---------------------------------------------------------------- item 2: bring your own data
def test_bring_your_own_corpora_live_outside_dvc_data_and_are_git_ignored() -> None:
    assert external.EXTERNAL_ROOT.is_absolute() and external.EXTERNAL_ROOT == REPO_ROOT / "external"
    dvc_outs = [REPO_ROOT / out["path"] for out in yaml.safe_load((REPO_ROOT / "data.dvc").read_text())["outs"]]
    assert not any(external.EXTERNAL_ROOT.is_relative_to(out) for out in dvc_outs)
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "external/text8/train.txt"], cwd=REPO_ROOT, capture_output=True
    )
    assert ignored.returncode == 0, "external/ must be git-ignored"


def test_a_corpus_in_external_is_read_whatever_the_working_directory(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "external"
    (root / "text8").mkdir(parents=True)
    for split in external.SPLITS:
        (root / "text8" / f"{split}.txt").write_text("ab ba\nba ab\n")
    monkeypatch.setenv(external.EXTERNAL_ENV, str(root))
    monkeypatch.chdir(tmp_path / "external" / "text8")  # anywhere but the repository root
    corpus = external.load_text_corpus("text8", char_level=True)
    assert corpus["vocab"] == ["a", "b", "_", "<eos>"] and len(corpus["train"]) == 12
    assert (root / "text8" / "train.txt").read_text() == "ab ba\nba ab\n"  # read, never moved


def test_a_corpus_left_in_data_external_is_named_with_the_command_that_moves_it(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "data" / "external" / "lambada").mkdir(parents=True)
    monkeypatch.setattr(external, "REPO_ROOT", tmp_path)
    with pytest.raises(DataError, match=r"old location, inside DVC's data/: move it with `mkdir -p .* && mv "):
        external.require_files("lambada")


def test_make_setup_refuses_data_external_before_dvc_and_never_hides_dvcs_message(tmp_path: Path) -> None:
    lines = make_lines("setup")
    pull = next(line for line in lines if "dvc pull" in line)
    assert "--quiet" not in pull and "-q " not in pull
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "dvc").write_text(f"#!/bin/sh\necho called > {tmp_path / 'dvc_called'}\n")
    (fake / "dvc").chmod(0o755)
    work = tmp_path / "checkout"
    (work / "data" / "external" / "text8").mkdir(parents=True)
    (work / "data" / "external" / "text8" / "train.txt").write_text("mine\n")
    done = subprocess.run(
        ["bash", "-c", "\n".join(lines)], cwd=work, env=tool_env(fake), capture_output=True, text=True
    )
    assert done.returncode == 2 and "mv data/external/* external/" in done.stderr
    assert not (tmp_path / "dvc_called").exists()
    assert (work / "data" / "external" / "text8" / "train.txt").read_text() == "mine\n"


def test_a_refused_dvc_pull_shows_dvcs_message_and_warns_against_force(tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "dvc").write_text('#!/bin/sh\necho "ERROR: Can\'t remove the following unsaved files" >&2\nexit 255\n')
    (fake / "dvc").chmod(0o755)
    (tmp_path / "data").mkdir()
    done = subprocess.run(
        ["bash", "-c", "\n".join(make_lines("setup"))], cwd=tmp_path, env=tool_env(fake), capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "Can't remove the following unsaved files" in done.stderr and "never add --force" in done.stderr


# ---------------------------------------------------------------- item 3: corrupt raw data
GOOD = b"the committed raw file\n"


@pytest.mark.slow
def test_the_hint_of_a_corrupt_file_restores_it_after_dvc_re_hashed_data_dvc(tmp_path: Path) -> None:
    """``dvc repro`` after a corruption re-hashes data.dvc to the corrupt content (as ``dvc commit``
    does here), so ``dvc checkout data.dvc`` alone restores nothing; ``make restore-data`` does,
    and leaves the user's corpus in external/ and their own files in data/ alone."""
    repo = tmp_path / "repo"
    toy = repo / "data" / "toy"
    toy.mkdir(parents=True)
    (toy / "a.txt").write_bytes(GOOD)
    (toy / "SOURCE.md").write_text(
        "# toy\n\n## Files\n| file | bytes | sha256 |\n|---|---|---|\n"
        f"| a.txt | {len(GOOD)} | {hashlib.sha256(GOOD).hexdigest()} |\n"
    )
    (repo / "external" / "text8").mkdir(parents=True)
    (repo / "external" / "text8" / "train.txt").write_text("the user's corpus\n")
    sh("git", "init", "-q", cwd=repo)
    sh("dvc", "init", "-q", cwd=repo)
    sh("dvc", "config", "core.analytics", "false", cwd=repo)
    sh("dvc", "remote", "add", "-q", "-d", "store", str(tmp_path / "store"), cwd=repo)
    sh("dvc", "add", "-q", "data", cwd=repo)
    sh("dvc", "push", "-q", cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "data", cwd=repo)
    committed = (repo / "data.dvc").read_text()

    (toy / "a.txt").write_bytes(b"the committed raw fil\x00\n")
    with pytest.raises(DataError) as err:
        verify_dataset(toy)
    assert "`make restore-data`" in str(err.value)
    assert "`git checkout data.dvc && dvc checkout data.dvc`" in str(err.value)
    sh("dvc", "commit", "-q", "-f", "data.dvc", cwd=repo)  # what `dvc repro` did in the issue
    assert (repo / "data.dvc").read_text() != committed

    restore = "\n".join(["set -e", *make_lines("restore-data")])
    done = subprocess.run(["bash", "-c", restore], cwd=repo, env=tool_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (toy / "a.txt").read_bytes() == GOOD
    verify_dataset(toy)
    assert (repo / "data.dvc").read_text() == committed
    assert (repo / "external" / "text8" / "train.txt").read_text() == "the user's corpus\n"

    # A file of the user's inside data/: DVC refuses, the command says why, nothing is deleted.
    (toy / "a.txt").write_bytes(b"corrupt again\n")
    (toy / "notes.txt").write_text("mine\n")
    done = subprocess.run(["bash", "-c", restore], cwd=repo, env=tool_env(), capture_output=True, text=True)
    assert done.returncode != 0 and "never add --force" in done.stderr
    assert (toy / "notes.txt").read_text() == "mine\n"
    shutil.move(toy / "notes.txt", repo / "external" / "notes.txt")
    done = subprocess.run(["bash", "-c", restore], cwd=repo, env=tool_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (toy / "a.txt").read_bytes() == GOOD and (repo / "external" / "notes.txt").read_text() == "mine\n"
