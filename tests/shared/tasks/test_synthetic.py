"""The adding problem's options: fresh training data per epoch, one marker per half, and the
default (fixed training set) unchanged."""

from __future__ import annotations

import torch

from shared.data import synthetic
from shared.tasks.synthetic import AddingProblem, CopyMemory

CPU = torch.device("cpu")


def test_the_default_task_holds_the_generator_s_first_draws() -> None:
    # The fixed-data protocol (TCN's): training set first, then the test set, from the run's seed.
    task = AddingProblem(30, 40, 10, 8, 7, CPU)
    generator = torch.Generator().manual_seed(7)
    x, y = synthetic.adding_problem(40, 30, generator)
    test_x, test_y = synthetic.adding_problem(10, 30, generator)
    assert torch.equal(task.train_x, x.transpose(1, 2)) and torch.equal(task.train_y, y)
    assert torch.equal(task.test_x, test_x.transpose(1, 2)) and torch.equal(task.test_y, test_y)
    batch = task.train_batches(1, torch.Generator().manual_seed(0))[0]
    assert torch.equal(task.train_batch(batch)[0], task.train_x[batch])


def test_fresh_training_data_is_new_every_epoch_and_remade_exactly_from_a_batch() -> None:
    task = AddingProblem(30, 40, 10, 16, 7, CPU, fresh_train=True, one_per_half=True)
    assert not hasattr(task, "train_x")  # nothing held in memory
    epoch1 = task.train_batches(1, torch.Generator().manual_seed(1))
    assert [int(b[1]) for b in epoch1] == [16, 16, 8]  # n_train examples per epoch, the last batch smaller
    again = task.train_batches(1, torch.Generator().manual_seed(1))
    epoch2 = task.train_batches(2, torch.Generator().manual_seed(2))
    x1, y1 = task.train_batch(epoch1[0])
    x1b, _ = task.train_batch(again[0])
    x2, _ = task.train_batch(epoch2[0])
    assert torch.equal(x1, x1b) and not torch.equal(x1, x2)
    assert x1.shape == (16, 30, 2) and y1.shape == (16, 1)
    # y is the sum of the two marked values, one marker in each half
    markers = x1[..., 1]
    assert torch.equal(markers[:, :15].sum(1), torch.ones(16)) and torch.equal(markers[:, 15:].sum(1), torch.ones(16))
    assert torch.allclose((x1[..., 0] * markers).sum(1, keepdim=True), y1)
    # the test set is the seed's first draw, as without fresh data
    test_x, _ = synthetic.adding_problem(10, 30, torch.Generator().manual_seed(7), one_per_half=True)
    assert torch.equal(task.test_x, test_x.transpose(1, 2))


def test_limit_train_caps_the_fresh_examples_per_epoch() -> None:
    task = AddingProblem(10, 100, 4, 8, 0, CPU, limit_train=20, fresh_train=True)
    assert sum(int(b[1]) for b in task.train_batches(1, torch.Generator().manual_seed(0))) == 20


def test_copy_memory_trains_on_fresh_data_too() -> None:
    task = CopyMemory(5, 12, 4, 4, 0, CPU, fresh_train=True)
    model = torch.nn.Sequential(torch.nn.Linear(1, 10))
    batch = task.train_batches(1, torch.Generator().manual_seed(0))[0]
    assert torch.isfinite(task.train_loss(model, batch))
