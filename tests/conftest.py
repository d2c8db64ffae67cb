"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A throw-away MLflow store, so tests never write into the repository's mlflow/."""
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    (tmp_path / "mlflow").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture(scope="session")
def prepared_data() -> Path:
    """``prepared/`` filled for every dataset the TCN paper uses (skips if ``data/`` is absent)."""
    from shared.data.prepare import PREPARERS

    data = REPO_ROOT / "data"
    if not (data / "polyphonic_music" / "SOURCE.md").exists():
        pytest.skip("data/ is missing: run `make setup` (dvc pull)")
    out = REPO_ROOT / "prepared"
    for name, prepare in PREPARERS.items():
        if not (out / name).exists():
            prepare(data / name, out / name)
    return out


@pytest.fixture(autouse=True, scope="session")
def _one_thread_per_test_process() -> None:
    """Two torch threads on two cores thrash as soon as anything else runs (a background
    training, the other half of CI); one thread is faster for these small models."""
    import torch

    torch.set_num_threads(1)
