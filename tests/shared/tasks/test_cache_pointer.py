"""The continuous cache pointer (shared.tasks.cache_pointer): a hand-computed stream, AWD-LSTM's
per-step loop, chunking, and the exact limits lambda = 0 and unseen targets."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from shared.tasks.cache_pointer import CachePointer, cache_pointer_log_probs

E = math.e


def _stream(steps: int, hidden: int = 6, vocab: int = 11, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(steps, hidden, generator=g, dtype=torch.float64)
    logits = torch.randn(steps, vocab, generator=g, dtype=torch.float64)
    targets = torch.randint(0, vocab, (steps,), generator=g)
    return h, logits, targets


def _awd_loop(
    h: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor, window: int, theta: float, lambdah: float
) -> torch.Tensor:
    """AWD-LSTM's pointer.py for one chunk, step by step: one-hot history, mixed when idx > window."""
    history = F.one_hot(targets, logits.size(1)).to(h.dtype)
    out = []
    for idx in range(len(targets)):
        p = F.softmax(logits[idx], dim=0)
        if idx > window:
            attention = F.softmax(theta * h[idx - window : idx] @ h[idx], dim=0)
            p = lambdah * (attention[:, None] * history[idx - window : idx]).sum(0) + (1 - lambdah) * p
        out.append(torch.log(p[targets[idx]]))
    return torch.stack(out)


def test_a_hand_computed_stream() -> None:
    # V = 3, H = 2, window 2, theta 0.5, lambda 0.25: steps 0-2 keep the model, 3 and 4 are mixed.
    h = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    logits = torch.tensor([[0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, math.log(2)], [0, 0, 0]], dtype=torch.float64)
    targets = torch.tensor([1, 2, 0, 2, 1])
    out, memory = cache_pointer_log_probs(h, logits, targets, window=2, theta=0.5, lambdah=0.25)
    # Step 3: keys h1, h2 with scores 0.5 * (2, 0) = (1, 0) and words (2, 0); the target 2 takes
    # attention e / (e + 1); the model gives it 2 / 4.
    step3 = 0.75 * 0.5 + 0.25 * E / (E + 1)
    # Step 4: keys h2, h3 with words (0, 2); the target 1 is not among them (it is at step 0,
    # outside the window), so only (1 - lambda) of the model's 1/3 remains.
    step4 = 0.75 / 3
    expected = [math.log(1 / 3), math.log(1 / 3), math.log(1 / 3), math.log(step3), math.log(step4)]
    assert out.tolist() == pytest.approx(expected, abs=1e-6)
    assert memory.seen == 5 and memory.values.tolist() == [2, 1]
    assert torch.equal(memory.keys, h[3:])


def test_matches_awd_lstm_per_step_loop() -> None:
    # 2,600 steps cross the 1,024-query blocks; window 1,500 spans more than one block.
    for steps, window in ((40, 5), (2600, 1500)):
        h, logits, targets = _stream(steps)
        out, _ = cache_pointer_log_probs(h, logits, targets, window=window, theta=0.7, lambdah=0.2)
        torch.testing.assert_close(out, _awd_loop(h, logits, targets, window, 0.7, 0.2), rtol=0, atol=1e-10)


def test_chunks_give_the_same_result_as_one_pass() -> None:
    h, logits, targets = _stream(300)
    whole, _ = cache_pointer_log_probs(h, logits, targets, window=40, theta=1.0, lambdah=0.3)
    pointer, parts, start = CachePointer(window=40, theta=1.0, lambdah=0.3), [], 0
    for size in (7, 33, 1, 100, 159):
        parts.append(pointer(h[start : start + size], logits[start : start + size], targets[start : start + size]))
        start += size
    torch.testing.assert_close(torch.cat(parts), whole, rtol=0, atol=1e-12)
    assert pointer.memory is not None and pointer.memory.seen == 300 and len(pointer.memory.values) == 40
    pointer.reset()
    torch.testing.assert_close(pointer(h[:50], logits[:50], targets[:50]), whole[:50], rtol=0, atol=0)


