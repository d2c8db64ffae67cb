"""ON-LSTM's language model (Sec. 5.1) and the parsing of its weights (Sec. 5.2): the paper's size,
the official DropConnect in training only, per-layer distances shaped for the parser, the parsing
metrics through the task on a hand-made example, the official fine-tuning schedule, and a short
run that learns."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from papers.on_lstm.__main__ import PAPER, build_model, build_task
from papers.on_lstm.config import LanguageModelTrainConfig
from papers.on_lstm.model import onlstm_layer
from papers.on_lstm.recipe import RestartingNTASGD
from shared.core.config import ConfigError
from shared.data.prepared import PREPARED_ENV, save_prepared
from shared.models.awd_language_model import AWDLanguageModel
from shared.models.cells import ONLSTM
from shared.tasks import parsing


def small(**kwargs: float) -> AWDLanguageModel:
    torch.manual_seed(0)
    return AWDLanguageModel(50, onlstm_layer(3), embedding_size=6, hidden_size=9, **kwargs)


def test_the_paper_model_has_25m_parameters_in_three_onlstm_layers() -> None:
    cfg = PAPER.config("ptb_lm", "paper")
    model = build_model(cfg, SimpleNamespace(vocab_size=10_000))
    assert sum(p.numel() for p in model.parameters()) == 25_232_180  # "25M", Table 1
    assert [(rnn.input_size, rnn.hidden_size, rnn.n_chunks) for rnn in model.rnns] == [
        (400, 1150, 115),
        (1150, 1150, 115),
        (1150, 400, 40),
    ]
    assert all(isinstance(rnn, ONLSTM) and rnn.dropconnect == 0.45 for rnn in model.rnns)
    assert model.decoder.weight is model.embedding.embedding.weight
    assert model.embedding.embedding.weight.abs().max() <= 0.1


def test_dropconnect_acts_in_training_only_in_the_official_form() -> None:
    """Training: each weight_hh (not the bias, not weight_ih) times a fresh 0/1 mask, unscaled;
    eval: deterministic, the weights times 1 - p: the same as a model without DropConnect whose
    weight_hh are scaled by 1 - p."""
    model = small(dropout=0.0, dropout_hidden=0.0, dropout_input=0.0, dropout_embedding=0.0, weight_drop=0.5)
    tokens = torch.randint(0, 50, (3, 7))
    model.eval()
    eval_logits = model(tokens)[0]
    assert torch.equal(model(tokens)[0], eval_logits)
    plain = small(dropout=0.0, dropout_hidden=0.0, dropout_input=0.0, dropout_embedding=0.0, weight_drop=0.0).eval()
    plain.load_state_dict(model.state_dict())
    with torch.no_grad():
        for rnn in plain.rnns:
            rnn.weight_hh_l0.mul_(0.5)
    torch.testing.assert_close(plain(tokens)[0], eval_logits)
    model.train()
    first, second = model(tokens)[0], model(tokens)[0]
    assert not torch.allclose(first, second) and not torch.allclose(first, eval_logits)
    layer = model.rnns[0]
    dropped = layer._weights()
    kept = dropped["weight_hh_l0"] / layer.weight_hh_l0
    assert set(kept.unique().tolist()) == {0.0, 1.0} and 0.3 < kept.mean() < 0.7
    for name in ("weight_ih_l0", "bias_ih_l0", "bias_hh_l0"):
        assert torch.equal(dropped[name], getattr(layer, name))


def test_distances_come_per_layer_in_the_parsers_shape() -> None:
    """``(layers, N, L)``, row k the k-th layer's master-forget distances, in [0, 1 - C/H]; a
    sentence read in a batch of equal-length ones has the distances it has alone."""
    model = small().eval()
    tokens = torch.randint(0, 50, (4, 5))
    with torch.no_grad():
        logits, state, distances = model(tokens, return_distances=True)
        assert logits.shape == (4, 5, 50) and len(state) == 6 and distances.shape == (3, 4, 5)
        x = model.embedding(tokens)
        for k, rnn in enumerate(model.rnns):
            x, _, own = rnn(x, return_distances=True)
            torch.testing.assert_close(distances[k], own[0])
            assert own.min() >= 0 and own.max() <= 1 - rnn.chunk_size / rnn.hidden_size + 1e-6
        alone = model(tokens[2:3], return_distances=True)[-1]
    torch.testing.assert_close(alone[:, 0], distances[:, 2], rtol=0, atol=1e-6)
    with torch.no_grad():  # and the same hidden state as without distances
        torch.testing.assert_close(model(tokens)[0], logits, rtol=0, atol=0)


class HandDistances(nn.Module):
    """Uniform predictions; distances falling along the input in layer 1 (right-branching trees)
    and rising in layer 2 (left-branching)."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.weight = nn.Parameter(torch.zeros(()))

    def forward(
        self, tokens: torch.Tensor, state: object = None, *, return_distances: bool = False
    ) -> tuple[torch.Tensor, ...]:
        logits = torch.zeros(*tokens.shape, self.vocab_size) + self.weight
        if not return_distances:
            return logits, ()
        falling = torch.arange(tokens.size(1), 0, -1, dtype=torch.float).expand(tokens.shape)
        return logits, (), torch.stack([falling, falling.flip(-1)])


