"""The schema of ``papers/indrnn/params.yaml``: one :class:`TaskConfig` per task and profile.

Three kinds of task, named by ``data.kind``:

* ``adding``: the adding problem (Sec. 5.1), a fresh training set every epoch
  (:class:`shared.tasks.synthetic.AddingProblem` with ``fresh_train``, markers one per half);
* ``mnist``: sequential or permuted pixel MNIST (Sec. 5.2, :class:`shared.tasks.classification.PixelMnist`);
* ``language_model``: char-level PTB (Sec. 5.3.1), truncated BPTT with the state carried
  (:class:`shared.tasks.language_model.StatefulLanguageModel`).

``model.arch`` is ``indrnn`` (the paper's model) or, for the adding problem only, one of the
one-layer baselines of Fig. 2: ``rnn`` (tanh) or ``lstm``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from papers.indrnn.model import NORMS
from shared.core.config import at_least_one, check_probabilities
from shared.train.config import TrainConfig

ARCHS = ("indrnn", "rnn", "lstm")
DATA_KINDS = ("adding", "mnist", "language_model")
#: What the language-model kind reads (the paper's Sec. 5.3.1; word-level PTB is not a task here).
LM_DATASETS = ("ptb_char",)


@dataclass
class DataConfig:
    """``seq_len`` is T for the adding problem and the window (unroll) length of the language
    model. Adding problem: ``n_train`` fresh examples make an epoch (``n_train / batch_size``
    steps), ``n_test`` examples drawn once from the run's seed are the test set. ``limit_*`` shrink
    the data for smoke runs."""

    kind: str
    dataset: str | None = None
    seq_len: int | None = None
    n_train: int | None = None
    n_test: int | None = None
    permute: bool = False
    permute_seed: int = 1234
    eval_batch_size: int = 500
    limit_train: int | None = None
    limit_eval: int | None = None

    def validate(self) -> None:
        if self.kind not in DATA_KINDS:
            raise ValueError(f"data.kind: {self.kind!r} is not one of {DATA_KINDS}")
        if self.kind in ("adding", "language_model") and self.seq_len is None:
            raise ValueError(f"data.seq_len is required for data.kind {self.kind!r}")
        if self.kind == "adding" and (self.n_train is None or self.n_test is None):
            raise ValueError("data.n_train and data.n_test are required for data.kind 'adding'")
        if self.kind == "adding" and self.seq_len is not None and self.seq_len < 2:
            raise ValueError(f"data.seq_len: {self.seq_len} must be >= 2 (two markers)")
        if self.kind == "language_model" and self.dataset not in LM_DATASETS:
            raise ValueError(f"data.dataset: {self.dataset!r} is not one of {', '.join(LM_DATASETS)}")
        if self.kind != "mnist" and self.permute:
            raise ValueError("data.permute: only pixel MNIST (data.kind 'mnist') has a permuted variant")
        at_least_one(self, "data", ("seq_len", "n_train", "n_test", "eval_batch_size", "limit_train", "limit_eval"))


@dataclass
class ModelConfig:
    """``hidden`` units in each of ``layers`` layers. IndRNN (``papers/indrnn/model.py``): the
    bound :math:`|u| \\le` ``gamma`` :math:`^{1/T}` with :math:`T` = ``bound_steps`` (``null``:
    the task's own, i.e. the sequence length, or the language model's whole training stream, as
    the official code), batch normalisation ``norm`` (``none``, ``frame``: over batch and time,
    ``step``: per time step), the input weights drawn from :math:`\\mathcal{N}(0,` ``input_std``
    :math:`^2)` (``null``: :math:`\\mathcal{N}(0, 1/(2 H_{in}))`), the last layer's recurrent
    weights near 1 (``last_near_one``), ``dropout`` after every layer (one mask per sequence)."""

    arch: str = "indrnn"
    hidden: int = 128
    layers: int = 2
    gamma: float = 2.0
    bound_steps: int | None = None
    norm: str = "none"
    input_std: float | None = None
    last_near_one: bool = True
    dropout: float = 0.0

    def validate(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"model.arch: {self.arch!r} is not one of {ARCHS}")
        if self.norm not in NORMS:
            raise ValueError(f"model.norm: {self.norm!r} is not one of {NORMS}")
        if not self.gamma > 1.0:
            raise ValueError(f"model.gamma: {self.gamma} must be > 1 (the bound gamma^(1/T) must exceed 1)")
        if self.input_std is not None and not self.input_std > 0:
            raise ValueError(f"model.input_std: {self.input_std} must be > 0 (or null)")
        check_probabilities(self, "model", ("dropout",))
        at_least_one(self, "model", ("hidden", "layers", "bound_steps"))
        if self.arch != "indrnn":
            # The baselines of Fig. 2 are one plain layer: none of the IndRNN settings applies.
            if self.layers != 1 or self.norm != "none" or self.dropout:
                raise ValueError(
                    f"model.arch {self.arch!r}: the baselines are one layer without norm or dropout "
                    f"(got layers {self.layers}, norm {self.norm!r}, dropout {self.dropout})"
                )


@dataclass
class TaskConfig:
    data: DataConfig
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1))

    def validate(self) -> None:
        if self.model.arch != "indrnn" and self.data.kind != "adding":
            raise ValueError(f"model.arch {self.model.arch!r}: the baselines are for data.kind 'adding' only")
        if self.model.norm == "step" and self.data.kind != "language_model":
            raise ValueError("model.norm 'step' (statistics per step of a window) needs data.kind 'language_model'")
