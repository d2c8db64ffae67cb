"""``python -m papers.tree_lstm train <task> [--profile smoke|cpu|paper]``; ``python -m papers.tree_lstm tasks``.

The experiments of Tai et al. (2015) and the task family of :mod:`shared.tasks.trees` each uses:

* ``data.kind: sst``: sentiment (Sec. 5.1), :class:`shared.tasks.trees.SentimentTreebank`, trained
  on every labelled phrase, tested on sentences; the model a :class:`papers.tree_lstm.model.SentimentClassifier`;
* ``data.kind: sick``: relatedness (Sec. 5.2), :class:`shared.tasks.trees.Relatedness`, the KL
  loss to the sparse target distribution; the model a :class:`papers.tree_lstm.model.SimilarityModel`.

The encoder (``model.arch``) decides what the task hands the model: trees (``constituency``,
``dependency``) or token sequences (``lstm``, ``bilstm``).
"""

from pathlib import Path

import torch
from torch import nn

from papers.tree_lstm.config import EMBEDDING_MARK, TaskConfig
from papers.tree_lstm.model import SentimentClassifier, SimilarityModel, WordEmbedding, build_encoder
from shared.run.experiment import Paper, main
from shared.tasks.base import Task
from shared.tasks.trees import Relatedness, SentimentTreebank


def build_task(cfg: TaskConfig, seed: int, device: torch.device) -> Task:
    d, reader = cfg.data, cfg.model.reader
    common = {
        "batch_size": cfg.train.batch_size,
        "device": device,
        "vocabulary": d.vocabulary,
        "eval_batch_size": d.eval_batch_size,
        "limit_train": d.limit_train,
        "limit_eval": d.limit_eval,
    }
    if d.kind == "sst":
        return SentimentTreebank(d.subtask, reader, phrases_per_sentence=d.phrases_per_sentence, **common)
    return Relatedness(reader, parse=d.parse, **common)


def build_model(cfg: TaskConfig, task: Task) -> nn.Module:
    m = cfg.model
    embedding = WordEmbedding(task.vocab, task.vocab_size, m.embedding_size, m.embedding)
    # The optimizer updates the word vectors apart (plain SGD at train.embedding_lr); at 0 they are frozen.
    setattr(embedding.weight, EMBEDDING_MARK, True)
    embedding.weight.requires_grad_(cfg.train.embedding_lr > 0)
    encoder = build_encoder(m.arch, embedding, m.hidden)
    if cfg.data.kind == "sst":
        return SentimentClassifier(encoder, task.num_classes, m.dropout)
    return SimilarityModel(encoder, m.sim_hidden)


PAPER = Paper(
    key="tree_lstm",
    folder=Path(__file__).resolve().parent,
    schema=TaskConfig,
    build_task=build_task,
    build_model=build_model,
)

if __name__ == "__main__":
    raise SystemExit(main(PAPER))
