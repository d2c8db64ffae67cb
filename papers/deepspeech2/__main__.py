"""``python -m papers.deepspeech2 train <task> [--profile smoke|cpu|paper]``; ``python -m papers.deepspeech2 tasks``.

Every task is CTC speech recognition (:class:`shared.tasks.speech.SpeechRecognition`): on the Free
Spoken Digit Dataset (:func:`shared.tasks.speech.fsdd_recognition`: isolated digits, connected
digits, speaker-independent), or on LibriSpeech, brought by the user
(:func:`shared.tasks.speech.librispeech_recognition`, the ``paper`` profile).
"""

from pathlib import Path

import torch
from torch import nn

from papers.deepspeech2.config import TaskConfig
from papers.deepspeech2.model import DeepSpeech2
from shared.run.experiment import Paper, main
from shared.tasks.base import Task
from shared.tasks.speech import fsdd_recognition, librispeech_recognition


def build_task(cfg: TaskConfig, seed: int, device: torch.device) -> Task:
    d = cfg.data
    common = {
        "sortagrad": d.sortagrad,
        "decoder": d.decoder,
        "beam_width": d.beam_width,
        "eval_batch_size": d.eval_batch_size,
        "limit_train": d.limit_train,
        "limit_eval": d.limit_eval,
    }
    if d.dataset == "librispeech":
        return librispeech_recognition(cfg.train.batch_size, device, **common)
    return fsdd_recognition(
        d.kind,
        cfg.train.batch_size,
        device,
        holdout_speaker=d.holdout_speaker,
        n_train=d.n_train,
        n_test=d.n_test,
        data_seed=d.data_seed,
        **common,
    )


def build_model(cfg: TaskConfig, task: Task) -> nn.Module:
    m = cfg.model
    return DeepSpeech2(
        task.input_size,
        task.output_size,
        [layer.layer() for layer in m.conv],
        m.conv_dims,
        m.cell,
        m.hidden,
        m.rnn_layers,
        m.fc_size,
        m.batch_norm,
    )


PAPER = Paper(
    key="deepspeech2",
    folder=Path(__file__).resolve().parent,
    schema=TaskConfig,
    build_task=build_task,
    build_model=build_model,
)

if __name__ == "__main__":
    raise SystemExit(main(PAPER))
