"""The schema of ``papers/awd_lstm/params.yaml``: one :class:`TaskConfig` per task and profile."""

from __future__ import annotations

from dataclasses import dataclass, field

from papers.awd_lstm.model import RECURRENT_LAYERS
from shared.core.config import at_least_one
from shared.tasks.cache_pointer import check_settings
from shared.train.config import TrainConfig

DATASETS = ("ptb_word", "wikitext2")


def _check_probability(value: float, key: str) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{key}: {value} is not in [0, 1)")


@dataclass
class DataConfig:
    """Word-level PTB or WikiText-2 read as ``train.batch_size`` streams (Sec. 5).

    ``bptt`` is the base BPTT length (70), also the chunk length of evaluation;
    ``variable_length: false`` trains on fixed windows of ``bptt`` (Table 4's "- variable
    sequence lengths"). Evaluation reads validation as ``valid_batch_size`` streams (10) and test
    as ``test_batch_size`` (1), as the official code. ``limit_*`` cut tokens (smoke, reduced-scale).
    """

    dataset: str = "ptb_word"
    bptt: int = 70
    variable_length: bool = True
    valid_batch_size: int = 10
    test_batch_size: int = 1
    limit_train: int | None = None
    limit_eval: int | None = None

    def validate(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"data.dataset: {self.dataset!r} is not one of {DATASETS}")
        at_least_one(self, "data", ("bptt", "valid_batch_size", "test_batch_size", "limit_train", "limit_eval"))


@dataclass
class ModelConfig:
    """The AWD-LSTM (``model.py``): sizes and the four dropouts plus weight drop, by the names of
    the official code's flags (``dropout``, ``dropouth``, ``dropouti``, ``dropoute``, ``wdrop``);
    ``rnn``: the recurrent layer, a key of ``model.RECURRENT_LAYERS``."""

    embedding_size: int = 400
    hidden_size: int = 1150
    layers: int = 3
    dropout: float = 0.4
    dropout_hidden: float = 0.3
    dropout_input: float = 0.4
    dropout_embedding: float = 0.1
    weight_drop: float = 0.5
    rnn: str = "lstm"

    def validate(self) -> None:
        if self.rnn not in RECURRENT_LAYERS:
            raise ValueError(f"model.rnn: {self.rnn!r} is not one of {tuple(RECURRENT_LAYERS)}")
        for name in ("dropout", "dropout_hidden", "dropout_input", "dropout_embedding", "weight_drop"):
            _check_probability(getattr(self, name), f"model.{name}")
        at_least_one(self, "model", ("embedding_size", "hidden_size", "layers"))


@dataclass
class LossConfig:
    """AR's ``alpha`` and TAR's ``beta`` (Sec. 4.6; 2 and 1); 0 leaves the term out."""

    alpha: float = 2.0
    beta: float = 1.0

    def validate(self) -> None:
        if self.alpha < 0 or self.beta < 0:
            raise ValueError(f"loss.alpha and loss.beta must be >= 0, got {self.alpha} and {self.beta}")


@dataclass
class PointerConfig:
    """The continuous cache pointer applied at evaluation (Sec. 6; Grave et al. 2017): the cache
    ``window`` (hidden states kept), ``theta`` (flatness of the attention) and ``lambdah`` (weight
    of the cache in the mixture), by the names of the official ``pointer.py``'s flags. ``window: 0``
    switches it off."""

    window: int = 0
    theta: float = 1.0
    lambdah: float = 0.1

    def validate(self) -> None:
        if self.window < 0:
            raise ValueError(f"pointer.window: {self.window} must be >= 0 (0: no cache pointer)")
        if self.window:
            check_settings(self.window, self.theta, self.lambdah)


@dataclass
class TaskConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    pointer: PointerConfig = field(default_factory=PointerConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1))
