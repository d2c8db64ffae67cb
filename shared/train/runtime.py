"""Seeding, the deterministic mode, device selection and the process group of a ``torchrun`` run:
one place, no module globals."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np
import torch
from torch import distributed as dist


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def set_deterministic(enabled: bool = True) -> None:
    """Switch torch to deterministic kernels (CPU and CUDA) and turn TF32 off.

    On CUDA, cuBLAS needs ``CUBLAS_WORKSPACE_CONFIG`` before its first use; it is set here when
    absent. Residual nondeterminism of multi-layer cuDNN LSTMs with inter-layer dropout has been
    reported on some cuDNN versions (pytorch#18110); CPU runs are bit-exact.
    """
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled, warn_only=False)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = enabled
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


class DeviceUnavailable(RuntimeError):
    """The configured device does not exist on this machine."""


def select_device(requested: str = "auto") -> torch.device:
    """``auto`` gives CUDA when present, else CPU; ``cpu``/``cuda``/``cuda:N`` are taken as asked
    (:class:`DeviceUnavailable` when this machine has no such device)."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(f"device {requested!r} was requested but CUDA is not available")
    count = torch.cuda.device_count() if device.type == "cuda" else 0
    if device.type == "cuda" and device.index is not None and device.index >= count:
        raise DeviceUnavailable(f"device {requested!r} was requested but CUDA has {count} device(s)")
    return device


def describe_device(device: torch.device) -> str:
    """A human-readable device name for result files and tags."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    threads = torch.get_num_threads()
    return f"cpu ({threads} thread{'s' if threads > 1 else ''})"


def rng_state() -> dict:
    """Every RNG state a training run depends on, as tensors and plain values (weights_only-safe)."""
    state = {
        "python": random.getstate(),
        "numpy": _numpy_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` returned."""
    random.setstate(_to_python_state(state["python"]))
    _set_numpy_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _numpy_state() -> dict:
    # As tensors and plain values, because weights_only loading refuses numpy arrays.
    _, key, pos, has_gauss, cached = np.random.get_state()
    return {
        "key": torch.from_numpy(key.astype(np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached),
    }


def _set_numpy_state(state: dict) -> None:
    key = state["key"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", key, state["pos"], state["has_gauss"], state["cached_gaussian"]))


def _to_python_state(state):
    # random.setstate needs tuples; a round trip through torch.save keeps them, but be lenient.
    version, internal, gauss = state
    return (version, tuple(internal), gauss)


# ---------------------------------------------------------------------- several processes (torchrun)
@dataclass(frozen=True)
class Distributed:
    """Where this process stands among the processes of one run: ``torchrun`` starts
    ``world_size`` of them, each with its ``rank`` (0 is the one that writes) and its
    ``local_rank`` on its node (the GPU it drives). A plain ``python -m`` run is rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def distributed() -> Distributed:
    """This process's place in the process group, or a single process when there is none."""
    if not (dist.is_available() and dist.is_initialized()):
        return Distributed()
    return Distributed(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def launched_processes() -> int:
    """How many processes ``torchrun`` started for this run (its ``WORLD_SIZE``; 1 without it),
    known before the process group is joined."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_distributed(device: torch.device) -> tuple[Distributed, torch.device]:
    """Join the process group ``torchrun`` describes in the environment (``WORLD_SIZE`` > 1):
    NCCL when training on CUDA, each process on the GPU of its ``LOCAL_RANK``; Gloo on the CPU.
    Without ``torchrun`` (or with one process) nothing happens and ``device`` is returned as is.
    Calling it again in the same process returns the group already joined."""
    if dist.is_available() and dist.is_initialized():
        info = distributed()
        return info, _rank_device(device, info)
    if launched_processes() <= 1:
        return Distributed(), device
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    info = Distributed(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), local_rank)
    device = _rank_device(device, info)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return info, device


def _rank_device(device: torch.device, info: Distributed) -> torch.device:
    # One GPU per process: the configured "cuda" (or "cuda:0") becomes this process's local GPU.
    return torch.device("cuda", info.local_rank) if device.type == "cuda" and info.enabled else device


def shutdown_distributed() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every process of the group (nothing to wait for in a single process)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def rank_seed(seed: int, rank: int) -> int:
    """The seed of rank ``rank``'s RNGs while training under DDP: a pure function of the run's seed
    and the rank, so each process draws its own dropout masks and a resumed run can check them."""
    return seed * 1_000_003 + rank
