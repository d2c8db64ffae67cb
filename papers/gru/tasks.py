"""Per-task data, loss and metric wiring (the :class:`shared.train.loop.Task` protocol).

* :class:`MusicTask`: Chung et al. (2014, Sec. 4.1), polyphonic music, NLL per frame.
* :class:`TranslationTask`: Cho et al. (2014), the RNN Encoder-Decoder, BLEU of beam search.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from papers.gru.config import TaskConfig
from papers.gru.model import MusicRNN
from shared.data import polyphonic_music
from shared.metrics import frame_nll
from shared.train.loop import evaluation_mode
from shared.weight_noise import WeightNoise


def length_batches(lengths: list[int], batch_size: int, generator: torch.Generator, pool: int = 8) -> list[list[int]]:
    """Random batches of similar lengths (less padding): shuffle, sort each pool of
    ``pool * batch_size`` indices by length, cut it into batches, shuffle the batches. Drawn
    from ``generator`` only (exact resume)."""
    order = torch.randperm(len(lengths), generator=generator).tolist()
    batches = []
    for start in range(0, len(order), pool * batch_size):
        chunk = sorted(order[start : start + pool * batch_size], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def padded(rolls: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs ``x_{1..T-1}``, targets ``x_{2..T}`` (both ``(N, L, 88)``, zero-padded at the end)
    and the ``(N, L)`` mask of real target frames, for pieces of different lengths."""
    inputs = pad_sequence([r[:-1] for r in rolls], batch_first=True)
    targets = pad_sequence([r[1:] for r in rolls], batch_first=True)
    lengths = torch.tensor([len(r) - 1 for r in rolls], device=inputs.device)
    mask = torch.arange(inputs.size(1), device=inputs.device)[None, :] < lengths[:, None]
    return inputs, targets, mask


def bernoulli_baseline_nll(train: list[torch.Tensor], test: list[torch.Tensor]) -> float:
    """NLL per frame of the frame-independent model: each pitch is on with its training-set
    frequency (add-one smoothed), whatever came before (the floor a sequence model must beat).
    Frames are scored as the models score them (all but each piece's first)."""
    frames = torch.cat(train)
    p = (frames.sum(0) + 1) / (len(frames) + 2)
    logits = torch.log(p) - torch.log1p(-p)
    targets = torch.cat([roll[1:] for roll in test])
    return frame_nll(logits.expand_as(targets), targets).mean().item()


class MusicTask:
    """Chung et al. (2014, Sec. 4.1): predict each frame of a piano roll from the frames before
    it; the metric is the negative log-likelihood per frame (nats, summed over the 88 pitches,
    averaged over every predicted frame of the split).

    Training: minibatches of whole pieces of similar length (zero-padded, padding masked out),
    the loss the mean NLL per real frame. Weight noise (``model.weight_noise``) perturbs every
    weight at each update (:class:`shared.weight_noise.WeightNoise`).
    """

    metric = "nll_per_frame"
    higher_is_better = False
    has_valid = True

    def __init__(self, cfg: TaskConfig, seed: int, device: torch.device) -> None:
        self.cfg = cfg
        d = cfg.data
        data = polyphonic_music.load(d.dataset)
        cut = {"train": d.limit_train, "valid": d.limit_eval, "test": d.limit_eval}
        self.splits = {split: [r.to(device) for r in data[split][: cut[split]]] for split in ("train", "valid", "test")}
        short = [split for split, rolls in self.splits.items() if any(len(r) < 2 for r in rolls)]
        if short:
            raise ValueError(f"{d.dataset}: the {short[0]} split has a piece of fewer than 2 frames")
        self.lengths = [len(r) for r in self.splits["train"]]

    def build_model(self) -> nn.Module:
        m = self.cfg.model
        return WeightNoise(MusicRNN(m.arch, m.hidden), m.weight_noise)

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[list[int]]:
        return length_batches(self.lengths, self.cfg.train.batch_size, generator)

    def _nll_sum(self, model: nn.Module, rolls: list[torch.Tensor]) -> tuple[torch.Tensor, int]:
        inputs, targets, mask = padded(rolls)
        nll = frame_nll(model(inputs), targets)
        return nll.masked_select(mask).sum(), int(mask.sum())

    def train_loss(self, model: nn.Module, batch: list[int]) -> torch.Tensor:
        total, frames = self._nll_sum(model, [self.splits["train"][i] for i in batch])
        return total / frames

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        rolls = sorted(self.splits[split], key=len)  # similar lengths together: less padding
        size = self.cfg.data.eval_batch_size
        total, frames = 0.0, 0
        with evaluation_mode(model):
            for start in range(0, len(rolls), size):
                nll, n = self._nll_sum(model, rolls[start : start + size])
                total, frames = total + nll.item(), frames + n
        nll = total / frames
        return {"loss": nll, "nll_per_frame": nll}


def build_task(cfg: TaskConfig, seed: int, device: torch.device) -> MusicTask:
    """The task object for ``cfg.data.kind``."""
    if cfg.data.kind == "music":
        return MusicTask(cfg, seed, device)
    from papers.gru.translation import TranslationTask

    return TranslationTask(cfg, seed, device)
