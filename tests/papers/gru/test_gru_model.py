"""The models: Cho et al.'s unit on a hand-computed step, the music model's causality, weight
noise, the encoder-decoder and its beam search, and errors on bad input."""

from __future__ import annotations

import math

import pytest
import torch

from papers.gru.encoder_decoder import EncoderDecoder
from papers.gru.model import MusicRNN, recurrent_layer
from shared.models.weight_noise import WeightNoise
from shared.run.search import LrSearch, select

F64 = {"dtype": torch.float64}


def test_cho_unit_hand_computed_step() -> None:
    """One unit, x = h = 1: all gate weights zero, so r = z = 1/2; W = 1, U = 2, b_hn = 1.

    Cho Eq. 8 (reset before U): h~ = tanh(1 + 2 * (1/2 * 1) + 1) = tanh(3); Eq. 7:
    h = z h + (1 - z) h~ = (1 + tanh 3) / 2. torch's form would give tanh(1 + (2 + 1) / 2).
    """
    gru = recurrent_layer("gru", 1, 1).double()
    with torch.no_grad():
        for p in gru.parameters():
            p.zero_()
        gru.weight_ih_l0[2] = 1.0  # W (candidate rows are r, z, n)
        gru.weight_hh_l0[2] = 2.0  # U
        gru.bias_hh_l0[2] = 1.0
    x, h = torch.ones(1, 1, 1, **F64), torch.ones(1, 1, 1, **F64)
    _, h1 = gru(x, h)
    assert h1.item() == pytest.approx((1 + math.tanh(3.0)) / 2, abs=1e-12)
    assert h1.item() != pytest.approx((1 + math.tanh(2.5)) / 2, abs=1e-3)


@pytest.mark.parametrize("arch, hidden, params", [("tanh", 100, 27_888), ("gru", 46, 22_904), ("lstm", 36, 21_400)])
def test_music_models_have_the_sizes_in_paper_yaml_and_are_causal(arch: str, hidden: int, params: int) -> None:
    torch.manual_seed(0)
    model = MusicRNN(arch, hidden)
    assert sum(p.numel() for p in model.parameters()) == params
    x = torch.bernoulli(torch.full((2, 12, 88), 0.1))
    changed = x.clone()
    changed[:, 7:] = 1 - changed[:, 7:]
    torch.testing.assert_close(model(x)[:, :7], model(changed)[:, :7])
    assert not torch.allclose(model(x)[:, 7:], model(changed)[:, 7:])


def test_bad_inputs_are_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"expected \(N, L, 88\) frames, got \(12, 88\)"):
        MusicRNN("gru", 4)(torch.zeros(12, 88))
    with pytest.raises(ValueError, match="unknown recurrent unit 'relu'"):
        recurrent_layer("relu", 3, 4)
    with pytest.raises(ValueError, match="std must be >= 0"):
        WeightNoise(MusicRNN("gru", 4), -0.1)


def test_weight_noise_perturbs_training_forwards_only_and_trains_the_clean_weights() -> None:
    torch.manual_seed(0)
    model = WeightNoise(MusicRNN("gru", 8), std=0.075)
    x = torch.bernoulli(torch.full((3, 10, 88), 0.1))
    clean = model.module(x)
    model.eval()
    torch.testing.assert_close(model(x), clean)
    model.train()
    noisy_a, noisy_b = model(x), model(x)
    assert not torch.allclose(noisy_a, clean) and not torch.allclose(noisy_a, noisy_b)
    noisy_a.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.module.parameters())
    noisy = model.noisy_parameters()
    eps = torch.cat([(noisy[name] - p).flatten() for name, p in model.module.named_parameters()])
    assert eps.std().item() == pytest.approx(0.075, rel=0.05) and abs(eps.mean().item()) < 0.005
    matrices = {"rnn.weight_ih_l0", "rnn.weight_hh_l0", "out.weight"}
    assert set(WeightNoise(model.module, 0.1, biases=False).noisy_parameters()) == matrices
    torch.testing.assert_close(WeightNoise(model.module, 0.0)(x), clean)


