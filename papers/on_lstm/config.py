"""The schemas of ``papers/on_lstm/params.yaml``, one per kind of task (``data.kind``):
:class:`TaskConfig` for logical inference (``logic``), :class:`LanguageModelTaskConfig` for the
language model and the parsing evaluation of its weights (``language_model``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import papers.on_lstm.recipe  # noqa: F401  (registers the recipes' optimizers and schedule)
from papers.on_lstm.model import ARCHS
from shared.core.config import ConfigError, at_least_one, check_probabilities, read_tasks
from shared.data import propositional_logic
from shared.models.awd_language_model import AWDModelConfig
from shared.tasks.language_model import AWDRecipeDataConfig, AWDRecipeLossConfig
from shared.tasks.sentence_pair import BATCHINGS
from shared.train.config import TrainConfig


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
        check_probabilities(self, "model", ("dropout", "dropconnect"))
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
        if self.kind != "logic":
            raise ValueError(f"data.kind: {self.kind!r}: this schema is logical inference's (logic)")
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


# ---------------------------------------------------------------------------- language model


@dataclass
class LanguageModelDataConfig(AWDRecipeDataConfig):
    """Word-level PTB read as :class:`AWDRecipeDataConfig` says (windows of random length around
    ``bptt`` 70, validation in 10 streams, test in 1: the official ``main.py``)."""

    kind: str = "language_model"

    def validate(self) -> None:
        if self.kind != "language_model":
            raise ValueError(f"data.kind: {self.kind!r}: this schema is the language model's (language_model)")
        if self.dataset != "ptb_word":
            raise ValueError(f"data.dataset: {self.dataset!r}: the parser reads PTB's vocabulary (ptb_word)")
        super().validate()


@dataclass
class LanguageModelConfig(AWDModelConfig):
    """The language model (``model.py``): :class:`AWDModelConfig` with ON-LSTM's defaults (the
    official PTB command) and ``chunk_size``, the neurons per master-gate dimension."""

    dropout: float = 0.45
    dropout_input: float = 0.5
    weight_drop: float = 0.45
    chunk_size: int = 10

    def validate(self) -> None:
        at_least_one(self, "model", ("chunk_size",))
        for size in ("embedding_size", "hidden_size"):
            if getattr(self, size) % self.chunk_size:
                raise ValueError(f"model.{size} ({getattr(self, size)}) must be a multiple of model.chunk_size")
        super().validate()


@dataclass
class LanguageModelLossConfig(AWDRecipeLossConfig):
    """AR and TAR as :class:`AWDRecipeLossConfig`, with AR on the last layer's output before its
    dropout by default, as the official ON-LSTM code does."""

    ar_after_dropout: bool = False


@dataclass
class ParseConfig:
    """The parsing evaluation of the test weights (shared.tasks.parsing.ParsingEvaluation):
    sentences of one length read ``batch_size`` at a time, only the first ``limit`` sentences of
    the WSJ sample (``null``: all 3,914), ``draws`` of each random baseline."""

    batch_size: int = 64
    limit: int | None = None
    draws: int = 5

    def validate(self) -> None:
        at_least_one(self, "parse", ("batch_size", "limit"))
        if self.draws < 2:
            raise ValueError(f"parse.draws: {self.draws} must be >= 2 (for a standard deviation)")


@dataclass
class LanguageModelTrainConfig(TrainConfig):
    """:class:`shared.train.config.TrainConfig` plus ``restart_averaging_after``, the official
    ``--finetuning`` of the optimizer ``nt_asgd_restart`` (``recipe.py``)."""

    restart_averaging_after: int | None = None

    def validate(self) -> None:
        super().validate()
        if self.restart_averaging_after is not None:
            if self.optimizer != "nt_asgd_restart":
                raise ValueError("train.restart_averaging_after: a setting of the optimizer nt_asgd_restart")
            if not 1 <= self.restart_averaging_after < self.epochs:
                raise ValueError(f"train.restart_averaging_after: {self.restart_averaging_after} not in [1, epochs)")


@dataclass
class LanguageModelTaskConfig:
    """The language model (Sec. 5.1) and the parsing evaluation of its weights (Sec. 5.2)."""

    data: LanguageModelDataConfig = field(default_factory=LanguageModelDataConfig)
    model: LanguageModelConfig = field(default_factory=LanguageModelConfig)
    loss: LanguageModelLossConfig = field(default_factory=LanguageModelLossConfig)
    parse: ParseConfig = field(default_factory=ParseConfig)
    train: LanguageModelTrainConfig = field(default_factory=lambda: LanguageModelTrainConfig(epochs=1))


SCHEMAS: dict[str, type] = {"logic": TaskConfig, "language_model": LanguageModelTaskConfig}


def schema_for(params_path: Path, task: str) -> type:
    """The schema of ``tasks.<task>``'s ``data.kind`` in ``params_path``."""
    tasks = read_tasks(params_path)
    if task not in tasks:
        raise ConfigError(f"{params_path}: tasks.{task}: unknown task (known: {', '.join(sorted(tasks))})")
    kind = (tasks[task].get("data") or {}).get("kind")
    if kind not in SCHEMAS:
        raise ConfigError(f"{params_path}: tasks.{task}.data.kind: {kind!r} is not one of {', '.join(SCHEMAS)}")
    return SCHEMAS[kind]
