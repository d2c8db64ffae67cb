r"""The continuous cache pointer (Grave, Joulin & Usunier, ICLR 2017, "Improving neural language
models with a continuous cache"), evaluated as AWD-LSTM evaluates it (``pointer.py`` of
salesforce/awd-lstm-lm).

A trained language model is left unchanged; at test time its prediction at step :math:`t` is
mixed with a distribution over the words that followed the most recent hidden states. The cache
holds the pairs :math:`(h_i, x_{i+1})` of the last ``window`` steps: the last layer's output
:math:`h_i` and the word :math:`x_{i+1}` that came next (the target of step :math:`i`). With the
model's distribution :math:`p_{\text{vocab}}(w \mid h_t) \propto \exp(h_t^\top o_w)`, the cache
distribution (Grave et al.'s neural cache)

.. math:: p_{\text{cache}}(w \mid h_{1..t}, x_{1..t}) \propto
          \sum_{i=t-W}^{t-1} \mathbb{1}\{w = x_{i+1}\} \exp(\theta\, h_t^\top h_i)

is the attention of :math:`h_t` over the cached states (a softmax of the scaled dot products),
summed per word; :math:`\theta \ge 0` sets its flatness (0: a unigram cache of the window). The
prediction is their linear interpolation (ibid.)

.. math:: p(w \mid h_{1..t}, x_{1..t}) = (1 - \lambda)\, p_{\text{vocab}}(w \mid h_t)
          + \lambda\, p_{\text{cache}}(w \mid h_{1..t}, x_{1..t}).

Only the target's probability is needed, so nothing of size ``V`` is built for the cache:
:math:`\log p_{\text{cache}}(y_t)` is a log-sum-exp of the attention over the cached steps whose
word is :math:`y_t` (:math:`-\infty` if there is none, when the target gets only
:math:`(1-\lambda)\, p_{\text{vocab}}`). Everything is computed in log space, so :math:`\lambda = 0`
returns the model's log-probabilities exactly.

AWD-LSTM's procedure, kept here (its recipe: PTB ``window`` 500, ``theta`` 1.0, ``lambdah`` 0.1;
WikiText-2 3785, 0.6625, 0.1279):

* one stream (batch size 1), the hidden state and the cache carried over the whole split;
* the cache is filled with the current chunk before the chunk is scored, so a step sees the
  steps just before it in the same chunk, never itself or a later one;
* **the first steps are not mixed**: step :math:`t` (0-based over the stream) uses the cache only
  when :math:`t > W`, i.e. only once more than ``window`` earlier steps exist; before that it
  keeps the model's probability;
* after each chunk only the last ``window`` pairs are kept.

One deviation: ``pointer.py`` tests :math:`t > W` with :math:`t` counted from the start of the
*truncated* cache, so in every chunk after the one that fills the window the first step is left
unmixed. Here :math:`t` is the stream position, so the result does not depend on the chunk length
(with AWD-LSTM's 5,000-token chunks, one step in 5,000 is mixed here and not there). Normalising
the summed loss is the caller's: ``pointer.py`` divides by the number of tokens of the split, one
more than the number of predictions.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor
from torch.nn import functional as F

#: Queries scored at once: bounds memory to ``_BLOCK x (window + _BLOCK)`` attention scores.
_BLOCK = 1024


class CacheMemory(NamedTuple):
    """The cache carried between chunks: the last (at most ``window``) hidden states ``keys``
    ``(M, H)``, the word that followed each ``values`` ``(M,)``, and ``seen``, the number of
    stream steps before the next chunk."""

    keys: Tensor
    values: Tensor
    seen: int


def _check(hidden: Tensor, logits: Tensor, targets: Tensor, memory: CacheMemory | None) -> None:
    if hidden.dim() != 2 or logits.dim() != 2 or targets.dim() != 1:
        raise ValueError(
            "expected hidden (T, H), logits (T, V) and targets (T,), got "
            f"{tuple(hidden.shape)}, {tuple(logits.shape)} and {tuple(targets.shape)}"
        )
    if not hidden.size(0) == logits.size(0) == targets.size(0):
        raise ValueError(
            f"hidden, logits and targets disagree on the number of steps: {hidden.size(0)}, "
            f"{logits.size(0)}, {targets.size(0)}"
        )
    if targets.dtype != torch.int64:
        raise ValueError(f"targets must be int64 word ids, got {targets.dtype}")
    if targets.numel() and not 0 <= int(targets.min()) <= int(targets.max()) < logits.size(1):
        raise ValueError(f"targets must lie in [0, {logits.size(1)}), got [{int(targets.min())}, {int(targets.max())}]")
    if memory is not None and memory.keys.size(1) != hidden.size(1):
        raise ValueError(f"hidden size {hidden.size(1)} differs from the cache's {memory.keys.size(1)}")


def check_settings(window: int, theta: float, lambdah: float) -> None:
    """Raise ``ValueError`` unless ``window >= 1``, ``theta >= 0`` finite and ``0 <= lambdah <= 1``."""
    if not isinstance(window, int) or isinstance(window, bool) or window < 1:
        raise ValueError(f"window must be a positive int, got {window!r}")
    if not (math.isfinite(theta) and theta >= 0):
        raise ValueError(f"theta must be finite and >= 0, got {theta!r}")
    if not 0 <= lambdah <= 1:
        raise ValueError(f"lambdah must lie in [0, 1], got {lambdah!r}")


def cache_pointer_log_probs(
    hidden: Tensor,
    logits: Tensor,
    targets: Tensor,
    *,
    window: int,
    theta: float,
    lambdah: float,
    memory: CacheMemory | None = None,
) -> tuple[Tensor, CacheMemory]:
    r"""The log-probability of each target under the cache-interpolated model, and the new cache.

    ``hidden`` ``(T, H)``: the last layer's outputs of a chunk of one stream; ``logits``
    ``(T, V)``: the model's scores (logits or log-probabilities: a log-softmax is applied, which
    leaves log-probabilities unchanged); ``targets`` ``(T,)``: the next word of each step.
    ``memory`` is the cache after the previous chunk (``None`` at the start of the stream).
    Returns :math:`\log p(y_t)` ``(T,)`` (module docstring) and the cache to pass with the next
    chunk; ``-sum()`` of the first is the chunk's loss in nats.
    """
    check_settings(window, theta, lambdah)
    _check(hidden, logits, targets, memory)
    hidden = hidden.detach()
    model = F.log_softmax(logits, dim=-1).gather(1, targets[:, None]).squeeze(1)
    if memory is None:
        memory = CacheMemory(hidden.new_zeros(0, hidden.size(1)), targets.new_zeros(0), 0)
    keys = torch.cat([memory.keys.to(hidden.dtype), hidden])
    values = torch.cat([memory.values, targets])
    cached = memory.keys.size(0)
    # Step t of the chunk is stream step seen + t and key j is stream step seen - cached + j: the
    # cache of step t is keys [cached + t - window, cached + t), used only when seen + t > window.
    first = max(0, window + 1 - memory.seen)
    out = model.clone()
    log_keep, log_mix = math.log1p(-lambdah), math.log(lambdah) if lambdah > 0 else -math.inf
    for start in range(first, hidden.size(0), _BLOCK):
        stop = min(start + _BLOCK, hidden.size(0))
        lo = cached + start - window
        steps = torch.arange(start, stop, device=hidden.device)[:, None]
        key_steps = torch.arange(lo, cached + stop - 1, device=hidden.device)[None, :]
        in_window = (key_steps >= cached + steps - window) & (key_steps < cached + steps)
        scores = theta * hidden[start:stop] @ keys[lo : cached + stop - 1].T
        attention = F.log_softmax(scores.masked_fill(~in_window, -math.inf), dim=1)
        same_word = values[None, lo : cached + stop - 1] == targets[start:stop, None]
        cache = torch.logsumexp(attention.masked_fill(~(same_word & in_window), -math.inf), dim=1)
        out[start:stop] = torch.logaddexp(log_keep + model[start:stop], log_mix + cache)
    new_memory = CacheMemory(keys[-window:], values[-window:], memory.seen + hidden.size(0))
    return out, new_memory


class CachePointer:
    """:func:`cache_pointer_log_probs` over a stream read chunk by chunk, the cache carried.

    ::

        pointer = CachePointer(window=500, theta=1.0, lambdah=0.1)   # AWD-LSTM's PTB setting
        for chunk in stream:                 # batch size 1, the model's state carried as usual
            total -= pointer(last_layer_output, logits, targets).sum().item()
        pointer.reset()                      # before the next split
    """

    def __init__(self, window: int, theta: float, lambdah: float) -> None:
        check_settings(window, theta, lambdah)
        self.window, self.theta, self.lambdah = window, theta, lambdah
        self.memory: CacheMemory | None = None

    def reset(self) -> None:
        """Empty the cache (the start of a new stream)."""
        self.memory = None

    def __call__(self, hidden: Tensor, logits: Tensor, targets: Tensor) -> Tensor:
        """The chunk's target log-probabilities ``(T,)``; the cache then holds this chunk too."""
        log_probs, self.memory = cache_pointer_log_probs(
            hidden, logits, targets, window=self.window, theta=self.theta, lambdah=self.lambdah, memory=self.memory
        )
        return log_probs
