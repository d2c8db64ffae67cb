"""``python -m papers.sliced_rnn train <task> [--profile smoke|cpu|paper]``; ``python -m papers.sliced_rnn tasks``.

Every task of Yu & Liu (2018) is document classification: the task family
:class:`shared.tasks.text_classification.TextClassification` (length-bucketed batches of
right-padded documents, cross-entropy, accuracy), with each document cut to its last
``model.max_len`` words, the model's :math:`T`.
"""

from pathlib import Path

import torch
from torch import nn

from papers.sliced_rnn.config import TaskConfig
from papers.sliced_rnn.model import SlicedClassifier
from shared.run.experiment import Paper, main
from shared.tasks.text_classification import TextClassification


def build_task(cfg: TaskConfig, seed: int, device: torch.device) -> TextClassification:
    d = cfg.data
    return TextClassification(
        d.dataset,
        cfg.train.batch_size,
        device,
        max_len=cfg.model.max_len,
        vocab_size=d.vocab_size,
        eval_batch_size=d.eval_batch_size,
        limit_train=d.limit_train,
        limit_eval=d.limit_eval,
    )


def build_model(cfg: TaskConfig, task: TextClassification) -> nn.Module:
    m = cfg.model
    return SlicedClassifier(task.vocab_size, task.num_classes, m.emb_size, m.hidden, m.n, m.k, m.max_len, m.activation)


PAPER = Paper(
    key="sliced_rnn",
    folder=Path(__file__).resolve().parent,
    schema=TaskConfig,
    build_task=build_task,
    build_model=build_model,
)

if __name__ == "__main__":
    raise SystemExit(main(PAPER))
