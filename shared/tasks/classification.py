"""Sequence classification: read a whole sequence, predict one class from its last step.

:class:`PixelMnist`: sequential MNIST, the 784 pixels of an image one per step (Le et al. 2015),
and permuted MNIST, the pixels in one fixed random order. Pixels are scaled to [0, 1] and
normalised with the training set's mean and std (0.1307, 0.3081). The permutation is drawn from
``permute_seed``, the same for every training seed, so seeds differ only in training randomness.
The model maps ``(N, 784, 1)`` to ``(N, 10)`` logits; the metric is test accuracy in percent.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from shared.data import mnist
from shared.tasks.base import TensorTask, limit


class PixelMnist(TensorTask):
    metric = "accuracy_pct"
    higher_is_better = True
    input_size, output_size = 1, 10

    def __init__(
        self,
        batch_size: int,
        device: torch.device,
        permute: bool = False,
        permute_seed: int = 1234,
        eval_batch_size: int = 500,
        limit_train: int | None = None,
        limit_eval: int | None = None,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, limit_train)
        data = mnist.load()
        perm = torch.randperm(784, generator=torch.Generator().manual_seed(permute_seed)) if permute else None

        def sequences(images: torch.Tensor) -> torch.Tensor:
            x = (images.float() / 255.0 - 0.1307) / 0.3081
            if perm is not None:
                x = x[:, perm]
            return x.unsqueeze(-1)

        n_train = limit(len(data["train_labels"]), limit_train)
        n_test = limit(len(data["test_labels"]), limit_eval)
        self.train_x = sequences(data["train_images"][:n_train]).to(device)
        self.train_y = data["train_labels"][:n_train].to(device)
        self.test_x = sequences(data["test_images"][:n_test]).to(device)
        self.test_y = data["test_labels"][:n_test].to(device)

    def train_loss(self, model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(self.train_x[idx]), self.train_y[idx])

    def batch_sums(self, output: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        return {
            "nll": F.cross_entropy(output, target, reduction="sum").item(),
            "correct": (output.argmax(-1) == target).sum().item(),
        }

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        n = len(self.test_y)
        return {"loss": sums["nll"] / n, "accuracy_pct": 100.0 * sums["correct"] / n}
