"""``python -m papers.on_lstm train <task> [--profile smoke|cpu|paper]``; ``python -m papers.on_lstm tasks``.

The experiments of ON-LSTM (Shen et al. 2019) and the task family of :mod:`shared.tasks` each uses:

* ``data.kind: logic``: logical inference (Sec. 5.4) on Bowman et al.'s (2015) propositional
  logic, sentence-pair classification (:func:`shared.tasks.sentence_pair.propositional_logic`),
  the ON-LSTM and its LSTM baseline as encoders (:class:`papers.on_lstm.model.PairClassifier`).
"""

from pathlib import Path

import torch
from torch import nn

from papers.on_lstm.config import TaskConfig
from papers.on_lstm.model import PairClassifier
from shared.run.experiment import Paper, main
from shared.tasks.base import Task
from shared.tasks.sentence_pair import propositional_logic


def build_task(cfg: TaskConfig, seed: int, device: torch.device) -> Task:
    d = cfg.data
    return propositional_logic(
        cfg.train.batch_size,
        device,
        max_train_ops=d.max_train_ops,
        test_ops=d.test_ops,
        valid_every=d.valid_every,
        batching=d.batching,
        eval_batch_size=d.eval_batch_size,
        limit_train=d.limit_train,
        limit_eval=d.limit_eval,
    )


def build_model(cfg: TaskConfig, task: Task) -> nn.Module:
    m = cfg.model
    return PairClassifier(
        m.arch,
        task.vocab_size,
        task.pad,
        len(task.classes),
        emb_size=m.emb_size,
        hidden=m.hidden,
        num_layers=m.num_layers,
        chunk_size=m.chunk_size,
        dropout=m.dropout,
        dropconnect=m.dropconnect,
    )


PAPER = Paper(
    key="on_lstm",
    folder=Path(__file__).resolve().parent,
    schema=TaskConfig,
    build_task=build_task,
    build_model=build_model,
)

if __name__ == "__main__":
    raise SystemExit(main(PAPER))
