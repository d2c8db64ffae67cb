"""The schema of ``papers/awd_lstm/params.yaml``: one :class:`TaskConfig` per task and profile."""

from __future__ import annotations

from dataclasses import dataclass, field

from papers.awd_lstm.model import RECURRENT_LAYERS
from shared.models.awd_language_model import AWDModelConfig
from shared.tasks.cache_pointer import check_settings
from shared.tasks.language_model import AWDRecipeDataConfig, AWDRecipeLossConfig
from shared.train.config import TrainConfig

DATASETS = ("ptb_word", "wikitext2")


@dataclass
class DataConfig(AWDRecipeDataConfig):
    """Word-level PTB or WikiText-2 (Sec. 5), read as :class:`AWDRecipeDataConfig` says."""

    def validate(self) -> None:
        super().validate()
        if self.dataset not in DATASETS:
            raise ValueError(f"data.dataset: {self.dataset!r} is not one of {DATASETS}")


@dataclass
class ModelConfig(AWDModelConfig):
    """The AWD-LSTM (:class:`AWDModelConfig`, AWD-LSTM's PTB defaults); ``rnn``: the recurrent
    layer, a key of ``model.RECURRENT_LAYERS``."""

    rnn: str = "lstm"

    def validate(self) -> None:
        if self.rnn not in RECURRENT_LAYERS:
            raise ValueError(f"model.rnn: {self.rnn!r} is not one of {tuple(RECURRENT_LAYERS)}")
        super().validate()


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
    loss: AWDRecipeLossConfig = field(default_factory=AWDRecipeLossConfig)
    pointer: PointerConfig = field(default_factory=PointerConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1))
