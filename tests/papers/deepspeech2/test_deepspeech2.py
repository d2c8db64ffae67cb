"""Deep Speech 2 (papers/deepspeech2) and its speech family (shared/tasks/speech.py): CTC against a
hand computation, decoding invariants, sequence-wise BN over padded batches, the connected-digit
construction, the model's padding invariance, and a "learns" check on isolated digits."""

from __future__ import annotations

import itertools
import math
import time
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from papers.deepspeech2.model import BatchNormGRU, BatchNormRNN, ConvLayer, DeepSpeech2
from shared.data import fsdd
from shared.data.checksums import DataError
from shared.models.normalization import SequenceBatchNorm
from shared.tasks.speech import (
    ALPHABET,
    BLANK,
    decode,
    encode,
    greedy_decode,
    labelling_log_prob,
    log_spectrogram,
    prefix_beam_search,
)

# --------------------------------------------------------------------------------- CTC and decoding


def test_ctc_loss_matches_a_hand_computed_example() -> None:
    # Two steps, symbols {blank, a}; the labelling "a" has three alignments: aa, a_, _a.
    p = torch.tensor([[0.3, 0.7], [0.6, 0.4]], dtype=torch.float64)
    by_hand = p[0, 1] * p[1, 1] + p[0, 1] * p[1, 0] + p[0, 0] * p[1, 1]
    assert labelling_log_prob(p.log(), [1]) == pytest.approx(math.log(by_hand), abs=1e-12)
    # The labelling "aa" needs a blank between the two a's: impossible in two steps.
    assert labelling_log_prob(p.log(), [1, 1]) == -math.inf
    loss = F.ctc_loss(p.log().unsqueeze(1), torch.tensor([[1]]), torch.tensor([2]), torch.tensor([1]), reduction="sum")
    assert loss.item() == pytest.approx(-math.log(by_hand), abs=1e-12)


def test_alphabet_is_the_papers_english_outputs() -> None:
    assert len(ALPHABET) == 29 and ALPHABET[BLANK] == "_"
    assert decode(encode("seven one")) == "seven one"
    with pytest.raises(ValueError, match="outside the alphabet"):
        encode("Seven")


def test_greedy_decoding_merges_repeats_and_drops_blanks() -> None:
    path = [1, 1, 0, 1, 3, 3, 0, 0, 4]
    log_probs = F.one_hot(torch.tensor(path), 5).double().clamp_min(1e-6).log()
    assert greedy_decode(log_probs) == [1, 1, 3, 4]


def _peaked(steps: int, classes: int, top: float, generator: torch.Generator) -> torch.Tensor:
    """Random ``(steps, classes)`` log-probabilities whose most probable symbol has probability ``top``."""
    rest = torch.rand(steps, classes, generator=generator, dtype=torch.float64)
    best = torch.randint(classes, (steps,), generator=generator)
    rest[torch.arange(steps), best] = 0.0
    probs = rest / rest.sum(-1, keepdim=True) * (1 - top)
    probs[torch.arange(steps), best] = top
    return probs.log()


def test_beam_search_of_width_1_is_greedy_when_every_step_is_peaked() -> None:
    generator = torch.Generator().manual_seed(0)
    for _ in range(50):
        log_probs = _peaked(12, 4, 0.75, generator)  # above 1/sqrt(2): see prefix_beam_search
        assert prefix_beam_search(log_probs, 1)[0] == greedy_decode(log_probs)


def test_beam_search_is_never_less_probable_than_greedy() -> None:
    generator = torch.Generator().manual_seed(1)
    for _ in range(30):
        log_probs = torch.randn(10, 5, generator=generator, dtype=torch.float64).log_softmax(-1)
        for width in (1, 4):
            labels, score = prefix_beam_search(log_probs, width)
            assert score == pytest.approx(labelling_log_prob(log_probs, labels), abs=1e-9)
            assert score >= labelling_log_prob(log_probs, greedy_decode(log_probs))


def test_a_beam_wide_enough_finds_the_most_probable_labelling() -> None:
    generator = torch.Generator().manual_seed(2)
    log_probs = torch.randn(5, 3, generator=generator, dtype=torch.float64).log_softmax(-1)
    labellings = [list(y) for n in range(6) for y in itertools.product((1, 2), repeat=n)]
    best = max(labellings, key=lambda y: labelling_log_prob(log_probs, y))
    assert prefix_beam_search(log_probs, 64)[0] == best


# --------------------------------------------------------------------------------- features


