r"""Gaussian weight noise (Graves 2011, "Practical Variational Inference for Neural Networks",
with a fixed standard deviation; Graves 2013, Sec. 4), as used by Chung et al. (2014, Sec. 4.2).

At every training forward pass (one per update) each parameter :math:`w` of the wrapped module is
replaced by a noisy copy,

.. math:: \tilde w = w + \epsilon, \qquad \epsilon \sim \mathcal{N}(0, \sigma^2) \text{ i.i.d.},

the loss is computed with :math:`\tilde w`, and its gradient (taken at :math:`\tilde w`) is
applied to :math:`w`, since :math:`\partial \tilde w / \partial w = 1`. Evaluation uses the
noise-free weights.

Mechanism: ``torch.func.functional_call(module, {name: w + eps}, args)``, the public way to call
a module with other tensors as its parameters; no Parameter is replaced and nothing is patched.
The shared recurrent stacks read their weights once per forward (``shared.models.cells.base``), so one
noise sample holds for every time step of a sequence, on both of their execution paths.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.func import functional_call


class WeightNoise(nn.Module):
    """Adds fresh :math:`\\mathcal{N}(0, \\sigma^2)` noise to the weights of ``module`` at each
    training forward.

    Args:
        module: any module; reachable as ``.module`` (``state_dict`` keys gain ``module.``).
        std: :math:`\\sigma` (Chung et al. 2014: 0.075); 0 disables the noise.
        biases: also perturb parameters with one dimension (biases). Graves' weight noise covers
            every weight of the network, biases included; ``False`` restricts it to matrices.
    """

    def __init__(self, module: nn.Module, std: float, biases: bool = True) -> None:
        super().__init__()
        if std < 0:
            raise ValueError(f"WeightNoise: std must be >= 0, got {std}")
        self.module = module
        self.std = std
        self.biases = biases

    def noisy_parameters(self) -> dict[str, torch.Tensor]:
        """One noise sample: ``{name: w + eps}`` for every perturbed parameter (drawn from the
        global torch RNG, so a seeded run and its resume draw the same noise)."""
        return {
            name: p + self.std * torch.randn_like(p)
            for name, p in self.module.named_parameters()
            if self.biases or p.dim() > 1
        }

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if not self.training or self.std == 0:
            return self.module(*args, **kwargs)
        return functional_call(self.module, self.noisy_parameters(), args, kwargs)

    def extra_repr(self) -> str:
        return f"std={self.std}, biases={self.biases}"