def test_window_truncation() -> None:
    # The target of step 12 last occurred as the target of step 3: it is 9 steps back, so a
    # window of 9 reaches it and a window of 8 does not.
    h, logits, targets = _stream(13, vocab=50, seed=1)
    targets = torch.arange(13) + 20
    targets[3] = targets[12] = 7
    model = F.log_softmax(logits, dim=1)[12, 7]
    near, _ = cache_pointer_log_probs(h, logits, targets, window=8, theta=1.0, lambdah=0.4)
    far, _ = cache_pointer_log_probs(h, logits, targets, window=9, theta=1.0, lambdah=0.4)
    assert near[12].item() == pytest.approx((math.log(0.6) + model).item(), abs=1e-12)
    assert far[12] > near[12]
    # Window 11: step 12 is the first mixed step (12 > 11); window 12 mixes nothing.
    only_last, _ = cache_pointer_log_probs(h, logits, targets, window=11, theta=1.0, lambdah=0.4)
    none, _ = cache_pointer_log_probs(h, logits, targets, window=12, theta=1.0, lambdah=0.4)
    model_all = F.log_softmax(logits, dim=1).gather(1, targets[:, None]).squeeze(1)
    assert torch.equal(only_last[:12], model_all[:12]) and only_last[12] > model_all[12]
    assert torch.equal(none, model_all)


def test_lambda_zero_is_the_model_exactly() -> None:
    h, logits, targets = _stream(120, seed=2)
    logits = logits.float()
    out, _ = cache_pointer_log_probs(h.float(), logits, targets, window=10, theta=0.5, lambdah=0.0)
    assert torch.equal(-out, F.cross_entropy(logits, targets, reduction="none"))


def test_a_target_never_seen_in_the_window_gets_only_the_model_share() -> None:
    h, logits, targets = _stream(60, vocab=100, seed=3)
    targets = torch.arange(60)  # every word new
    out, _ = cache_pointer_log_probs(h, logits, targets, window=5, theta=2.0, lambdah=0.3)
    model = F.log_softmax(logits, dim=1).gather(1, targets[:, None]).squeeze(1)
    assert torch.equal(out[:6], model[:6])
    torch.testing.assert_close(out[6:], math.log(0.7) + model[6:], rtol=0, atol=1e-12)


def test_logits_and_log_probabilities_give_the_same_result() -> None:
    h, logits, targets = _stream(30, seed=4)
    a, _ = cache_pointer_log_probs(h, logits, targets, window=4, theta=1.0, lambdah=0.1)
    b, _ = cache_pointer_log_probs(h, F.log_softmax(logits, dim=1), targets, window=4, theta=1.0, lambdah=0.1)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_bad_inputs_are_refused() -> None:
    h, logits, targets = _stream(10)
    settings = {"window": 3, "theta": 1.0, "lambdah": 0.1}
    with pytest.raises(ValueError, match=r"hidden \(T, H\)"):
        cache_pointer_log_probs(h[None], logits, targets, **settings)
    with pytest.raises(ValueError, match="number of steps: 9, 10, 10"):
        cache_pointer_log_probs(h[:9], logits, targets, **settings)
    with pytest.raises(ValueError, match="int64"):
        cache_pointer_log_probs(h, logits, targets.float(), **settings)
    with pytest.raises(ValueError, match=r"\[0, 11\)"):
        cache_pointer_log_probs(h, logits, targets + 11, **settings)
    _, memory = cache_pointer_log_probs(h, logits, targets, **settings)
    with pytest.raises(ValueError, match="hidden size 5 differs from the cache's 6"):
        cache_pointer_log_probs(h[:, :5], logits, targets, memory=memory, **settings)
    for bad, match in (
        ({"window": 0}, "window"),
        ({"window": 2.0}, "window"),
        ({"theta": -1.0}, "theta"),
        ({"theta": math.nan}, "theta"),
        ({"lambdah": 1.5}, "lambdah"),
        ({"lambdah": math.nan}, "lambdah"),
    ):
        with pytest.raises(ValueError, match=match):
            cache_pointer_log_probs(h, logits, targets, **{**settings, **bad})
        with pytest.raises(ValueError, match=match):
            CachePointer(**{**settings, **bad})
