"""MNIST (LeCun et al. 1998) from the raw IDX files, for pixel-by-pixel sequence tasks.

Raw: ``data/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``, gzipped IDX files: a
big-endian header (magic 2051 + count, rows, cols for images; magic 2049 + count for labels)
followed by the uint8 data.

Prepared: ``prepared/mnist/mnist.pt``, a dict with ``train_images`` uint8 (60000, 784),
``train_labels`` int64 (60000,), ``test_images`` uint8 (10000, 784) and ``test_labels`` int64
(10000,). Images are flattened row by row (the pixel order of sequential MNIST) and not
normalised; scale them in the model's input pipeline.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from shared.data.checksums import DataError, expect_equal, verify_dataset
from shared.data.prepared import load_prepared, save_prepared

DATASET = "mnist"
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
SPLITS = {"train": ("train", 60000), "test": ("t10k", 10000)}  # split -> (file prefix, count)
SIDE = 28


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """A gzipped IDX file as a uint8 array shaped by its header, whose magic must be ``magic``."""
    data = gzip.decompress(path.read_bytes())
    expect_equal(f"{path}: IDX magic number", int.from_bytes(data[:4], "big"), magic)
    ndim = magic & 0xFF  # the low byte of an IDX magic number is the number of dimensions
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    offset = 4 * (1 + ndim)
    expect_equal(f"{path}: data bytes after the header", len(data) - offset, int(np.prod(shape)))
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)


def prepare(raw_dir: Path, out_dir: Path) -> list[Path]:
    """Verify the four IDX files, parse them and write ``<out_dir>/mnist.pt``."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    verify_dataset(raw_dir)
    prepared: dict[str, torch.Tensor] = {}
    for split, (prefix, count) in SPLITS.items():
        images = _read_idx(raw_dir / f"{prefix}-images-idx3-ubyte.gz", IMAGES_MAGIC)
        labels = _read_idx(raw_dir / f"{prefix}-labels-idx1-ubyte.gz", LABELS_MAGIC)
        expect_equal(f"{split} images shape", images.shape, (count, SIDE, SIDE))
        expect_equal(f"{split} labels shape", labels.shape, (count,))
        if labels.max() > 9:
            raise DataError(f"{split} labels: expected digits 0..9, found {labels.max()}")
        prepared[f"{split}_images"] = torch.tensor(images.reshape(count, SIDE * SIDE))
        prepared[f"{split}_labels"] = torch.tensor(labels, dtype=torch.int64)
    path = out_dir / "mnist.pt"
    save_prepared(prepared, path)
    return [path]


def load(root: Path | str | None = None) -> dict[str, torch.Tensor]:
    """``train_images``/``test_images`` (uint8, N x 784) and ``train_labels``/``test_labels``."""
    return load_prepared(DATASET, DATASET, root)
