r"""Sequence-wise batch normalisation over padded batches (Amodei et al. 2016, Sec. 3.2).

Batch normalisation (Ioffe & Szegedy 2015) of a sequence model's activations, with the statistics
of each feature taken over the minibatch *and* time, as Deep Speech 2 does ("sequence-wise"
normalisation, the paper's :math:`\mathcal{B}(\cdot)`):

.. math::

    \mathcal{B}(x) = \gamma \, \frac{x - \mathrm{E}[x]}{(\mathrm{Var}[x] + \epsilon)^{1/2}} + \beta,

where for every feature :math:`\mathrm{E}` and :math:`\mathrm{Var}` run over every *valid* step of
every sequence of the minibatch. The padding of a padded batch is excluded, so that a short
utterance batched with long ones is normalised exactly as the same frames without padding; at
evaluation the running averages (kept during training, as the paper says) replace the minibatch
statistics.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class SequenceBatchNorm(nn.Module):
    """Batch norm of ``x`` ``(L, N, C)`` (time-major) over the valid steps of ``mask`` ``(L, N)``.

    Args:
        num_features: ``C``.
        eps, momentum, affine: as in ``nn.BatchNorm1d`` (running statistics are updated
            ``running = (1 - momentum) * running + momentum * batch``, with the unbiased variance,
            as torch does).

    Inputs: ``x`` ``(L, N, C)`` and ``mask`` ``(L, N)`` or ``(L, N, 1)`` (``True`` at valid
    steps; ``None``: every step is valid). Outputs: the normalised ``x`` (padded steps are
    normalised with the same statistics; their values are meaningless and left for the caller to
    ignore). With every step valid it computes what ``nn.BatchNorm1d`` computes on ``x.reshape(-1, C)``.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if x.dim() != 3 or x.size(-1) != self.num_features:
            raise ValueError(f"SequenceBatchNorm: expected (L, N, {self.num_features}), got {tuple(x.shape)}")
        if self.training:
            if mask is None:
                valid = x.reshape(-1, self.num_features)
            else:
                valid = x[mask.reshape(x.shape[:2]).bool()]
            count = valid.size(0)
            if count < 2:
                raise ValueError(f"SequenceBatchNorm: {count} valid step(s) in the batch; statistics need 2 or more")
            mean = valid.mean(0)
            var = valid.var(0, unbiased=False)
            with torch.no_grad():
                self.num_batches_tracked += 1
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(var * count / (count - 1), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        out = (x - mean) * torch.rsqrt(var + self.eps)
        return out * self.weight + self.bias if self.affine else out

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"
