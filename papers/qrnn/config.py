"""The schema of ``papers/qrnn/params.yaml``: one :class:`TaskConfig` per task and profile.

Two kinds of task, named by ``data.kind``:

* ``language_model``: word-level PTB (Sec. 3.2), truncated BPTT with the state carried
  (:class:`shared.tasks.language_model.StatefulLanguageModel`);
* ``classification``: IMDb sentiment (Sec. 3.1), whole reviews in length-bucketed batches
  (:class:`shared.tasks.text_classification.TextClassification`).

``model.arch`` is ``qrnn`` (the paper's model) or ``lstm`` (the comparison of equal size, trained
with the same recipe).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from shared.core.config import at_least_one, check_probabilities
from shared.tasks import text_classification
from shared.train.config import TrainConfig
from shared.train.optimizers import register_optimizer

ARCHS = ("qrnn", "lstm")
DATA_KINDS = ("language_model", "classification")
#: RMSProp with the constants of Sec. 3.1 (torch's ``rmsprop`` keeps alpha at its default 0.99).
RMSPROP = "rmsprop_alpha0.9"


def _rmsprop(params: list[torch.nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    """RMSProp of the IMDb experiment (Sec. 3.1): decay ``alpha = 0.9``, ``eps = 1e-8``; the L2
    penalty is ``weight_decay`` added to the gradient, as Chainer's ``WeightDecay`` hook does."""
    return torch.optim.RMSprop(params, lr=cfg.lr, alpha=0.9, eps=1e-8, weight_decay=cfg.weight_decay)


register_optimizer(RMSPROP, _rmsprop)


@dataclass
class DataConfig:
    """``language_model``: ``dataset`` ``ptb_word``, ``seq_len`` the unroll length (105), validation
    and test read as one stream in pieces of ``eval_chunk`` tokens. ``classification``: ``dataset``
    ``imdb``; ``max_len`` keeps each review's first tokens (``null``: whole reviews);
    ``vocab_size`` keeps the most frequent words (``null``: the prepared vocabulary, every word
    seen twice in training); ``eval_batch_size`` reviews per evaluation batch. ``limit_*`` cut
    the data (tokens for the language model, reviews for classification) for smoke runs."""

    kind: str
    dataset: str
    seq_len: int = 105
    eval_chunk: int = 4000
    max_len: int | None = None
    vocab_size: int | None = None
    eval_batch_size: int = 64
    limit_train: int | None = None
    limit_eval: int | None = None

    def validate(self) -> None:
        if self.kind not in DATA_KINDS:
            raise ValueError(f"data.kind: {self.kind!r} is not one of {DATA_KINDS}")
        known = ("ptb_word",) if self.kind == "language_model" else text_classification.DATASETS
        if self.dataset not in known:
            raise ValueError(f"data.dataset: {self.dataset!r} is not one of {', '.join(known)} for {self.kind}")
        at_least_one(
            self,
            "data",
            ("seq_len", "eval_chunk", "max_len", "vocab_size", "eval_batch_size", "limit_train", "limit_eval"),
        )


@dataclass
class ModelConfig:
    """``hidden`` units in each of ``layers`` layers; QRNN: convolution ``window`` and forget-gate
    ``zoneout`` (Sec. 2.1); ``dropout`` between layers (the language model also drops the
    embedding and the last layer's output, as Zaremba et al.). Language model: the embedding has
    ``hidden`` units and every parameter starts uniform in ``[-init_range, init_range]``.
    Classifier: ``emb_size``-dimensional embeddings learnt from scratch, starting uniform in
    ``[-init_range, init_range]`` (the layers keep their own initialisation), densely connected
    layers (Sec. 2.1)."""

    arch: str = "qrnn"
    hidden: int = 640
    layers: int = 2
    window: int = 2
    zoneout: float = 0.0
    dropout: float = 0.0
    init_range: float = 0.05
    emb_size: int = 300

    def validate(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"model.arch: {self.arch!r} is not one of {ARCHS}")
        at_least_one(self, "model", ("hidden", "layers", "window", "emb_size"))
        check_probabilities(self, "model", ("zoneout", "dropout"))
        if self.arch == "lstm" and (self.zoneout or self.window != 1):
            raise ValueError("model.zoneout and model.window are QRNN settings: an lstm needs zoneout 0 and window 1")
        if self.init_range <= 0:
            raise ValueError(f"model.init_range: {self.init_range} must be > 0")


@dataclass
class TaskConfig:
    data: DataConfig
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1))
