"""The schema of ``papers/on_lstm/params.yaml``: one :class:`TaskConfig` per task and profile."""

from __future__ import annotations

from dataclasses import dataclass, field

import papers.on_lstm.recipe  # noqa: F401  (registers the recipe's optimizer and schedule)
from papers.on_lstm.model import ARCHS
from shared.core.config import at_least_one
from shared.data import propositional_logic
from shared.tasks.sentence_pair import BATCHINGS
from shared.train.config import TrainConfig

DATA_KINDS = ("logic",)


@dataclass
class ModelConfig:
    """``arch``: the encoder, ``onlstm`` or the ``lstm`` baseline; ``emb_size``, ``hidden``,
    ``num_layers``: its sizes; ``chunk_size``: the ON-LSTM's neurons per master-gate dimension;
    ``dropout``: on embeddings, between layers and in the MLP; ``dropconnect``: the ON-LSTM's
    DropConnect on its recurrent weights."""

    arch: str = "onlstm"
    emb_size: int = 128
    hidden: int = 400
    num_layers: int = 1
    chunk_size: int = 10
    dropout: float = 0.2
    dropconnect: float = 0.0

    def validate(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"model.arch: {self.arch!r} is not one of {ARCHS}")
        at_least_one(self, "model", ("emb_size", "hidden", "num_layers", "chunk_size"))
        if self.arch == "onlstm" and self.hidden % self.chunk_size:
            raise ValueError(f"model.hidden ({self.hidden}) must be a multiple of model.chunk_size ({self.chunk_size})")
        for name in ("dropout", "dropconnect"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"model.{name}: {getattr(self, name)} is not in [0, 1)")
        if self.arch == "lstm" and self.dropconnect:
            raise ValueError("model.dropconnect: only the onlstm encoder has DropConnect")


@dataclass
class DataConfig:
    """``kind: logic``: Bowman et al.'s propositional logic (Sec. 5.4); train on the pairs with at
    most ``max_train_ops`` operators (every ``valid_every``-th held out for validation), test on
    each operator count of ``test_ops``. ``batching``: ``random`` (official) or ``length_buckets``.
    ``limit_*`` shrink the data for smoke runs."""

    kind: str = "logic"
    max_train_ops: int = 6
    test_ops: list[int] = field(default_factory=lambda: list(range(1, 13)))
    valid_every: int = 10
    batching: str = "random"
    eval_batch_size: int = 256
    limit_train: int | None = None
    limit_eval: int | None = None

    def validate(self) -> None:
        if self.kind not in DATA_KINDS:
            raise ValueError(f"data.kind: {self.kind!r} is not one of {DATA_KINDS}")
        if self.batching not in BATCHINGS:
            raise ValueError(f"data.batching: {self.batching!r} is not one of {BATCHINGS}")
        buckets = range(propositional_logic.MAX_BUCKET + 1)
        if self.max_train_ops not in buckets or not self.test_ops or not set(self.test_ops) <= set(buckets):
            raise ValueError(f"data.max_train_ops and data.test_ops: operator counts in 0..{buckets[-1]}")
        if self.valid_every < 2:
            raise ValueError(f"data.valid_every: {self.valid_every} must be >= 2")
        at_least_one(self, "data", ("eval_batch_size", "limit_train", "limit_eval"))


@dataclass
class TaskConfig:
    """Everything one (task, profile) run needs."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1))
