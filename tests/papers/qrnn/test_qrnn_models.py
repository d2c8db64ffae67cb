"""The QRNN paper's models (no data needed): the language models' carried state, the classifier's
dense connections and its independence of padding, the configuration and the paper card's claims."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from papers.qrnn.__main__ import PAPER
from papers.qrnn.config import RMSPROP, ModelConfig, TaskConfig
from papers.qrnn.model import DenselyConnectedClassifier, LSTMLanguageModel, QRNNLanguageModel
from shared.core.config import ConfigError, load_task_config
from shared.core.paths import REPO_ROOT
from shared.results.claims import FAILS, HOLDS, NOT_RUN
from shared.results.claims import check as check_claim
from shared.results.paper_card import load_card
from shared.train.config import TrainConfig
from shared.train.loop import make_optimizer

CARD = load_card(PAPER.card_path)


def language_models() -> list[torch.nn.Module]:
    torch.manual_seed(0)
    return [
        QRNNLanguageModel(50, 8, 2, window=2, zoneout=0.1, dropout=0.5, init_range=0.3),
        QRNNLanguageModel(50, 8, 2, window=3, zoneout=0.0, dropout=0.0, init_range=0.3),
        LSTMLanguageModel(50, 8, 2, dropout=0.5, init_range=0.3),
    ]


@pytest.mark.parametrize("model", language_models(), ids=["qrnn_k2", "qrnn_k3", "lstm"])
def test_a_stream_read_in_windows_equals_it_read_whole_whatever_runs_in_between(model: torch.nn.Module) -> None:
    """The carried state is all the model keeps: windows with the state passed on (detached, as
    the task does, and through a checkpoint-like copy) equal one pass, even when another stream at
    another batch size runs between two windows (an evaluation at batch size 1)."""
    model.eval()
    tokens = torch.randint(0, 50, (3, 23))
    whole, _ = model(tokens)
    logits, state = model(tokens[:, :10])
    state = tuple(s.detach().clone() for s in state)
    model(torch.randint(0, 50, (1, 7)))  # a new stream (state None) at batch size 1
    rest, _ = model(tokens[:, 10:], state)
    torch.testing.assert_close(torch.cat([logits, rest], 1), whole)
    restarted, _ = model(tokens[:, 10:])  # None starts afresh: not the continuation
    assert not torch.allclose(restarted, rest)


def test_the_qrnn_language_model_has_the_papers_size_and_state() -> None:
    model = QRNNLanguageModel(10_000, 640, 2, window=2, zoneout=0.1, dropout=0.5, init_range=0.05)
    # Table 2: ~18M parameters (the LSTM of the same size: ~20M).
    assert sum(p.numel() for p in model.parameters()) == 17_729_040
    lstm = LSTMLanguageModel(10_000, 640, 2, dropout=0.5, init_range=0.05)
    assert sum(p.numel() for p in lstm.parameters()) == 19_373_840
    assert model.rnn.weight_ih_l0.shape == (3 * 640, 2 * 640)  # z, f, o from [x_{t-1}, x_t]
    assert (model.rnn.window, model.rnn.zoneout, model.rnn.pooling) == (2, 0.1, "fo")
    small = QRNNLanguageModel(30, 4, 2, window=2, zoneout=0.1, dropout=0.0, init_range=0.1)
    _, state = small(torch.randint(0, 30, (5, 6)))
    assert [s.shape for s in state] == [(2, 5, 4), (1, 5, 4), (1, 5, 4)]  # c; each layer's last input
    assert all(p.abs().max() <= 0.1 for p in small.parameters())


@pytest.mark.parametrize("arch", ["qrnn", "lstm"])
def test_dense_connections_concatenate_every_layers_input_and_output(arch: str) -> None:
    torch.manual_seed(0)
    window = 2 if arch == "qrnn" else 1
    model = DenselyConnectedClassifier(arch, 100, 12, 8, 4, window, 0.3, 2)
    sizes = [layer.input_size for layer in model.layers]
    assert sizes == [12, 20, 28, 36]  # emb_size + l * hidden
    first = model.layers[0].weight_ih_l0
    assert first.shape == ((3 * 8, 2 * 12) if arch == "qrnn" else (4 * 8, 12))
    assert model.output.in_features == 8  # the last layer alone feeds the classifier
    assert model(torch.randint(1, 100, (5, 9)), torch.tensor([9, 3, 1, 9, 4])).shape == (5, 2)


@pytest.mark.parametrize("arch", ["qrnn", "lstm"])
def test_a_reviews_prediction_does_not_depend_on_the_padding_of_its_batch(arch: str) -> None:
    torch.manual_seed(0)
    model = DenselyConnectedClassifier(arch, 100, 6, 5, 4, 2 if arch == "qrnn" else 1, 0.3, 2).eval()
    review = torch.randint(2, 100, (7,))
    alone = model(review[None], torch.tensor([7]))
    for padding in (1, 30):
        batch = torch.zeros(3, 7 + padding, dtype=torch.long)
        batch[0] = torch.randint(2, 100, (7 + padding,))
        batch[1, :7] = review
        batch[2, :4] = review[:4]
        batch[1, 7:] = torch.randint(2, 100, (padding,))  # any value after the end, not only <pad>
        logits = model(batch, torch.tensor([7 + padding, 7, 4]))
        torch.testing.assert_close(logits[1], alone[0])
        torch.testing.assert_close(logits[2], model(review[None, :4], torch.tensor([4]))[0])


def test_every_task_has_its_papers_model_at_the_paper_profile() -> None:
    qrnn = PAPER.config("ptb_qrnn", "paper")
    assert (qrnn.model.hidden, qrnn.model.layers, qrnn.model.window, qrnn.model.zoneout) == (640, 2, 2, 0.1)
    assert (qrnn.data.seq_len, qrnn.train.batch_size, qrnn.train.lr, qrnn.train.optimizer) == (105, 20, 1.0, "sgd")
    lstm = PAPER.config("ptb_lstm", "paper")
    assert (lstm.model.arch, lstm.train) == ("lstm", qrnn.train)  # the same recipe
    assert lstm.model.dropout == qrnn.model.dropout
    imdb = PAPER.config("imdb_qrnn", "paper")
    assert (imdb.model.hidden, imdb.model.layers, imdb.model.window, imdb.model.dropout) == (256, 4, 2, 0.3)
    assert (imdb.train.batch_size, imdb.train.lr, imdb.train.weight_decay) == (24, 0.001, 4e-6)
    assert PAPER.config("imdb_lstm", "paper").train == imdb.train
    for task in ("ptb_qrnn", "ptb_lstm", "imdb_qrnn", "imdb_lstm"):  # cpu: the paper's model sizes
        cpu, paper = PAPER.config(task, "cpu"), PAPER.config(task, "paper")
        assert (cpu.model.hidden, cpu.model.layers) == (paper.model.hidden, paper.model.layers)


def test_rmsprop_has_the_papers_constants() -> None:
    cfg = TrainConfig(epochs=1, optimizer=RMSPROP, lr=1e-3, weight_decay=4e-6)
    optimizer = make_optimizer(torch.nn.Linear(2, 2), cfg)
    group = optimizer.param_groups[0]
    assert isinstance(optimizer, torch.optim.RMSprop)
    assert (group["alpha"], group["eps"], group["lr"], group["weight_decay"]) == (0.9, 1e-8, 1e-3, 4e-6)


def test_qrnn_settings_on_an_lstm_are_a_configuration_error(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(
        "tasks:\n  t:\n    data: {kind: language_model, dataset: ptb_word}\n"
        "    model: {arch: lstm, window: 1, zoneout: 0.1}\n    profiles: {smoke: {}}\n"
    )
    with pytest.raises(ConfigError, match="zoneout and model.window are QRNN settings"):
        load_task_config(params, "t", "smoke", TaskConfig)
    with pytest.raises(ValueError, match="zoneout"):
        ModelConfig(arch="qrnn", zoneout=1.0).validate()


def test_the_cards_claims_are_checks_on_its_results_or_measured_with_committed_evidence() -> None:
    """Perplexity and accuracy are decided by the results files when the report is made (the
    shared claims check); the speed claims were measured by make bench, and their evidence is a
    committed file."""
    assert {c.id for c in CARD.claims} == {
        "speed_layer_grid",
        "ptb_perplexity",
        "ptb_epoch_time",
        "imdb_epoch_time",
        "imdb_accuracy",
    }
    assert all(c.scale == "reduced" for c in CARD.claims)
    for claim in CARD.claims:
        if claim.check is None:
            assert (REPO_ROOT / claim.evidence).is_file(), claim.evidence
        else:
            assert check_claim(claim, PAPER.folder / "results").status in (HOLDS, FAILS, NOT_RUN)


def test_a_card_claim_on_an_unknown_task_or_without_evidence_is_an_error(tmp_path: Path) -> None:
    text = PAPER.card_path.read_text()
    bad_task = tmp_path / "task.yaml"
    bad_task.write_text(text.replace("task: ptb_lstm, than: ptb_qrnn", "task: ptb_gru, than: ptb_qrnn"))
    with pytest.raises(ConfigError, match="'ptb_gru' has no entry in reported"):
        load_card(bad_task)
    no_evidence = tmp_path / "evidence.yaml"
    no_evidence.write_text(text.replace("    evidence: bench/qrnn_speed.md\n", ""))
    with pytest.raises(ConfigError, match="an outcome with its evidence"):
        load_card(no_evidence)
