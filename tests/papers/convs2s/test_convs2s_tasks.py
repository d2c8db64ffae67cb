"""The ConvS2S paper's tasks: the smoke runs' results, the ablation settings reaching the model, the
Multi30k rows using the GRU rows' data and evaluation, the card, and the bring-your-own-data errors.
(The conformance suite smoke-runs every task and checks the skeleton.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from papers.convs2s.__main__ import PAPER, build_model
from papers.convs2s.config import TaskConfig
from papers.gru.__main__ import PAPER as GRU
from shared.core.config import ConfigError, from_dict, read_yaml
from shared.data.checksums import DataError
from shared.results.paper_card import load_card
from shared.run import experiment
from shared.run.experiment import RunOptions
from shared.train.loop import make_optimizer

ALL_TASKS = read_yaml(PAPER.params_path)["tasks"]
SMOKE_TASKS = [task for task, entry in ALL_TASKS.items() if "smoke" in entry["profiles"]]
BYO_TASKS = {"wmt14_en_de": ("en", "de"), "wmt14_en_fr": ("en", "fr"), "wmt16_en_ro": ("en", "ro")}
CARD = load_card(PAPER.card_path)


def test_the_tasks_are_the_multi30k_rows_and_the_papers_wmt_tasks() -> None:
    assert set(SMOKE_TASKS) == {"multi30k", "multi30k_no_positions", "multi30k_last_attention"}
    assert set(ALL_TASKS) == set(SMOKE_TASKS) | set(BYO_TASKS)
    assert all(set(ALL_TASKS[t]["profiles"]) == {"paper"} for t in BYO_TASKS)


@pytest.mark.parametrize("profile", ["cpu", "paper"])
def test_the_multi30k_rows_use_the_gru_rows_data_and_evaluation(profile: str) -> None:
    """Same corpus, direction, vocabularies, beam and decoding length as papers/gru's multi30k_gru:
    the BLEU of the two papers' rows compare directly."""
    gru = GRU.config("multi30k_gru", "cpu").data
    for task in SMOKE_TASKS:
        ours = PAPER.config(task, profile).data
        same = ("dataset", "source", "target", "vocab_size", "subword", "beam_size", "max_decode_len", "max_len")
        assert {k: getattr(ours, k) for k in same} == {k: getattr(gru, k) for k in same}


def test_the_ablations_differ_from_multi30k_only_in_what_they_ablate() -> None:
    full = PAPER.config("multi30k", "cpu")
    for task, change in (
        ("multi30k_no_positions", {"source_positions": False, "target_positions": False}),
        ("multi30k_last_attention", {"attention_layers": [3]}),
    ):
        cfg = PAPER.config(task, "cpu")
        assert cfg.data == full.data and cfg.train == full.train
        assert cfg.model.__dict__ == {**full.model.__dict__, **change}


def test_the_recipe_is_the_papers() -> None:
    train = PAPER.config("multi30k", "paper").train
    assert (train.optimizer, train.lr, train.momentum, train.clip) == ("convs2s_nag", 0.25, 0.99, 0.1)
    assert (train.schedule.kind, train.schedule.factor) == ("convs2s_anneal", 0.1)
    assert len(train.seeds) == 3
    # "until it falls below 1e-4", in every task and profile (the cap `epochs` aside)
    for task in ALL_TASKS:
        for profile in ALL_TASKS[task]["profiles"]:
            assert PAPER.config(task, profile).train.stop_lr == 1e-4, (task, profile)


def test_the_wmt_stacks_are_the_papers() -> None:
    depth = {t: sum(n for _, _, n in PAPER.config(t, "paper").model.encoder) for t in BYO_TASKS}
    assert depth == {"wmt14_en_de": 15, "wmt14_en_fr": 15, "wmt16_en_ro": 20}
    for task in BYO_TASKS:
        cfg = PAPER.config(task, "paper")
        assert (cfg.data.subword, cfg.data.vocab_size, cfg.data.beam_size) == ("bpe", 40000, 5)
        assert cfg.model.encoder == cfg.model.decoder


@pytest.mark.parametrize("task", SMOKE_TASKS)
def test_smoke_run_reports_bleu_and_builds_the_ablated_model(
    task: str, tmp_path: Path, mlflow_store: str, prepared_data: Path
) -> None:
    results_path = tmp_path / "results" / f"{task}.json"
    experiment.run(
        PAPER, task, "smoke", results_path=results_path, options=RunOptions(run_root=tmp_path / "runs", progress=False)
    )
    result = json.loads(results_path.read_text())
    assert result["metric"] == "bleu" and 0 <= result["ours"] <= 100 and result["paper_value"] is None
    cfg = PAPER.config(task, "smoke")
    vocab = type("V", (), {"vocab_src": list(range(40)), "vocab_tgt": list(range(30))})()
    model = build_model(cfg, vocab)
    assert (model.encoder.positions is None) == (not cfg.model.source_positions)
    assert model.decoder.num_attention == (1 if cfg.model.attention_layers else len(model.decoder.blocks))


@pytest.mark.parametrize("task", sorted(BYO_TASKS))
def test_bring_your_own_data_tasks_name_the_missing_files(task: str, tmp_path: Path) -> None:
    # external/ is the session's empty folder (tests/conftest.py)
    source, target = BYO_TASKS[task]
    missing = rf"not distributed.*/external/{task}/train\.{source}.*/external/{task}/test\.{target}"
    with pytest.raises(DataError, match=missing):
        experiment.run(PAPER, task, "paper", options=RunOptions(run_root=tmp_path / "runs", progress=False))


def test_the_card_has_every_task_and_the_claims_name_them() -> None:
    tasks = {r.task: r for r in CARD.reported}
    assert set(tasks) == set(ALL_TASKS)
    assert all(tasks[t].value is None for t in SMOKE_TASKS)
    assert {t: tasks[t].value for t in BYO_TASKS} == {"wmt14_en_de": 25.16, "wmt14_en_fr": 40.51, "wmt16_en_ro": 30.02}
    checked = {c.check.than for c in CARD.claims if c.check is not None and c.check.than}
    assert checked == {"multi30k_no_positions", "multi30k_last_attention"}
    assert all(c.scale == "reduced" for c in CARD.claims)


def test_config_errors_name_the_key() -> None:
    entry = {"data": {"dataset": "wmt17"}}
    with pytest.raises(ConfigError, match=r"t\.data: data\.dataset: 'wmt17' is not one of"):
        from_dict(TaskConfig, entry, "t")
    entry = {"data": {"dataset": "multi30k"}, "model": {"encoder": [[8, 4, 1]]}}
    with pytest.raises(ConfigError, match=r"t\.model: model\.encoder: .*odd"):
        from_dict(TaskConfig, entry, "t")
    entry = {"data": {"dataset": "multi30k"}, "train": {"epochs": 1, "optimizer": "convs2s_nag"}}
    cfg = from_dict(TaskConfig, entry, "t")
    with pytest.raises(ValueError, match="convs2s_nag needs a momentum"):
        make_optimizer(torch.nn.Linear(1, 1), cfg.train)
