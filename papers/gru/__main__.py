"""``python -m papers.gru train <task> [--profile smoke|cpu|paper]``; ``python -m papers.gru tasks``.

The experiments of the GRU papers and the task family of :mod:`shared.tasks` each uses:

* ``data.kind: music``: Chung et al. (2014, Sec. 4.1), polyphonic music with minibatches of pieces
  of similar length and the mean NLL per frame as the loss; the model is a tanh, GRU or LSTM layer
  under weight noise (Sec. 4.2).
* ``data.kind: translation``: Cho et al. (2014), the RNN Encoder-Decoder, BLEU of beam search.
"""

from pathlib import Path

import torch
from torch import nn

from papers.gru.config import TaskConfig
from papers.gru.encoder_decoder import EncoderDecoder
from papers.gru.model import MusicRNN
from shared.models.weight_noise import WeightNoise
from shared.run.experiment import Paper, main
from shared.tasks.base import Task
from shared.tasks.music import PolyphonicMusic
from shared.tasks.translation import PAD, Translation


def build_task(cfg: TaskConfig, seed: int, device: torch.device) -> Task:
    d, batch_size = cfg.data, cfg.train.batch_size
    limits = {"limit_train": d.limit_train, "limit_eval": d.limit_eval}
    if d.kind == "music":
        return PolyphonicMusic(d.dataset, batch_size, device, "length_buckets", "mean", d.eval_batch_size, **limits)
    return Translation(
        d.dataset,
        batch_size,
        device,
        d.source,
        d.target,
        d.vocab_size,
        d.max_len,
        d.eval_batch_size,
        d.beam_size,
        d.max_decode_len,
        subword=d.subword,
        **limits,
    )


def build_model(cfg: TaskConfig, task: Task) -> nn.Module:
    m = cfg.model
    if cfg.data.kind == "music":
        return WeightNoise(MusicRNN(m.arch, m.hidden), m.weight_noise)
    return EncoderDecoder(
        m.arch, len(task.vocab_src), len(task.vocab_tgt), m.hidden, m.emb_size, m.maxout_units, pad=PAD
    )


PAPER = Paper(
    key="gru", folder=Path(__file__).resolve().parent, schema=TaskConfig, build_task=build_task, build_model=build_model
)

if __name__ == "__main__":
    raise SystemExit(main(PAPER))