def test_lr_candidates_are_log_uniform_in_the_range_and_reproducible() -> None:
    paper = LrSearch(samples=10, log_low=-12, log_high=-6, seed=2014)
    lrs = paper.candidates()
    assert lrs == LrSearch(samples=10, log_low=-12, log_high=-6, seed=2014).candidates()
    assert len(set(lrs)) == 10 and all(math.exp(-12) <= lr <= math.exp(-6) for lr in lrs)
    strata = LrSearch(samples=3, seed=5, stratified=True).candidates()
    assert [math.floor((math.log(lr) + 12) / 2) for lr in strata] == [0, 1, 2]
    draws = LrSearch(samples=4000, seed=1).candidates()
    logs = torch.tensor([math.log(lr) for lr in draws])
    assert logs.mean().item() == pytest.approx(-9.0, abs=0.1)  # uniform in log space


def test_select_uses_validation_only_and_skips_diverged_candidates() -> None:
    assert select([[9.0], [8.5], [8.7]], higher_is_better=False) == 1
    assert select([[20.0, 22.0], [25.0, 18.0]], higher_is_better=True) == 1  # means 21 and 21.5
    assert select([[math.nan], [10.0]], higher_is_better=False) == 1
    with pytest.raises(ValueError, match="no candidate"):
        select([[math.nan], []], higher_is_better=False)


def _encdec(arch: str) -> EncoderDecoder:
    torch.manual_seed(0)
    return EncoderDecoder(arch, src_vocab=30, tgt_vocab=25, hidden_size=12, emb_size=6, maxout_units=5)


@pytest.mark.parametrize("arch", ["gru", "lstm"])
def test_encoder_decoder_shapes_init_and_padding(arch: str) -> None:
    model = _encdec(arch)
    blocks = model.decoder.weight_hh_l0.split(12)
    for block in blocks:
        torch.testing.assert_close(block @ block.T, torch.eye(12), atol=1e-5, rtol=0)  # orthogonal
    assert model.out_words.bias.abs().sum() == 0
    src = torch.tensor([[5, 6, 7, 0], [8, 9, 0, 0]])
    logits = model(src, torch.tensor([3, 2]), torch.tensor([[2, 4, 5], [2, 6, 0]]))
    assert logits.shape == (2, 3, 25)
    # The summary of a sentence does not depend on the padding after it.
    alone = model.encode(torch.tensor([[8, 9]]), torch.tensor([2]))
    torch.testing.assert_close(model.encode(src, torch.tensor([3, 2]))[1], alone[0])


@pytest.mark.parametrize("arch", ["gru", "lstm"])
def test_beam_of_one_is_greedy_decoding(arch: str) -> None:
    model = _encdec(arch).eval()
    with torch.no_grad():  # a confident model, so that greedy outputs end with eos
        model.out_words.bias[3] = 1.0
    src, lengths = torch.tensor([[5, 6, 7], [8, 9, 10]]), torch.tensor([3, 3])
    greedy = []
    for i in range(2):
        c = model.encode(src[i : i + 1], lengths[i : i + 1])
        state, token, out = model.initial_state(c), torch.tensor([[2]]), []
        for _ in range(8):
            logits, state = model.decode(c, token, state)
            token = logits[:, -1].argmax(-1, keepdim=True)
            if token.item() == 3:
                break
            out.append(token.item())
        greedy.append(out)
    assert model.beam_search(src, lengths, bos=2, eos=3, beam_size=1, max_len=8) == greedy
    wide = model.beam_search(src, lengths, bos=2, eos=3, beam_size=4, max_len=8)
    assert len(wide) == 2 and all(3 not in hyp and len(hyp) <= 8 for hyp in wide)