def test_log_spectrogram_has_20ms_windows_every_10ms_and_ignores_the_level() -> None:
    wave = torch.randn(8000, generator=torch.Generator().manual_seed(3))
    spectrogram = log_spectrogram(wave, 8000)
    assert spectrogram.shape == (1 + (8000 - 160) // 80, 81)
    # Power normalisation: a louder copy has the same features.
    torch.testing.assert_close(log_spectrogram(10 * wave, 8000), spectrogram, rtol=1e-4, atol=1e-3)


# --------------------------------------------------------------------------------- sequence-wise BN


def test_sequence_batch_norm_takes_its_statistics_over_valid_steps_only() -> None:
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(7, 3, 5, generator=generator)
    lengths = torch.tensor([7, 4, 2])
    mask = torch.arange(7).unsqueeze(1) < lengths
    padded = torch.where(mask.unsqueeze(-1), x, torch.full_like(x, 1e3))  # huge padding
    norm, reference = SequenceBatchNorm(5), torch.nn.BatchNorm1d(5)
    out = norm(padded, mask)
    expected = reference(x[mask])
    torch.testing.assert_close(out[mask], expected)
    torch.testing.assert_close(norm.running_mean, reference.running_mean)
    torch.testing.assert_close(norm.running_var, reference.running_var)
    norm.eval(), reference.eval()
    torch.testing.assert_close(norm(padded, mask)[mask], reference(x[mask]))


def test_batch_norm_recurrence_normalises_only_the_input_term() -> None:
    rnn = BatchNormRNN(6, 4, 2, batch_norm=True)
    names = {name for name, _ in rnn.named_parameters()}
    assert "bias_ih_l0" not in names and "bias_hh_l0" in names and "weight_hh_l1_reverse" in names
    assert len(rnn.input_norms) == 4 and rnn.input_norms[0].num_features == 4
    gru = BatchNormGRU(6, 4, batch_norm=True)
    assert gru.input_norms[0].num_features == 12  # every gate's input term
    # Without BN the layer is the shared stack itself (torch's GRU kernel).
    assert BatchNormGRU(6, 4)._uses_torch_kernel() and not BatchNormRNN(6, 4)._uses_torch_kernel()


@pytest.mark.parametrize(("cell", "dims"), [("rnn", 2), ("gru", 2), ("rnn", 1)])
def test_an_utterances_outputs_do_not_depend_on_what_it_is_batched_with(cell: str, dims: int) -> None:
    torch.manual_seed(5)
    conv = [ConvLayer(4, (5, 3), (2, 2)), ConvLayer(4, (3, 3), (1, 1))] if dims == 2 else [ConvLayer(8, (3,), (2,))]
    model = DeepSpeech2(20, 29, conv, dims, cell, 8, 2, 8, batch_norm=True)
    x, lengths = torch.randn(3, 30, 20), torch.tensor([30, 19, 11])
    model.train()
    model(x, lengths)  # running statistics away from their initial values
    model.eval()
    log_probs, out_lengths = model(x, lengths)
    for k in range(3):
        alone, alone_length = model(x[k : k + 1, : lengths[k]], lengths[k : k + 1])
        assert out_lengths[k] == alone_length[0]
        torch.testing.assert_close(log_probs[: out_lengths[k], k], alone[:, 0], rtol=0, atol=1e-5)


# --------------------------------------------------------------------------------- connected digits


def _fake_recordings() -> fsdd.Recordings:
    """Two speakers x 10 digits x 6 takes of short constant waves (value = digit): no data needed."""
    rows = [(s, d, t) for s in ("george", "theo") for d in range(10) for t in range(6)]
    return fsdd.Recordings(
        [torch.full((40 + t,), float(d)) for _, d, t in rows],
        [d for _, d, _ in rows],
        [t for _, _, t in rows],
        [s for s, _, _ in rows],
        [f"{d}_{s}_{t}.wav" for s, d, t in rows],
    )


def test_connected_digits_are_a_pure_function_of_the_seed() -> None:
    recordings = _fake_recordings()
    pool = recordings.select(split="train")
    first = fsdd.connected_digits(recordings, pool, 20, seed=7)
    assert first == fsdd.connected_digits(recordings, pool, 20, seed=7)
    assert first != fsdd.connected_digits(recordings, pool, 20, seed=8)
    for utterance in first:
        assert 2 <= len(utterance.parts) <= 7 and len(set(utterance.parts)) == len(utterance.parts)
        assert len({recordings.speakers[p] for p in utterance.parts}) == 1  # one speaker
        assert all(50 * 8 <= g <= 250 * 8 for g in utterance.gaps)
        wave, text = fsdd.render(recordings, utterance)
        assert text == " ".join(fsdd.DIGIT_WORDS[recordings.digits[p]] for p in utterance.parts)
        assert len(wave) == sum(len(recordings.waves[p]) for p in utterance.parts) + sum(utterance.gaps)
    test = fsdd.connected_digits(recordings, recordings.select(split="test"), 20, seed=7)
    assert all(recordings.takes[p] in fsdd.TEST_TAKES for u in test for p in u.parts)


def test_the_official_split_is_by_take() -> None:
    assert [fsdd.official_split(t) for t in (0, 4, 5, 49)] == ["test", "test", "train", "train"]


# --------------------------------------------------------------------------------- data you bring


def test_librispeech_is_a_clear_error_naming_the_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.data import librispeech

    monkeypatch.setenv("SEQREPRO_EXTERNAL", str(tmp_path))
    with pytest.raises(DataError, match=r"librispeech/train-clean-100.*librispeech/test-clean"):
        librispeech.require_subsets((*librispeech.TRAIN, librispeech.TEST))


# --------------------------------------------------------------------------------- learns


def test_greedy_cer_on_isolated_digits_falls_below_50_percent_within_a_minute(prepared_data: Path) -> None:
    from shared.tasks.speech import fsdd_recognition

    torch.manual_seed(1)
    task = fsdd_recognition("isolated", 32, torch.device("cpu"))
    model = DeepSpeech2(task.input_size, task.output_size, [ConvLayer(16, (21, 11), (2, 2))], 2, "rnn", 96, 3, 96, True)
    optimizer = torch.optim.SGD(model.parameters(), lr=3e-3, momentum=0.9, nesterov=True)
    started, epoch = time.perf_counter(), 1
    while time.perf_counter() - started < 45:
        for batch in task.train_batches(epoch, torch.Generator().manual_seed(epoch)):
            optimizer.zero_grad()
            task.train_loss(model, batch).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 400)
            optimizer.step()
            if time.perf_counter() - started > 45:
                break
        epoch += 1
    assert task.evaluate(model, "test")["cer"] < 50.0