def test_the_test_evaluation_parses_with_the_models_distances(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the task (build_task of ptb_lm): a 3-sentence treebank, one of 11 words; the test
    split gets the per-layer F1s (%) of the hand-made distances and the baselines on the same
    sentences, and the perplexity of uniform predictions, the vocabulary size; validation no F1."""
    monkeypatch.setenv(PREPARED_ENV, str(tmp_path))
    vocab = ["<unk>", "<eos>", "the", "cat", "sat", "on", "mat", *"abcdefghijk"]
    stream = torch.randint(0, len(vocab), (200,), generator=torch.Generator().manual_seed(0))
    save_prepared(
        {"vocab": vocab, "train": stream, "valid": stream, "test": stream}, tmp_path / "ptb_word" / "ptb_word.pt"
    )
    long = ["a", ["b", ["c", ["d", ["e", ["f", ["g", ["h", ["i", ["j", "k"]]]]]]]]]]
    trees = [[["the", "cat"], ["sat", ["on", ["the", "mat"]]]], long, ["the", ["cat", "sat"]]]
    words = [parsing.leaves(t) for t in trees]
    save_prepared({"fileids": ["x"] * 3, "words": words, "trees": trees}, tmp_path / "wsj_sample" / "wsj_sample.pt")
    cfg = PAPER.config("ptb_lm", "smoke")
    cfg.model.layers, cfg.parse.limit = 2, None
    task = build_task(cfg, 1, torch.device("cpu"))
    assert {"f1_wsj_layer2", "f1_wsj10_layer1", "f1_wsj_right_branching"} <= set(task.secondary_metrics)
    model = HandDistances(len(vocab))
    test = task.evaluate(model, "test")
    # Right-branching F1 per sentence 0.75, 1, 1; left-branching 0.25, 0, 0 (hand-counted spans).
    assert test["f1_wsj_layer1"] == pytest.approx(100 * 2.75 / 3)
    assert test["f1_wsj_layer2"] == pytest.approx(100 * 0.25 / 3)
    assert test["f1_wsj10_layer1"] == pytest.approx(100 * 1.75 / 2)  # the 11-word sentence left out
    assert test["f1_wsj10_layer2"] == pytest.approx(100 * 0.25 / 2)
    assert test["f1_wsj_right_branching"] == test["f1_wsj_layer1"]
    assert test["f1_wsj_left_branching"] == test["f1_wsj_layer2"]
    assert test["perplexity"] == pytest.approx(len(vocab))
    assert set(task.secondary_metrics) <= set(test)
    assert not any(key.startswith("f1_") for key in task.evaluate(model, "valid"))


def trainer_at(epoch: int) -> SimpleNamespace:
    stops: list[str] = []
    return SimpleNamespace(epoch=epoch, request_stop=stops.append, stops=stops)


def test_the_official_fine_tuning_restarts_the_average_and_never_stops() -> None:
    """main.py: after epoch --finetuning, if averaging, a fresh ASGD (an empty average); no
    stopping test afterwards; with no averaging yet at that epoch, nothing happens then."""
    hook = RestartingNTASGD(nonmono=1, restart_after=5)
    for epoch, loss in enumerate([3.0, 2.0, 1.0, 2.5], 1):  # the trigger fires at epoch 4: 2.5 > 2
        hook.after_epoch(trainer_at(epoch), {"valid/loss": loss})
    assert hook.averaging
    hook.average, hook.averaged_steps = [torch.ones(2)], 7
    hook.after_epoch(trainer_at(5), {"valid/loss": 9.0})
    assert (hook.average, hook.averaged_steps) == ([], 0)
    for epoch in range(6, 20):  # worse and worse: never stops
        hook.average, hook.averaged_steps = [torch.ones(2)], 3
        trainer = trainer_at(epoch)
        hook.after_epoch(trainer, {"valid/loss": float(epoch)})
        assert not trainer.stops and hook.averaged_steps == 3
    late = RestartingNTASGD(nonmono=1, restart_after=2)
    late.after_epoch(trainer_at(1), {"valid/loss": 3.0})
    late.after_epoch(trainer_at(2), {"valid/loss": 2.0})
    assert not late.averaging and late.valid_losses == [3.0, 2.0]  # the SGD phase goes on


def test_recipe_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nt_asgd_restart"):
        LanguageModelTrainConfig(epochs=10, optimizer="nt_asgd", restart_averaging_after=5).validate()
    with pytest.raises(ValueError, match="not in"):
        LanguageModelTrainConfig(epochs=10, optimizer="nt_asgd_restart", restart_averaging_after=10).validate()
    params = tmp_path / "params.yaml"
    params.write_text(
        (Path(PAPER.params_path).read_text()).replace(
            "chunk_size: 10\n      dropout: 0.45", "chunk_size: 7\n      dropout: 0.45"
        )
    )
    with pytest.raises(ConfigError, match="multiple of model.chunk_size"):
        dataclasses.replace(PAPER, folder=tmp_path).config("ptb_lm", "paper")


@pytest.mark.slow
def test_a_short_run_beats_a_unigram_model(
    prepared_data: Path, short_lm_run_vs_unigram: Callable[..., tuple[float, float]]
) -> None:
    """The recipe (variable BPTT with its lr scale, AR before dropout, TAR, SGD lr 30, clip 0.25)
    with a small ON-LSTM language model on the first 5k PTB tokens for 20 epochs (~2 min): its
    perplexity on those tokens must beat that of their own unigram distribution (the best a model
    without context can do there). Dropouts off, as in AWD-LSTM's test: each is tested above."""
    cfg = PAPER.config("ptb_lm", "smoke")
    m = cfg.model
    m.embedding_size, m.hidden_size, m.chunk_size = 32, 64, 4
    # SGD only (the smoke profile's nonmono 0 starts averaging the early weights at once)
    cfg.train.nonmono, cfg.train.restart_averaging_after = 100, None
    ours, unigram = short_lm_run_vs_unigram(cfg, build_task, build_model)
    assert ours < 0.8 * unigram, (ours, unigram)
