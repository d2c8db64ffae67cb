"""Every cell computes on CUDA what it computes on the CPU (outputs, states, gradients).

Skipped without a GPU (CI has none); run on a GPU machine with
``python -m pytest tests/shared/cells/test_cells_cuda.py``. On CUDA the plain RNN/LSTM/GRU stacks
run cuDNN through ``functional_call``, which also copies our weights into cuDNN's buffer: these
tests check that the gradients still reach our parameters, with and without ``WeightDrop``.
Float64 (cuDNN and our loops both support it), so the tolerance stays tight.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from shared.models.cells import (
    GRU,
    LSTM,
    ONLSTM,
    QRNN,
    RNN,
    ChildSumTreeLSTM,
    DilatedRNN,
    IndRNN,
    NaryTreeLSTM,
    SlicedRNN,
    TreeBatch,
)
from shared.models.regularize import WeightDrop

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

F64 = {"dtype": torch.float64}
TOL = {"rtol": 1e-9, "atol": 1e-10}

STACKS: dict[str, Callable[[], nn.Module]] = {
    "rnn_kernel": lambda: RNN(5, 7, 2, bidirectional=True, **F64),
    "lstm_kernel": lambda: LSTM(5, 7, 2, bidirectional=True, **F64),
    "gru_kernel": lambda: GRU(5, 7, 2, bidirectional=True, **F64),
    "lstm_loop": lambda: LSTM(5, 7, 2, bidirectional=True, fast_path=False, **F64),
    "lstm_1997": lambda: LSTM(5, 7, 2, forget_gate=False, **F64),
    "gru_cho": lambda: GRU(5, 7, 2, reset_after=False, **F64),
    "indrnn": lambda: IndRNN(5, 7, 2, bidirectional=True, **F64),
    "onlstm": lambda: ONLSTM(5, 8, 2, chunk_size=4, **F64),
    "qrnn": lambda: QRNN(5, 7, 2, window=2, pooling="ifo", **F64),
    "dilated_gru": lambda: DilatedRNN(GRU, 5, 7, 3, **F64),
    "sliced_gru": lambda: SlicedRNN(GRU, 5, 7, n=2, k=2, **F64),
    "weightdrop_lstm": lambda: WeightDrop(LSTM(5, 7, 2, **F64), p=0.5),
}


def _grads(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.grad.cpu() for name, p in module.named_parameters()}


def _flat(output) -> list[torch.Tensor]:
    if isinstance(output, torch.Tensor):
        return [output]
    if hasattr(output, "data") and hasattr(output, "batch_sizes"):  # PackedSequence
        return [output.data]
    return [t for item in output for t in _flat(item)]


def _run(module: nn.Module, x: torch.Tensor, **kwargs) -> list[torch.Tensor]:
    outputs = _flat(module(x, **kwargs))
    sum(o.sum() * (i + 1) for i, o in enumerate(outputs)).backward()
    return [o.detach().cpu() for o in outputs]


@pytest.mark.parametrize("name", sorted(STACKS))
def test_stack_on_cuda_equals_cpu(name: str) -> None:
    torch.manual_seed(0)
    cpu = STACKS[name]()
    gpu = copy.deepcopy(cpu).cuda()
    x = torch.randn(8, 3, 5, **F64)
    kwargs = {}
    if isinstance(cpu, WeightDrop):  # the same mask on both devices
        masks = cpu.sample_masks()
        kwargs = {"masks": masks}
        gpu_kwargs = {"masks": {k: m.cuda() for k, m in masks.items()}}
    else:
        gpu_kwargs = {}
    expected = _run(cpu, x, **kwargs)
    actual = _run(gpu, x.cuda(), **gpu_kwargs)
    for e, a in zip(expected, actual, strict=True):
        torch.testing.assert_close(a, e, **TOL)
    cpu_grads, gpu_grads = _grads(cpu), _grads(gpu)
    assert cpu_grads.keys() == gpu_grads.keys()
    for key in cpu_grads:
        torch.testing.assert_close(gpu_grads[key], cpu_grads[key], **TOL, msg=key)


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_cudnn_kernel_matches_the_loop_on_packed_input(cls: type) -> None:
    torch.manual_seed(1)
    kernel = cls(5, 7, 2, bidirectional=True, **F64).cuda()
    loop = copy.deepcopy(kernel)
    loop.fast_path = False
    x = torch.randn(9, 4, 5, **F64, device="cuda")
    packed = pack_padded_sequence(x, torch.tensor([9, 3, 7, 1]), enforce_sorted=False)
    for e, a in zip(_run(loop, packed), _run(kernel, packed), strict=True):
        torch.testing.assert_close(a, e, **TOL)
    for key, grad in _grads(loop).items():
        torch.testing.assert_close(_grads(kernel)[key], grad, **TOL, msg=key)


@pytest.mark.parametrize("cls", [ChildSumTreeLSTM, NaryTreeLSTM])
def test_tree_lstm_on_cuda_equals_cpu(cls: type) -> None:
    torch.manual_seed(2)
    cpu = cls(3, 4, **F64)
    gpu = copy.deepcopy(cpu).cuda()
    trees = TreeBatch.from_parent_lists(["3 3 5 5 0", "2 0 2"])
    x = torch.randn(8, 3, **F64)
    expected = cpu(x, trees)
    actual = gpu(x.cuda(), trees.to("cuda"))
    (expected.h.sum() + 2 * expected.c.sum()).backward()
    (actual.h.sum() + 2 * actual.c.sum()).backward()
    torch.testing.assert_close(actual.h.cpu(), expected.h, **TOL)
    torch.testing.assert_close(actual.c.cpu(), expected.c, **TOL)
    for key, grad in _grads(cpu).items():
        torch.testing.assert_close(_grads(gpu)[key], grad, **TOL, msg=key)
