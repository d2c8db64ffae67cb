"""The schema of ``papers/sliced_rnn/params.yaml``: one :class:`TaskConfig` per task and profile.

Every task is document classification (:class:`shared.tasks.text_classification.TextClassification`):
``data`` names the corpus and its vocabulary, ``model`` the classifier of ``model.py`` (``k: 0``
is the standard GRU, ``k >= 1`` an SRNN), ``train`` the recipe (the script's Adam, lr 1e-3,
batch 100, best-validation checkpoint).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from papers.sliced_rnn.model import check_slicing
from shared.core.config import at_least_one
from shared.models.cells.gru import CANDIDATE_ACTIVATIONS
from shared.tasks import text_classification
from shared.train.config import TrainConfig


@dataclass
class DataConfig:
    """``dataset``: a corpus of :mod:`shared.tasks.text_classification`; ``vocab_size`` keeps the
    most frequent words (``<pad>`` and ``<unk>`` included; the script: 30,000); every document is
    cut to its last ``model.max_len`` words. ``limit_*`` cut the data for smoke runs."""

    dataset: str = "imdb"
    vocab_size: int | None = 30000
    eval_batch_size: int = 100
    limit_train: int | None = None
    limit_eval: int | None = None

    def validate(self) -> None:
        if self.dataset not in text_classification.DATASETS:
            raise ValueError(f"data.dataset: {self.dataset!r} is not one of {', '.join(text_classification.DATASETS)}")
        at_least_one(self, "data", ("vocab_size", "eval_batch_size", "limit_train", "limit_eval"))


@dataclass
class ModelConfig:
    """SRNN(``n``, ``k``) of GRUs with ``hidden`` units over ``max_len`` words of ``emb_size``-d
    embeddings; ``k: 0`` is the standard GRU. ``activation``: the GRU candidate's (``linear``: the
    official script's Keras ``activation=None``; ``tanh``)."""

    emb_size: int = 200
    hidden: int = 50
    n: int = 8
    k: int = 2
    max_len: int = 512
    activation: str = "linear"

    def validate(self) -> None:
        at_least_one(self, "model", ("emb_size", "hidden"))
        if self.activation not in CANDIDATE_ACTIVATIONS:
            raise ValueError(f"model.activation: {self.activation!r} is not one of {', '.join(CANDIDATE_ACTIVATIONS)}")
        try:
            check_slicing(self.max_len, self.n, self.k)
        except ValueError as err:
            raise ValueError(f"model.{err}") from None


@dataclass
class TaskConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=10))
