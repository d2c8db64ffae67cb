"""The schema of ``papers/gru/params.yaml``: one :class:`TaskConfig` per task and profile."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.core.config import at_least_one
from shared.data import polyphonic_music
from shared.run.search import LrSearch
from shared.tasks import subword, translation
from shared.train.config import TrainConfig

ARCHS = ("gru", "lstm", "tanh")
DATA_KINDS = ("music", "translation")


@dataclass
class ModelConfig:
    """``arch``: the recurrent unit (``gru`` is Cho et al.'s, reset before the recurrent product;
    ``tanh`` a plain RNN); ``hidden``: its units; ``weight_noise``: the std of the Gaussian weight
    noise (Chung et al. Sec. 4.2), 0 for none.

    Translation only: ``emb_size`` (Cho et al.'s rank-100 factorised word matrices) and
    ``maxout_units`` (the deep output's maxout layer, Appendix A.1.2, pools of 2).
    """

    arch: str = "gru"
    hidden: int = 46
    weight_noise: float = 0.0
    emb_size: int = 100
    maxout_units: int = 500

    def validate(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"model.arch: {self.arch!r} is not one of {ARCHS}")
        at_least_one(self, "model", ("hidden", "emb_size", "maxout_units"))
        if self.weight_noise < 0:
            raise ValueError(f"model.weight_noise: {self.weight_noise} must be >= 0")


@dataclass
class DataConfig:
    """Where a task's sequences come from.

    Music: ``dataset`` is a corpus of ``shared.data.polyphonic_music.NAMES``. Translation:
    ``dataset`` is ``multi30k`` (prepared here) or ``wmt14_en_fr`` (bring your own data), from
    ``source`` to ``target`` language; ``max_len`` drops longer training pairs (tokens, either
    side); ``vocab_size`` keeps the most frequent words of each language (the rest become
    ``<unk>``; Cho et al.: 15,000), or, with ``subword`` (``bpe`` or ``unigram``, not in Cho et
    al.), is the size of one joint subword vocabulary (``shared.tasks.subword``); ``beam_size`` is
    the beam of the search that produces the scored translations, at most ``max_decode_len``
    tokens long.
    ``limit_*`` shrink the data for smoke runs.
    """

    kind: str
    dataset: str
    eval_batch_size: int = 16
    limit_train: int | None = None
    limit_eval: int | None = None
    source: str = "en"
    target: str = "de"
    max_len: int | None = None
    vocab_size: int | None = None
    beam_size: int = 10
    max_decode_len: int = 80
    subword: str | None = None

    def validate(self) -> None:
        if self.kind not in DATA_KINDS:
            raise ValueError(f"data.kind: {self.kind!r} is not one of {DATA_KINDS}")
        known = polyphonic_music.NAMES if self.kind == "music" else translation.DATASETS
        if self.dataset not in known:
            raise ValueError(f"data.dataset: {self.dataset!r} is not one of {', '.join(known)}")
        if self.subword is not None and self.subword not in subword.KINDS:
            kinds = ", ".join(subword.KINDS)
            raise ValueError(f"data.subword: {self.subword!r} is not one of {kinds} (or null: words)")
        at_least_one(
            self,
            "data",
            ("beam_size", "eval_batch_size", "limit_train", "limit_eval", "max_len", "vocab_size", "max_decode_len"),
        )


@dataclass
class TaskConfig:
    """Everything one (task, profile) run needs; ``lr_search`` picks the lr on validation."""

    data: DataConfig
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1))
    lr_search: LrSearch | None = None
