"""The schema of ``papers/deepspeech2/params.yaml``: one :class:`TaskConfig` per task and profile.

``data.dataset`` is ``fsdd`` (the Free Spoken Digit Dataset, here: isolated or connected digits,
optionally speaker-independent) or ``librispeech`` (bring your own data, the ``paper`` profile).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from papers.deepspeech2.model import CELLS, ConvLayer
from shared.core.config import at_least_one
from shared.tasks.speech import DECODERS, FSDD_KINDS
from shared.train.config import TrainConfig

DATASETS = ("fsdd", "librispeech")


@dataclass
class ConvConfig:
    """One convolution layer: ``kernel`` and ``stride`` are [frequency, time] for 2D, [time] for 1D."""

    channels: int
    kernel: list[int]
    stride: list[int]

    def validate(self) -> None:
        at_least_one(self, "model.conv", ("channels",))
        if any(k < 1 for k in self.kernel) or any(s < 1 for s in self.stride):
            raise ValueError(f"model.conv: kernel {self.kernel} and stride {self.stride} must be >= 1")

    def layer(self) -> ConvLayer:
        return ConvLayer(self.channels, tuple(self.kernel), tuple(self.stride))


@dataclass
class ModelConfig:
    """The convolutions (``conv_dims`` 2: time x frequency, 1: time only), ``rnn_layers``
    bidirectional layers of ``hidden`` units per direction of ``cell`` (``rnn``: clipped-ReLU
    simple RNN, ``gru``), one fully connected layer of ``fc_size``; ``batch_norm``: sequence-wise
    BN of the recurrent input terms and the convolutions."""

    conv: list[ConvConfig]
    conv_dims: int = 2
    cell: str = "rnn"
    hidden: int = 128
    rnn_layers: int = 3
    fc_size: int = 128
    batch_norm: bool = True

    def validate(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"model.cell: {self.cell!r} is not one of {', '.join(CELLS)}")
        if self.conv_dims not in (1, 2):
            raise ValueError(f"model.conv_dims: {self.conv_dims} is not 1 or 2")
        if not 1 <= len(self.conv) <= 3:
            raise ValueError(f"model.conv: {len(self.conv)} layers; the paper uses 1 to 3")
        for k, layer in enumerate(self.conv):
            if len(layer.kernel) != self.conv_dims or len(layer.stride) != self.conv_dims:
                raise ValueError(
                    f"model.conv[{k}]: a {self.conv_dims}D convolution needs {self.conv_dims} kernel and stride sizes"
                )
        at_least_one(self, "model", ("hidden", "rnn_layers", "fc_size"))


@dataclass
class DataConfig:
    """``fsdd``: ``kind`` isolated or connected (``n_train``/``n_test`` connected-digit strings drawn
    with ``data_seed``), ``holdout_speaker`` for the speaker-independent variant. ``sortagrad``: the
    first epoch in order of length. ``decoder``: ``greedy`` or ``beam`` (``beam_width``).
    ``limit_*`` shrink the data for smoke runs."""

    dataset: str
    kind: str | None = None
    holdout_speaker: str | None = None
    n_train: int | None = None
    n_test: int | None = None
    data_seed: int = 2016
    sortagrad: bool = True
    decoder: str = "greedy"
    beam_width: int = 1
    eval_batch_size: int = 64
    limit_train: int | None = None
    limit_eval: int | None = None

    def validate(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"data.dataset: {self.dataset!r} is not one of {DATASETS}")
        if self.dataset == "fsdd" and self.kind not in FSDD_KINDS:
            raise ValueError(f"data.kind: {self.kind!r} is not one of {FSDD_KINDS} (dataset fsdd)")
        if self.dataset == "librispeech" and (self.kind or self.holdout_speaker or self.n_train or self.n_test):
            raise ValueError("data.kind, holdout_speaker, n_train, n_test: settings of dataset fsdd only")
        if self.decoder not in DECODERS:
            raise ValueError(f"data.decoder: {self.decoder!r} is not one of {DECODERS}")
        at_least_one(self, "data", ("n_train", "n_test", "beam_width", "eval_batch_size", "limit_train", "limit_eval"))


@dataclass
class TaskConfig:
    """Everything one (task, profile) run needs."""

    data: DataConfig
    model: ModelConfig
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1))
