"""ConvS2S's invariants: shapes, causality of the decoder, padding, the incremental decoder against
the full forward, beam 1 against greedy decoding, the paper's initialisation and scalings, the
training recipe's rules, and that it learns to copy within a minute."""

from __future__ import annotations

import math
import time

import pytest
import torch
from torch.nn import functional as F

from papers.convs2s.config import ModelConfig, anneal, nesterov
from papers.convs2s.model import ConvS2S, expand_layers
from shared.train.config import TrainConfig
from shared.train.schedules import ScheduleConfig

BOS, EOS = 2, 3


def _model(**kwargs: object) -> ConvS2S:
    torch.manual_seed(0)
    settings = {
        "src_vocab": 30,
        "tgt_vocab": 25,
        "emb_size": 8,
        "out_emb_size": 6,
        "encoder_layers": expand_layers([[8, 3, 2], [12, 5, 1]]),  # a width change: residual projection
        "decoder_layers": expand_layers([[8, 3, 2], [10, 1, 1]]),  # kernel 1 too
        "dropout": 0.2,
    }
    return ConvS2S(**{**settings, **kwargs})


SRC = torch.tensor([[5, 6, 7, 0], [8, 9, 0, 0]])
LENGTHS = torch.tensor([3, 2])
TGT = torch.tensor([[BOS, 4, 5, 6, 7], [BOS, 6, 8, 9, 10]])


def test_shapes_and_bad_inputs() -> None:
    model = _model().eval()
    assert model(SRC, LENGTHS, TGT).shape == (2, 5, 25)
    with pytest.raises(ValueError, match="expected src"):
        model(SRC[0], LENGTHS, TGT)
    with pytest.raises(ValueError, match="max_positions"):
        _model(max_positions=4).eval()(SRC, LENGTHS, TGT)
    with pytest.raises(ValueError, match="odd"):
        _model(encoder_layers=[(8, 2)])
    with pytest.raises(ValueError, match="attention_layers"):
        _model(attention_layers=[4])
    with pytest.raises(ValueError, match="channels, kernel, count"):
        expand_layers([[8, 3]])


@pytest.mark.parametrize("position", [0, 2, 4])
def test_no_output_depends_on_a_later_target_token(position: int) -> None:
    """Causal decoder: perturbing target tokens at and after ``position`` leaves every earlier
    output unchanged (to the bit), and changes the output at ``position``."""
    model = _model().eval()
    changed = TGT.clone()
    changed[:, position:] = 11
    before, after = model(SRC, LENGTHS, TGT), model(SRC, LENGTHS, changed)
    assert torch.equal(before[:, :position], after[:, :position])
    assert not torch.allclose(before[:, position], after[:, position])


def test_the_gradient_of_an_output_reaches_no_later_target_embedding() -> None:
    model = _model().eval()
    g = model.decoder.embed(TGT).detach().requires_grad_()
    original = model.decoder.embed.forward
    model.decoder.embed.forward = lambda ids: g  # the same embeddings, now a leaf we can differentiate
    try:
        model(SRC, LENGTHS, TGT)[:, 2].sum().backward()
    finally:
        model.decoder.embed.forward = original
    assert g.grad[:, 3:].abs().sum() == 0 and g.grad[:, :3].abs().sum() > 0


def test_a_sentence_is_translated_alike_alone_and_in_a_padded_batch() -> None:
    model = _model().eval()
    batch = model(SRC, LENGTHS, TGT)
    alone = model(SRC[1:, :2], LENGTHS[1:], TGT[1:])
    torch.testing.assert_close(batch[1], alone[0], atol=1e-6, rtol=0)


def test_incremental_decoding_equals_the_full_forward() -> None:
    model = _model().eval()
    full = model(SRC, LENGTHS, TGT)
    state = model.start_decoding(SRC, LENGTHS, beam_size=1)
    for t in range(TGT.size(1)):
        logits, state = model.decode_step(TGT[:, : t + 1], state)
        torch.testing.assert_close(logits, full[:, t], atol=1e-6, rtol=0)


def _greedy(model: ConvS2S, src: torch.Tensor, lengths: torch.Tensor, max_len: int) -> list[list[int]]:
    """Greedy decoding by the full forward over the growing prefix (no incremental state)."""
    out = []
    for i in range(src.size(0)):
        tokens = torch.tensor([[BOS]])
        for _ in range(max_len):
            nxt = model(src[i : i + 1, : lengths[i]], lengths[i : i + 1], tokens)[0, -1].argmax()
            if nxt.item() == EOS:
                break
            tokens = torch.cat([tokens, nxt.view(1, 1)], 1)
        out.append(tokens[0, 1:].tolist())
    return out


def test_beam_of_one_is_greedy_decoding() -> None:
    model = _model().eval()
    with torch.no_grad():  # a model that ends some outputs early, others at max_len
        model.decoder.softmax.bias[EOS] = 2.0
    greedy = _greedy(model, SRC, LENGTHS, max_len=7)
    assert model.beam_search(SRC, LENGTHS, BOS, EOS, beam_size=1, max_len=7) == greedy
    wide = model.beam_search(SRC, LENGTHS, BOS, EOS, beam_size=4, max_len=7)
    assert len(wide) == 2 and all(EOS not in hyp and len(hyp) <= 7 for hyp in wide)


