"""Paper-card numbers the paper does not have, and the Adadelta optimizer of the loop."""

from __future__ import annotations

import pytest
import torch

from shared.core.config import ConfigError, from_dict
from shared.results.paper_card import PaperCard
from shared.train.config import TrainConfig
from shared.train.loop import make_optimizer

NUMBER = {
    "task": "t",
    "dataset": "d",
    "split": "test",
    "metric": "bleu",
    "metric_definition": "",
    "higher_is_better": True,
    "model": "",
    "selection": "",
    "source": "",
    "verified": False,
}
CARD = {"key": "k", "title": "", "authors": [], "year": 2014, "venue": "", "url": "", "bibtex": "", "official_code": ""}


def test_a_task_without_a_paper_number_has_a_row_but_no_reported_value() -> None:
    card = from_dict(PaperCard, {**CARD, "reported": [{**NUMBER, "value": None, "tolerance": None}]}, "card: ")
    assert card.number_for("t") is None and card.reported[0].task == "t"
    with pytest.raises(ValueError, match="no number to compare"):
        card.reported[0].within_tolerance(1.0)
    with pytest.raises(ConfigError, match="value and tolerance are both given or both null"):
        from_dict(PaperCard, {**CARD, "reported": [{**NUMBER, "value": 3.0, "tolerance": None}]}, "card: ")


def test_adadelta_uses_zeilers_constants() -> None:
    optimizer = make_optimizer(torch.nn.Linear(2, 2), TrainConfig(epochs=1, optimizer="adadelta", lr=1.0))
    assert isinstance(optimizer, torch.optim.Adadelta)
    assert optimizer.defaults["rho"] == 0.95 and optimizer.defaults["eps"] == 1e-6
