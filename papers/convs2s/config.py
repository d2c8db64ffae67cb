"""The schema of ``papers/convs2s/params.yaml`` (one :class:`TaskConfig` per task and profile), and
the two pieces of the paper's training recipe (Sec. 4.2) that the shared registries lack,
registered under their own names when this module is imported:

* optimizer ``convs2s_nag``: Nesterov's accelerated gradient, torch's ``SGD(nesterov=True)`` with
  ``train.momentum`` (the paper: 0.99); the run ends once the learning rate has fallen below 1e-4
  ("until it falls below 1e-4": ``train.stop_lr`` in params.yaml). Deviation flag: fairseq's own NAG keeps its
  momentum buffer in units of the step (it is rescaled when the lr changes); torch's is in units of
  the gradient, so right after a decay the first steps differ. At a constant lr the two are the
  same update.
* schedule ``convs2s_anneal``: "once the validation perplexity stops improving, we reduce the
  learning rate by an order of magnitude after each epoch": from the first epoch whose validation
  loss is no better than the best before it, the lr is multiplied by ``schedule.factor`` at the end
  of that epoch and of every later one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from shared.core.config import at_least_one, check_probabilities
from shared.tasks import subword, translation
from shared.train.config import TrainConfig
from shared.train.optimizers import register_optimizer, registered_optimizers
from shared.train.schedules import ScheduleConfig, register_schedule, registered_schedules


@dataclass
class ModelConfig:
    """``emb_size``: token and position embeddings (the paper: 512); ``out_emb_size``: the decoder's
    output embedding before the softmax layer; ``encoder`` / ``decoder``: blocks of residual GLU
    convolutions as ``[channels, kernel width, how many]``, bottom first (the paper's WMT'14 En-De
    stack, "512 units in the first ten layers, 768 in the next three, then two 2048-unit layers of
    width 1", is ``[[512, 3, 10], [768, 3, 3], [2048, 1, 2]]``); ``dropout``: the rate on the
    embeddings, the input of every convolution and the decoder's output; ``max_positions``: the
    longest sequence the position embeddings cover.

    Ablations: ``source_positions`` / ``target_positions`` off removes the position embeddings of
    that side (Table 4); ``attention_layers`` names the 1-based decoder blocks that attend
    (``null``: every block, the paper's multi-step attention; Table 5).
    """

    emb_size: int = 512
    out_emb_size: int = 512
    encoder: list[list[int]] = field(default_factory=lambda: [[512, 3, 20]])
    decoder: list[list[int]] = field(default_factory=lambda: [[512, 3, 20]])
    dropout: float = 0.1
    max_positions: int = 1024
    source_positions: bool = True
    target_positions: bool = True
    attention_layers: list[int] | None = None

    def validate(self) -> None:
        at_least_one(self, "model", ("emb_size", "out_emb_size", "max_positions"))
        check_probabilities(self, "model", ("dropout",))
        for side in ("encoder", "decoder"):
            blocks = getattr(self, side)
            if not blocks or any(len(b) != 3 or min(b) < 1 for b in blocks):
                raise ValueError(f"model.{side}: {blocks} must be a non-empty list of [channels, kernel, count] >= 1")
        if any(k % 2 == 0 for _, k, _ in self.encoder):
            raise ValueError(f"model.encoder: {self.encoder}: kernel widths must be odd (centred convolutions)")
        if self.attention_layers is not None:
            depth = sum(count for _, _, count in self.decoder)
            if not self.attention_layers or not set(self.attention_layers) <= set(range(1, depth + 1)):
                raise ValueError(f"model.attention_layers: {self.attention_layers} must name decoder blocks 1..{depth}")


@dataclass
class DataConfig:
    """The translation task (:class:`shared.tasks.translation.Translation`): ``dataset``
    (``multi30k``, prepared here, or a corpus you bring: ``wmt14_en_de``, ``wmt14_en_fr``,
    ``wmt16_en_ro``), from ``source`` to ``target``; ``vocab_size`` most frequent words per
    language, or with ``subword: bpe`` the size of one joint BPE vocabulary (the paper: 40K);
    ``max_len`` drops longer training pairs; ``beam_size`` (1: greedy) and ``max_decode_len`` for
    the scored translations. ``limit_*`` shrink the data for smoke runs."""

    dataset: str
    source: str = "en"
    target: str = "de"
    vocab_size: int | None = None
    subword: str | None = None
    max_len: int | None = None
    beam_size: int = 5
    max_decode_len: int = 80
    eval_batch_size: int = 16
    limit_train: int | None = None
    limit_eval: int | None = None

    def validate(self) -> None:
        if self.dataset not in translation.DATASETS:
            raise ValueError(f"data.dataset: {self.dataset!r} is not one of {', '.join(translation.DATASETS)}")
        if self.subword is not None and self.subword not in subword.KINDS:
            raise ValueError(f"data.subword: {self.subword!r} is not one of {', '.join(subword.KINDS)} (or null)")
        at_least_one(
            self,
            "data",
            ("vocab_size", "max_len", "beam_size", "max_decode_len", "eval_batch_size", "limit_train", "limit_eval"),
        )


@dataclass
class TaskConfig:
    """Everything one (task, profile) run needs."""

    data: DataConfig
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1))


def nesterov(params: list[torch.nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    """Nesterov's accelerated gradient with momentum ``cfg.momentum`` (Sec. 4.2: 0.99)."""
    if cfg.momentum <= 0:
        raise ValueError(f"train.momentum: {cfg.momentum}; convs2s_nag needs a momentum > 0 (the paper: 0.99)")
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay)


def anneal(cfg: ScheduleConfig, epoch: int, valid_loss: float | None, history: Sequence[float]) -> bool:
    """Whether to decay now: once some epoch's validation loss was no better than every one before
    it, at that epoch and every later one (a pure function of the losses: exact resume)."""
    if valid_loss is None:
        return False
    losses = [*history, valid_loss]
    return any(loss >= min(losses[:i]) for i, loss in enumerate(losses) if i > 0)


if "convs2s_nag" not in registered_optimizers():
    register_optimizer("convs2s_nag", nesterov)
if "convs2s_anneal" not in registered_schedules():
    register_schedule("convs2s_anneal", anneal)