def test_initialisation_and_weight_normalisation() -> None:
    """Sec. 3.5: embeddings N(0, 0.1); GLU-feeding convolutions N(0, sqrt(4p/n)), other layers
    N(0, sqrt(p/n)), p the keep probability of the dropout on the layer's input; zero biases;
    weight norm everywhere but the lookup tables."""
    torch.manual_seed(0)
    p = 0.8
    model = ConvS2S(4000, 4000, 256, 256, [(512, 5)], [(512, 5)], dropout=1 - p)
    assert model.encoder.embed.weight.std().item() == pytest.approx(0.1, rel=0.02)
    conv = model.encoder.blocks[0].conv
    assert conv.weight.std().item() == pytest.approx(math.sqrt(4 * p / (5 * 512)), rel=0.02)
    assert model.decoder.fc_in.weight.std().item() == pytest.approx(math.sqrt(p / 256), rel=0.02)
    assert model.decoder.attention[0].query.weight.std().item() == pytest.approx(math.sqrt(1 / 512), rel=0.02)
    assert model.decoder.softmax.bias.abs().sum() == 0 and conv.bias.abs().sum() == 0
    # Weight norm: a gain per output unit, starting at the norm of its initial direction.
    g, v = conv.parametrizations.weight.original0, conv.parametrizations.weight.original1
    torch.testing.assert_close(g.flatten(), v.flatten(1).norm(dim=1))
    assert not hasattr(model.encoder.embed, "parametrizations")


def test_the_encoder_gradient_is_divided_by_the_number_of_attention_mechanisms() -> None:
    """Sec. 3.4: with 3 attending blocks, the encoder's blocks get 1/3 of the gradient they would
    get unscaled; the forward pass is unchanged."""
    grads = {}
    for scale in (None, 1.0):
        model = _model()  # same seed: same weights
        if scale is not None:
            model.encoder.grad_scale = scale
        assert model.encoder.grad_scale == (1.0 if scale else 1 / 3)
        model.train(False)
        model(SRC, LENGTHS, TGT).sum().backward()
        grads[scale] = model.encoder.blocks[0].conv.parametrizations.weight.original1.grad.clone()
    torch.testing.assert_close(grads[None], grads[1.0] / 3)
    assert _model(attention_layers=[3]).encoder.grad_scale == 1.0


def test_the_conditional_input_is_scaled_by_m_sqrt_one_over_m() -> None:
    """A one-token source: the attention weight is 1, c = (z + e) sqrt(0.5), times 1 sqrt(1)."""
    model = _model().eval()
    memory = model.encode(torch.tensor([[5, 0, 0]]), torch.tensor([1]))
    torch.testing.assert_close(memory["scale"].flatten(), torch.tensor([1.0]))
    memory4 = model.encode(torch.tensor([[5, 6, 7, 8]]), torch.tensor([4]))
    torch.testing.assert_close(memory4["scale"].flatten(), torch.tensor([2.0]))  # 4 sqrt(1/4)


def test_the_ablations_remove_what_they_name() -> None:
    assert _model(source_positions=False, target_positions=False).encoder.positions is None
    model = _model(attention_layers=[3])
    assert model.decoder.num_attention == 1
    assert [type(a).__name__ for a in model.decoder.attention] == ["Identity", "Identity", "Attention"]


def test_the_model_config_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="odd"):
        ModelConfig(encoder=[[8, 2, 1]]).validate()
    with pytest.raises(ValueError, match="attention_layers"):
        ModelConfig(decoder=[[8, 3, 3]], attention_layers=[4]).validate()
    with pytest.raises(ValueError, match="dropout"):
        ModelConfig(dropout=1.0).validate()


def test_the_anneal_rule_decays_every_epoch_once_validation_stops_improving() -> None:
    cfg = ScheduleConfig(kind="convs2s_anneal")
    losses = [5.0, 4.0, 3.5, 3.6, 3.0, 2.9]
    decays = [anneal(cfg, epoch, loss, losses[: epoch - 1]) for epoch, loss in enumerate(losses, 1)]
    # Improving until epoch 4 (3.6 >= 3.5): decay then and after every later epoch, improving or not.
    assert decays == [False, False, False, True, True, True]


def test_nesterov_needs_momentum() -> None:
    params = [torch.nn.Parameter(torch.zeros(2))]
    optimizer = nesterov(params, TrainConfig(epochs=1, lr=0.25, momentum=0.99))
    assert optimizer.defaults["nesterov"] and optimizer.defaults["momentum"] == 0.99
    with pytest.raises(ValueError, match="momentum"):
        nesterov(params, TrainConfig(epochs=1, lr=0.25))


def test_learns_to_copy_short_sequences_within_a_minute() -> None:
    """With the paper's optimizer (Nesterov 0.99, lr 0.25, clipping 0.1), a small ConvS2S learns to
    copy sequences of 3-6 symbols: greedy decoding reproduces at least 90 % of held-out sequences
    exactly (chance: nil)."""
    torch.manual_seed(0)
    vocab, symbols = 14, range(4, 14)
    model = ConvS2S(vocab, vocab, 32, 32, [(32, 3)] * 2, [(32, 3)] * 2, dropout=0.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.25, momentum=0.99, nesterov=True)
    generator = torch.Generator().manual_seed(1)

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        length = int(torch.randint(3, 7, (1,), generator=generator))
        return torch.randint(symbols.start, symbols.stop, (n, length), generator=generator), torch.full((n,), length)

    started = time.perf_counter()
    model.train()
    for _ in range(400):
        src, lengths = batch(32)
        tgt_in = F.pad(src, (1, 0), value=BOS)
        tgt_out = F.pad(src, (0, 1), value=EOS)
        loss = F.cross_entropy(model(src, lengths, tgt_in).flatten(0, 1), tgt_out.flatten())
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        optimizer.step()
    model.eval()
    correct = total = 0
    for _ in range(8):
        src, lengths = batch(16)
        out = model.beam_search(src, lengths, BOS, EOS, beam_size=1, max_len=10)
        correct += sum(hyp == row.tolist() for hyp, row in zip(out, src, strict=True))
        total += len(out)
    assert time.perf_counter() - started < 60
    assert correct / total >= 0.9, f"copied {correct}/{total}"
