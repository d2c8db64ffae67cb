"""``python -m papers.on_lstm train <task> [--profile smoke|cpu|paper]``; ``python -m papers.on_lstm tasks``.

The experiments of ON-LSTM (Shen et al. 2019) and the task family of :mod:`shared.tasks` each uses
(the schema of each ``data.kind`` is in :mod:`papers.on_lstm.config`):

* ``data.kind: language_model``: the language model of Sec. 5.1 on word-level PTB with the
  AWD-LSTM recipe as the official ``main.py`` runs it
  (:class:`shared.tasks.language_model.AWDRecipeLanguageModel`), its test weights also scored by
  unsupervised parsing of the WSJ sample from each layer's distances (Sec. 5.2,
  :class:`shared.tasks.parsing.ParsingEvaluation`): one run, one set of selected weights, both
  the perplexity and the F1s.
* ``data.kind: logic``: logical inference (Sec. 5.4) on Bowman et al.'s (2015) propositional
  logic, sentence-pair classification (:func:`shared.tasks.sentence_pair.propositional_logic`),
  the ON-LSTM and its LSTM baseline as encoders (:class:`papers.on_lstm.model.PairClassifier`).
"""

from functools import partial
from pathlib import Path

import torch
from torch import nn

from papers.on_lstm.config import LanguageModelTaskConfig, TaskConfig, schema_for
from papers.on_lstm.model import PairClassifier, onlstm_layer
from shared.run.experiment import Paper, main
from shared.tasks.base import Task
from shared.tasks.language_model import awd_recipe_task
from shared.tasks.parsing import ParsingEvaluation
from shared.tasks.sentence_pair import propositional_logic

PARAMS = Path(__file__).resolve().parent / "params.yaml"


def build_task(cfg: TaskConfig | LanguageModelTaskConfig, seed: int, device: torch.device) -> Task:
    d = cfg.data
    if isinstance(cfg, LanguageModelTaskConfig):
        p = cfg.parse
        parsing = ParsingEvaluation(cfg.model.layers, p.batch_size, p.limit, p.draws)
        return awd_recipe_task(d, cfg.loss, cfg.train.batch_size, device, parsing=parsing)
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


def build_model(cfg: TaskConfig | LanguageModelTaskConfig, task: Task) -> nn.Module:
    m = cfg.model
    if isinstance(cfg, LanguageModelTaskConfig):
        return m.build(task.vocab_size, onlstm_layer(m.chunk_size))
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
    folder=PARAMS.parent,
    schema=TaskConfig,
    build_task=build_task,
    build_model=build_model,
    schema_for=partial(schema_for, PARAMS),
)

if __name__ == "__main__":
    raise SystemExit(main(PAPER))
