"""Prepared datasets: ``prepared/<dataset>/<name>.pt``, one ``torch.save``d dict per file.

A prepared file holds only tensors, lists, strings and ints, so it loads with
``torch.load(weights_only=True)``; the DVC stage ``prepare@<dataset>`` writes it from the raw
files in ``data/<dataset>/`` (``python -m shared.data.prepare <dataset>``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from shared.data.checksums import DataError
from shared.core.atomic import UnreadableFileError, load_weights_only, save_atomic
from shared.core.paths import REPO_ROOT

#: Overrides where prepared datasets live (tests point it at a temporary folder, so that they never
#: write into the repository's ``prepared/``, a DVC output).
PREPARED_ENV = "SEQREPRO_PREPARED"


def prepared_root() -> Path:
    """``$SEQREPRO_PREPARED`` if set, else the repository's ``prepared/`` (whatever the working directory)."""
    return Path(os.environ.get(PREPARED_ENV) or REPO_ROOT / "prepared")


def _check_plain(value: Any, where: str) -> None:
    # Refuse at save time what weights_only loading would refuse later (numpy arrays, objects).
    if isinstance(value, (torch.Tensor, str, int)):
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    raise TypeError(
        f"{where}: a prepared file holds tensors, lists, str and int, not {type(value).__name__}"
    )


def save_prepared(obj: dict[str, Any], path: str | Path) -> None:
    """Write ``obj`` (str keys; tensor, list, str or int values) atomically to ``path``."""
    for key, value in obj.items():
        if not isinstance(key, str):
            raise TypeError(f"prepared file keys must be str, got {key!r}")
        _check_plain(value, key)
    save_atomic(obj, path)


def load_prepared(dataset: str, name: str, root: Path | str | None = None) -> dict[str, Any]:
    """Load ``<root>/<dataset>/<name>.pt`` (``root``: :func:`prepared_root`); a missing file says
    which DVC stage makes it."""
    path = Path(root or prepared_root()) / dataset / f"{name}.pt"
    if not path.is_file():
        raise DataError(
            f"prepared file {path} is missing; run `dvc repro prepare@{dataset}` (or `make setup`)"
        )
    try:
        return load_weights_only(path)
    except UnreadableFileError as err:
        raise DataError(f"prepared file {err}; remake it with `dvc repro prepare@{dataset}`") from err
