"""``python -m papers.convs2s train <task> [--profile smoke|cpu|paper]``; ``python -m papers.convs2s tasks``.

Every task is translation (:class:`shared.tasks.translation.Translation`: pairs batched by
length, the mean NLL per target token as the loss, BLEU of beam-search translations with
sacrebleu), with the ConvS2S model of :mod:`papers.convs2s.model`. The Multi30k tasks use the data,
vocabularies and evaluation of the GRU paper's encoder-decoder (``papers/gru``, tasks
``multi30k_*``), so that the two compare row for row.
"""

from pathlib import Path

import torch
from torch import nn

from papers.convs2s.config import TaskConfig
from papers.convs2s.model import ConvS2S, expand_layers
from shared.run.experiment import Paper, main
from shared.tasks.base import Task
from shared.tasks.translation import PAD, Translation


def build_task(cfg: TaskConfig, seed: int, device: torch.device) -> Task:
    d = cfg.data
    return Translation(
        d.dataset,
        cfg.train.batch_size,
        device,
        d.source,
        d.target,
        d.vocab_size,
        d.max_len,
        d.eval_batch_size,
        d.beam_size,
        d.max_decode_len,
        limit_train=d.limit_train,
        limit_eval=d.limit_eval,
        subword=d.subword,
    )


def build_model(cfg: TaskConfig, task: Task) -> nn.Module:
    m = cfg.model
    return ConvS2S(
        len(task.vocab_src),
        len(task.vocab_tgt),
        m.emb_size,
        m.out_emb_size,
        expand_layers(m.encoder),
        expand_layers(m.decoder),
        m.dropout,
        m.max_positions,
        m.source_positions,
        m.target_positions,
        m.attention_layers,
        pad=PAD,
    )


PAPER = Paper(
    key="convs2s",
    folder=Path(__file__).resolve().parent,
    schema=TaskConfig,
    build_task=build_task,
    build_model=build_model,
)

if __name__ == "__main__":
    raise SystemExit(main(PAPER))
