"""``python -m papers.qrnn train <task> [--profile smoke|cpu|paper]``; ``python -m papers.qrnn tasks``.

The experiments of Bradbury et al. (2017) and the task family of :mod:`shared.tasks` each uses:

* ``data.kind: language_model``: word-level PTB (Sec. 3.2), truncated BPTT with the state
  carried from window to window, validation and test read as one stream;
* ``data.kind: classification``: IMDb sentiment (Sec. 3.1), reviews in length-bucketed batches.
"""

from pathlib import Path

import torch
from torch import nn

from papers.qrnn.config import TaskConfig
from papers.qrnn.model import DenselyConnectedClassifier, LSTMLanguageModel, QRNNLanguageModel
from shared.run.experiment import Paper, main
from shared.tasks.base import Task
from shared.tasks.language_model import StatefulLanguageModel
from shared.tasks.text_classification import TextClassification


def build_task(cfg: TaskConfig, seed: int, device: torch.device) -> Task:
    d, batch_size = cfg.data, cfg.train.batch_size
    if d.kind == "language_model":
        return StatefulLanguageModel(
            d.dataset, d.seq_len, batch_size, device, d.eval_chunk, d.limit_train, d.limit_eval
        )
    return TextClassification(
        d.dataset, batch_size, device, d.max_len, d.vocab_size, d.eval_batch_size, d.limit_train, d.limit_eval
    )


def build_model(cfg: TaskConfig, task: Task) -> nn.Module:
    m = cfg.model
    if cfg.data.kind == "language_model":
        if m.arch == "qrnn":
            return QRNNLanguageModel(task.vocab_size, m.hidden, m.layers, m.window, m.zoneout, m.dropout, m.init_range)
        return LSTMLanguageModel(task.vocab_size, m.hidden, m.layers, m.dropout, m.init_range)
    return DenselyConnectedClassifier(
        m.arch, task.vocab_size, m.emb_size, m.hidden, m.layers, m.window, m.dropout, task.num_classes, m.init_range
    )


PAPER = Paper(
    key="qrnn",
    folder=Path(__file__).resolve().parent,
    schema=TaskConfig,
    build_task=build_task,
    build_model=build_model,
)

if __name__ == "__main__":
    raise SystemExit(main(PAPER))
