r"""The schema of ``papers/tree_lstm/params.yaml`` (one :class:`TaskConfig` per task and profile)
and the optimizer of Tai et al.'s code (``train.optimizer: adagrad_sgd_embeddings``).

Two kinds of task, named by ``data.kind``:

* ``sst``: sentiment of the Stanford Sentiment Treebank, ``fine`` or ``binary`` (Sec. 5.1;
  :class:`shared.tasks.trees.SentimentTreebank`);
* ``sick``: semantic relatedness of SICK pairs (Sec. 5.2; :class:`shared.tasks.trees.Relatedness`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch

from papers.tree_lstm.model import ARCHS, EMBEDDINGS, TREE_ARCHS
from shared.core.config import at_least_one, check_probabilities
from shared.tasks.trees import PARSES, SUBTASKS, VOCABULARIES
from shared.train.config import TrainConfig
from shared.train.optimizers import register_optimizer

DATA_KINDS = ("sst", "sick")
#: Tai et al.'s optimizer: AdaGrad with L2 on the model, plain SGD on the word vectors.
ADAGRAD_SGD_EMBEDDINGS = "adagrad_sgd_embeddings"
#: Marks the word-embedding weight for :class:`AdagradSGDEmbeddings` (an attribute of the Parameter).
EMBEDDING_MARK = "word_embedding"


class AdagradSGDEmbeddings(torch.optim.Optimizer):
    r"""The update of Tai et al.'s Torch7 code (``sentiment/TreeLSTMSentiment.lua``,
    ``relatedness/TreeLSTMSim.lua``): the model's parameters by AdaGrad (Duchi et al. 2011; Torch's
    ``optim.adagrad``, no lr decay) on the gradient of the loss plus the L2 term
    :math:`\frac{\lambda}{2}\|\theta\|^2`,

    .. math::

        g_t = \nabla_\theta J + \lambda \theta_{t-1}, \qquad
        G_t = G_{t-1} + g_t^2, \qquad
        \theta_t = \theta_{t-1} - \eta\, g_t / (\sqrt{G_t} + 10^{-10}),

    and the word vectors (the parameters marked :data:`EMBEDDING_MARK`) by plain SGD with their
    own learning rate and no L2 (``emb:updateParameters(emb_learning_rate)``). Paper: AdaGrad,
    :math:`\eta = 0.05`, :math:`\lambda = 10^{-4}`, minibatches of 25 (Sec. 5.3); the word vectors
    at 0.1 for sentiment and frozen for relatedness (official defaults).
    """

    def __init__(
        self, params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float, embedding_lr: float
    ) -> None:
        params = list(params)
        words = [p for p in params if getattr(p, EMBEDDING_MARK, False)]
        others = [p for p in params if not getattr(p, EMBEDDING_MARK, False)]
        groups = [{"params": others, "lr": lr, "weight_decay": weight_decay, "adagrad": True}]
        if words:
            groups.append({"params": words, "lr": embedding_lr, "weight_decay": 0.0, "adagrad": False})
        super().__init__(groups, {})

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if not group["adagrad"]:
                    p.add_(p.grad, alpha=-group["lr"])
                    continue
                grad = p.grad.add(p, alpha=group["weight_decay"])
                state = self.state[p]
                if not state:
                    state["sum"] = torch.zeros_like(p)
                state["sum"].addcmul_(grad, grad)
                p.addcdiv_(grad, state["sum"].sqrt().add_(1e-10), value=-group["lr"])
        return loss


@dataclass
class TreeTrainConfig(TrainConfig):
    """:class:`shared.train.config.TrainConfig` plus ``embedding_lr``, the word vectors' SGD
    learning rate under ``adagrad_sgd_embeddings`` (0: frozen vectors, not even differentiated)."""

    embedding_lr: float = 0.1

    def validate(self) -> None:
        super().validate()
        if self.embedding_lr < 0:
            raise ValueError(f"train.embedding_lr: {self.embedding_lr} must be >= 0 (0: frozen word vectors)")
        if self.embedding_lr and self.optimizer != ADAGRAD_SGD_EMBEDDINGS:
            raise ValueError(f"train.embedding_lr: a setting of the optimizer {ADAGRAD_SGD_EMBEDDINGS}")


def _adagrad_sgd_embeddings(params: list[torch.nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    return AdagradSGDEmbeddings(params, cfg.lr, cfg.weight_decay, getattr(cfg, "embedding_lr", 0.0))


register_optimizer(ADAGRAD_SGD_EMBEDDINGS, _adagrad_sgd_embeddings)


@dataclass
class DataConfig:
    """``kind``: ``sst`` or ``sick``. ``subtask`` (sst): ``fine`` or ``binary``; ``parse``
    (sick): the trees a tree model reads, ``dependency`` or ``constituency``; ``vocabulary``:
    ``train`` (words unseen in training read as ``<unk>``: vectors learnt here) or ``all``
    (pretrained vectors); ``phrases_per_sentence`` (sst): phrases a sequential model trains on
    per sentence; ``limit_*`` shrink the data for smoke runs."""

    kind: str
    subtask: str = "fine"
    parse: str = "dependency"
    vocabulary: str = "train"
    phrases_per_sentence: int = 4
    eval_batch_size: int = 256
    limit_train: int | None = None
    limit_eval: int | None = None

    def validate(self) -> None:
        for name, value, allowed in (
            ("kind", self.kind, DATA_KINDS),
            ("subtask", self.subtask, SUBTASKS),
            ("parse", self.parse, PARSES),
            ("vocabulary", self.vocabulary, VOCABULARIES),
        ):
            if value not in allowed:
                raise ValueError(f"data.{name}: {value!r} is not one of {allowed}")
        if self.phrases_per_sentence < 0:
            raise ValueError(f"data.phrases_per_sentence: {self.phrases_per_sentence} must be >= 0")
        at_least_one(self, "data", ("eval_batch_size", "limit_train", "limit_eval"))


@dataclass
class ModelConfig:
    """``arch``: ``constituency`` / ``dependency`` (Tree-LSTMs), ``lstm`` / ``bilstm``;
    ``embedding``: ``random`` or ``glove`` (bring your own: ``external/glove_840b/``);
    ``embedding_size``: 300 for GloVe; ``hidden``: memory dimension :math:`d`; ``dropout``
    (sst): before the softmax; ``sim_hidden`` (sick): units of the similarity layer."""

    arch: str
    embedding: str = "random"
    embedding_size: int = 300
    hidden: int = 150
    dropout: float = 0.5
    sim_hidden: int = 50

    @property
    def reader(self) -> str:
        """What the task hands the model: ``tree`` or ``sequence``."""
        return "tree" if self.arch in TREE_ARCHS else "sequence"

    def validate(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"model.arch: {self.arch!r} is not one of {ARCHS}")
        if self.embedding not in EMBEDDINGS:
            raise ValueError(f"model.embedding: {self.embedding!r} is not one of {EMBEDDINGS}")
        if self.embedding == "glove" and self.embedding_size != 300:
            raise ValueError(f"model.embedding_size: GloVe 840B vectors have 300 features, not {self.embedding_size}")
        at_least_one(self, "model", ("embedding_size", "hidden", "sim_hidden"))
        check_probabilities(self, "model", ("dropout",))


@dataclass
class TaskConfig:
    """Everything one (task, profile) run needs."""

    data: DataConfig
    model: ModelConfig
    train: TreeTrainConfig = field(default_factory=lambda: TreeTrainConfig(epochs=10))

    def validate(self) -> None:
        if self.data.kind == "sst" and self.model.arch == "dependency":
            raise ValueError("model.arch: dependency parses of the SST are not in data/sst (PTB trees only)")
        if self.model.embedding == "glove" and self.data.vocabulary != "all":
            raise ValueError("data.vocabulary: GloVe vectors cover every split's words: set it to all")
