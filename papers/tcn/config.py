"""The schema of ``papers/tcn/params.yaml``: one :class:`TaskConfig` per task and profile."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.core.config import at_least_one, check_probabilities
from shared.data import polyphonic_music
from shared.tasks import language_model
from shared.train.config import TrainConfig

ARCHS = ("tcn", "lstm", "gru", "rnn")
DATA_KINDS = ("adding", "copy_memory", "mnist", "poly_music", "language_model")


@dataclass
class ModelConfig:
    """``arch`` picks the TCN or a recurrent baseline; ``hidden`` is the TCN's channels per level
    (Table 2's "hidden") or the RNN's units; ``levels`` is the TCN's ``n`` or the RNN's layers."""

    arch: str = "tcn"
    hidden: int = 25
    levels: int = 8
    kernel_size: int = 7
    dropout: float = 0.0
    emb_size: int | None = None
    emb_dropout: float = 0.0
    tied: bool = False
    forget_bias: float | None = None

    def validate(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"model.arch: {self.arch!r} is not one of {ARCHS}")
        check_probabilities(self, "model", ("dropout",))
        at_least_one(self, "model", ("hidden", "levels", "kernel_size", "emb_size"))


@dataclass
class DataConfig:
    """Where a task's sequences come from.

    ``seq_len`` is T for the synthetic tasks and the window length for language models;
    ``valid_len`` is the number of positions of each window that are scored (the rest is the
    "effective history" of the TCN reference code). ``limit_*`` shrink the data for smoke runs.
    """

    kind: str
    dataset: str | None = None
    seq_len: int | None = None
    valid_len: int | None = None
    n_train: int | None = None
    n_test: int | None = None
    permute: bool = False
    permute_seed: int = 1234
    eval_batch_size: int = 10
    limit_train: int | None = None
    limit_eval: int | None = None

    def validate(self) -> None:
        if self.kind not in DATA_KINDS:
            raise ValueError(f"data.kind: {self.kind!r} is not one of {DATA_KINDS}")
        if self.kind in ("adding", "copy_memory", "language_model") and self.seq_len is None:
            raise ValueError(f"data.seq_len is required for data.kind {self.kind!r}")
        if self.kind in ("adding", "copy_memory") and (self.n_train is None or self.n_test is None):
            raise ValueError(f"data.n_train and data.n_test are required for data.kind {self.kind!r}")
        if self.kind in ("poly_music", "language_model") and self.dataset is None:
            raise ValueError(f"data.dataset is required for data.kind {self.kind!r}")
        if self.valid_len is not None and self.seq_len is not None and not 0 < self.valid_len <= self.seq_len:
            raise ValueError(f"data.valid_len {self.valid_len} must be in (0, seq_len={self.seq_len}]")
        known = {"poly_music": polyphonic_music.NAMES, "language_model": language_model.DATASETS}.get(self.kind)
        if known is not None and self.dataset not in known:
            raise ValueError(f"data.dataset: {self.dataset!r} is not one of {', '.join(known)}")
        at_least_one(self, "data", ("seq_len", "n_train", "n_test", "eval_batch_size", "limit_train", "limit_eval"))


@dataclass
class TaskConfig:
    """Everything one (task, profile) run needs."""

    data: DataConfig
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1))

    def validate(self) -> None:
        # The reference code's music protocol, one piece per step (build_task): the task refuses
        # any other batch size, which would otherwise surface as a traceback when training starts.
        if self.data.kind == "poly_music" and self.train.batch_size != 1:
            raise ValueError(f"train.batch_size: {self.train.batch_size} must be 1 for poly_music (one piece per step)")
