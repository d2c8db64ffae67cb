"""Seeding, RNG state round trips (weights_only-safe) and device selection."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
import torch

from shared.train import runtime


def draws() -> tuple:
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


def test_seed_everything_makes_every_generator_repeat() -> None:
    runtime.seed_everything(5)
    first = draws()
    runtime.seed_everything(5)
    assert draws() == first
    runtime.seed_everything(6)
    assert draws() != first


def test_rng_state_survives_a_weights_only_round_trip() -> None:
    runtime.seed_everything(1)
    draws()
    buffer = io.BytesIO()
    torch.save(runtime.rng_state(), buffer)
    expected = draws()
    buffer.seek(0)
    runtime.set_rng_state(torch.load(buffer, weights_only=True))
    assert draws() == expected


def test_device_selection() -> None:
    assert runtime.select_device("cpu") == torch.device("cpu")
    assert runtime.select_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            runtime.select_device("cuda")
