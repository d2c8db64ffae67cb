"""Fixtures shared by the whole suite."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A throw-away MLflow store, so tests never write into the repository's mlflow/."""
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    (tmp_path / "mlflow").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture(autouse=True, scope="session")
def _prepared_in_a_temporary_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test reads prepared datasets from a session folder, never from the repository's
    ``prepared/`` (a DVC output that tests must not write)."""
    from shared.data.prepared import PREPARED_ENV

    root = tmp_path_factory.mktemp("prepared")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PREPARED_ENV, str(root))
        yield root


@pytest.fixture(autouse=True, scope="session")
def _external_in_a_temporary_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Bring-your-own corpora are read from an empty session folder named ``external``, never from
    a corpus a user put in the repository's ``external/``."""
    from shared.data.external import EXTERNAL_ENV

    root = tmp_path_factory.mktemp("external", numbered=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(EXTERNAL_ENV, str(root))
        yield root


@pytest.fixture(scope="session")
def prepared_data(_prepared_in_a_temporary_folder: Path) -> Path:
    """The session's prepared folder, filled for every dataset (skips if ``data/`` is absent)."""
    from shared.data.prepare import PREPARERS

    data = REPO_ROOT / "data"
    if not (data / "polyphonic_music" / "SOURCE.md").exists():
        pytest.skip("data/ is missing: run `make setup` (dvc pull)")
    out = _prepared_in_a_temporary_folder
    for name, prepare in PREPARERS.items():
        if not (out / name).exists():
            prepare(data / name, out / name)
    return out


def in_sample_unigram_perplexity(tokens: torch.Tensor, vocab_size: int) -> float:
    """The perplexity of a token stream under its own unigram frequencies: the best a model
    without context can do on exactly those tokens (a language model's "learns" bar)."""
    counts = torch.bincount(tokens, minlength=vocab_size).double()
    seen = counts[counts > 0]
    return math.exp(-(seen / counts.sum()).log().mul(seen).sum().item() / counts.sum().item())


@pytest.fixture
def short_lm_run_vs_unigram(tmp_path: Path) -> Callable[..., tuple[float, float]]:
    """Train an AWD-style language model config (a paper's smoke profile, shrunk by the caller)
    on the first 5k PTB training tokens, bptt 35, for 20 epochs with every dropout off, and return
    its perplexity on those tokens with their in-sample unigram perplexity. Dropouts are off
    because a 32/64-unit model under them needs longer than a unit test; each is tested alone."""
    from shared.train import runtime
    from shared.train.loop import Trainer

    def run(cfg: Any, build_task: Callable, build_model: Callable) -> tuple[float, float]:
        cfg.data.limit_train, cfg.data.bptt = 5_000, 35
        m = cfg.model
        m.dropout = m.dropout_hidden = m.dropout_input = m.dropout_embedding = m.weight_drop = 0.0
        cfg.train.epochs, cfg.train.batch_size, cfg.train.selection = 20, 5, "last"
        runtime.seed_everything(1)
        task = build_task(cfg, 1, torch.device("cpu"))
        model = build_model(cfg, task)
        Trainer(model, task, cfg.train, tmp_path, seed=1, fingerprint="learns", progress=False).fit()
        train = task.streams["train"]
        task.eval_data["slice"] = train[None]
        ours = task.evaluate(model, "slice")["perplexity"]
        return ours, in_sample_unigram_perplexity(train[1:], task.vocab_size)

    return run


@pytest.fixture(autouse=True, scope="session")
def _one_thread_per_test_process() -> None:
    """Two torch threads on two cores thrash as soon as anything else runs (a background
    training, the other half of CI); one thread is faster for these small models."""
    import torch

    torch.set_num_threads(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs the real prepared datasets is slow (it prepares them once per session)."""
    for item in items:
        if "prepared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def trees_data(_prepared_in_a_temporary_folder: Path) -> Path:
    """SST and SICK prepared into the session's folder (a few seconds each; skips without ``data/``)."""
    from shared.data import sick, sst

    data = REPO_ROOT / "data"
    if not (data / "sst" / "SOURCE.md").exists():
        pytest.skip("data/ is missing: run `make setup` (dvc pull)")
    out = _prepared_in_a_temporary_folder
    for module in (sst, sick):
        if not (out / module.DATASET).exists():
            module.prepare(data / module.DATASET, out / module.DATASET)
    return out
