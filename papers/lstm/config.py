"""The schema of ``papers/lstm/params.yaml``.

A task is one of two kinds, named by its ``kind`` key:

* ``online``: an experiment of Hochreiter & Schmidhuber (1997), trained one sequence at a time
  by the paper's learning rule over several trials (:class:`OnlineTaskConfig`);
* ``language_model``: Zaremba et al. (2014) on PTB, trained by the shared loop
  (:class:`LanguageModelTaskConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from shared.core.config import ConfigError, at_least_one, check_probabilities, read_tasks
from shared.train.config import TrainConfig

ONLINE_DATA = ("adding", "temporal_order", "reber")


@dataclass
class OnlineDataConfig:
    """The data of a 1997 experiment.

    ``min_length`` is the adding problem's T. ``tolerance`` is the success threshold on the
    absolute error of every output at a target step (Table 11, column 6: ABS(0.04), ABS(0.3)).
    Reber: ``n_train``/``n_test`` strings per set, ``pairs`` different (train, test) pairs, trial
    ``i`` using pair ``i % pairs``. ``n_test`` is also the adding/temporal-order test set size.
    """

    kind: str
    min_length: int | None = None
    tolerance: float = 0.04
    n_test: int = 2560
    n_train: int = 256
    pairs: int = 1

    def validate(self) -> None:
        if self.kind not in ONLINE_DATA:
            raise ValueError(f"data.kind: {self.kind!r} is not one of {ONLINE_DATA}")
        if self.kind == "adding" and self.min_length is None:
            raise ValueError("data.min_length (the adding problem's T) is required")
        if self.tolerance <= 0 or self.n_test < 1 or self.n_train < 1 or self.pairs < 1:
            raise ValueError("data.tolerance, n_test, n_train and pairs must be positive")
        at_least_one(self, "data", ("min_length",))


@dataclass
class NetConfig:
    """The net of Table 10: ``blocks`` x ``block_size`` memory cells, the initial gate biases
    (one per block; ``null`` = uniform draw, "r"), which units are biased, the init interval."""

    blocks: int
    block_size: int
    init_range: float = 0.1
    input_gate_bias: list[float] | None = None
    output_gate_bias: list[float] | None = None
    bias_units: str = "all"
    truncate: bool = True

    def validate(self) -> None:
        at_least_one(self, "model", ("blocks", "block_size"))


@dataclass
class OnlineTrainConfig:
    """Online training (Table 11). ``stop_error``: ST3's beta (mean error of the last ``window``
    sequences below it and all of them correct); ``null`` for Reber, whose success is checked on
    the whole training and test sets every ``check_every`` sequences. A trial that has not
    succeeded after ``max_sequences`` counts as failed. ``chunk``: sequences generated and
    trained per call of the compiled learner (a checkpoint is written after each)."""

    lr: float
    max_sequences: int
    seeds: list[int]
    stop_error: float | None = None
    window: int = 2000
    check_every: int = 10
    chunk: int = 2000
    per_step: bool = True

    def validate(self) -> None:
        if self.lr <= 0 or self.max_sequences < 1 or self.window < 1 or self.check_every < 1 or self.chunk < 1:
            raise ValueError("train.lr, max_sequences, window, check_every and chunk must be positive")
        if not self.seeds:
            raise ValueError("train.seeds: at least one trial is needed")


@dataclass
class OnlineTaskConfig:
    kind: str
    data: OnlineDataConfig
    model: NetConfig
    train: OnlineTrainConfig


@dataclass
class LMDataConfig:
    """PTB word level: ``seq_len`` is the unroll length (20 or 35); evaluation runs the whole
    split as one stream in pieces of ``eval_chunk`` tokens; ``limit_*`` cut tokens (smoke)."""

    dataset: str = "ptb_word"
    seq_len: int = 20
    eval_chunk: int = 4000
    limit_train: int | None = None
    limit_eval: int | None = None

    def validate(self) -> None:
        if self.dataset != "ptb_word":
            raise ValueError(f"data.dataset: only ptb_word is supported, got {self.dataset!r}")
        at_least_one(self, "data", ("seq_len", "eval_chunk", "limit_train", "limit_eval"))


@dataclass
class LMModelConfig:
    hidden: int = 200
    layers: int = 2
    dropout: float = 0.0
    init_range: float = 0.1

    def validate(self) -> None:
        check_probabilities(self, "model", ("dropout",))
        at_least_one(self, "model", ("hidden", "layers"))


@dataclass
class LanguageModelTaskConfig:
    kind: str
    data: LMDataConfig = field(default_factory=LMDataConfig)
    model: LMModelConfig = field(default_factory=LMModelConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1))


SCHEMAS: dict[str, type] = {"online": OnlineTaskConfig, "language_model": LanguageModelTaskConfig}


def task_kind(params_path: Path, task: str) -> str:
    """The ``kind`` of ``tasks.<task>`` in ``params_path`` (an error names a bad or missing one)."""
    tasks = read_tasks(params_path)
    if task not in tasks:
        raise ConfigError(f"{params_path}: tasks.{task}: unknown task (known: {', '.join(sorted(tasks))})")
    kind = tasks[task].get("kind")
    if kind not in SCHEMAS:
        raise ConfigError(f"{params_path}: tasks.{task}.kind: {kind!r} is not one of {', '.join(SCHEMAS)}")
    return kind
