"""Per-task data, loss and metric wiring for the TCN paper's experiments (Sec. 4, Table 1).

Each task class implements the :class:`shared.train.loop.Task` protocol and builds its model
(the TCN or a recurrent baseline under the task's output head).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from papers.tcn.baselines import RecurrentEncoder
from papers.tcn.config import ModelConfig, TaskConfig
from papers.tcn.model import TCN, LanguageModel, LinearHead
from shared.data import mnist, polyphonic_music, ptb, synthetic
from shared.data.external import load_text_corpus
from shared.metrics import frame_nll
from shared.train.loop import evaluation_mode


def build_encoder(cfg: ModelConfig, input_size: int) -> nn.Module:
    if cfg.arch == "tcn":
        return TCN(input_size, [cfg.hidden] * cfg.levels, cfg.kernel_size, cfg.dropout)
    return RecurrentEncoder(cfg.arch, input_size, cfg.hidden, cfg.levels, cfg.dropout, cfg.forget_bias)


def index_batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """A random partition of ``range(n)`` into batches, drawn from ``generator`` only."""
    return list(torch.randperm(n, generator=generator).split(batch_size))


class _Task:
    """Shared plumbing: configuration, seed, device and the ``limit_*`` cuts of smoke runs."""

    metric: str
    higher_is_better = False
    has_valid = False

    def __init__(self, cfg: TaskConfig, seed: int, device: torch.device) -> None:
        self.cfg = cfg
        self.seed = seed
        self.device = device

    def _limit(self, n: int, limit: int | None) -> int:
        return n if limit is None else min(n, limit)


class _TensorTask(_Task):
    """A task whose examples are rows of in-memory tensors ``train_x/train_y/test_x/test_y``."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[torch.Tensor]:
        n = self._limit(len(self.train_x), self.cfg.data.limit_train)
        return index_batches(n, self.cfg.train.batch_size, generator)

    def batch_sums(self, output: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        """Per-batch sums that :meth:`metrics` turns into the test metrics."""
        raise NotImplementedError

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        raise NotImplementedError

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        size = self.cfg.data.eval_batch_size
        sums: dict[str, float] = {}
        with evaluation_mode(model):
            for xb, yb in zip(self.test_x.split(size), self.test_y.split(size), strict=True):
                for key, value in self.batch_sums(model(xb), yb).items():
                    sums[key] = sums.get(key, 0.0) + value
        return self.metrics(sums)


class _SyntheticTask(_TensorTask):
    """Training and test sets drawn once from the run's seed, as in the reference code."""

    def __init__(self, cfg: TaskConfig, seed: int, device: torch.device) -> None:
        super().__init__(cfg, seed, device)
        d = cfg.data
        generator = torch.Generator().manual_seed(seed)
        self.train_x, self.train_y = (t.to(device) for t in self.generate(d.n_train, d.seq_len, generator))
        n = self._limit(d.n_test, d.limit_eval)
        self.test_x, self.test_y = (t[:n].to(device) for t in self.generate(d.n_test, d.seq_len, generator))

    def generate(self, n: int, seq_len: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` examples as batch-first ``(inputs, targets)``."""
        raise NotImplementedError


class AddingTask(_SyntheticTask):
    """The adding problem (Sec. 4): regress the sum of the two marked values; loss and metric MSE
    (50,000 training and 1,000 test sequences in the reference code)."""

    metric = "mse"

    def generate(self, n: int, seq_len: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = synthetic.adding_problem(n, seq_len, generator)
        return x.transpose(1, 2), y

    def build_model(self) -> nn.Module:
        return LinearHead(build_encoder(self.cfg.model, 2), 1, last_step=True)

    def train_loss(self, model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(model(self.train_x[idx]), self.train_y[idx])

    def batch_sums(self, output: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        return {"squared_error": F.mse_loss(output, target, reduction="sum").item()}

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        mse = sums["squared_error"] / len(self.test_y)
        return {"loss": mse, "mse": mse}


class CopyMemoryTask(_SyntheticTask):
    """Copy memory (Sec. 4): recall 10 symbols after T blanks; loss and metric cross-entropy
    averaged over all T + 20 positions, plus the accuracy on the 10 recalled symbols (Sec. 5.4).

    The symbols enter the network as one real-valued channel (the reference code's encoding).
    """

    metric = "cross_entropy"

    def generate(self, n: int, seq_len: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = synthetic.copy_memory(n, seq_len, generator)
        return x.unsqueeze(-1).float(), y

    def build_model(self) -> nn.Module:
        return LinearHead(build_encoder(self.cfg.model, 1), 10)

    def train_loss(self, model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(self.train_x[idx]).flatten(0, 1), self.train_y[idx].flatten())

    def batch_sums(self, output: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        return {
            "nll": F.cross_entropy(output.flatten(0, 1), target.flatten(), reduction="sum").item(),
            "recalled": (output[:, -10:].argmax(-1) == target[:, -10:]).sum().item(),
        }

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        ce = sums["nll"] / self.test_y.numel()
        return {
            "loss": ce,
            "cross_entropy": ce,
            "recall_accuracy_pct": 100.0 * sums["recalled"] / (10 * len(self.test_y)),
        }


class PixelMnistTask(_TensorTask):
    """Sequential (and permuted) MNIST (Sec. 4): 784 pixels, one per step; metric test accuracy.

    Pixels are scaled to [0, 1] and normalised with the training mean/std (0.1307, 0.3081), as in
    the reference code. The P-MNIST permutation is fixed by ``permute_seed`` (the same for every
    training seed, so seeds differ only in training randomness).
    """

    metric = "accuracy_pct"
    higher_is_better = True

    def __init__(self, cfg: TaskConfig, seed: int, device: torch.device) -> None:
        super().__init__(cfg, seed, device)
        d = cfg.data
        data = mnist.load()
        perm = None
        if d.permute:
            perm = torch.randperm(784, generator=torch.Generator().manual_seed(d.permute_seed))

        def sequences(images: torch.Tensor) -> torch.Tensor:
            x = (images.float() / 255.0 - 0.1307) / 0.3081
            if perm is not None:
                x = x[:, perm]
            return x.unsqueeze(-1)

        n_train = self._limit(len(data["train_labels"]), d.limit_train)
        n_test = self._limit(len(data["test_labels"]), d.limit_eval)
        self.train_x = sequences(data["train_images"][:n_train]).to(device)
        self.train_y = data["train_labels"][:n_train].to(device)
        self.test_x = sequences(data["test_images"][:n_test]).to(device)
        self.test_y = data["test_labels"][:n_test].to(device)

    def build_model(self) -> nn.Module:
        return LinearHead(build_encoder(self.cfg.model, 1), 10, last_step=True)

    def train_loss(self, model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(self.train_x[idx]), self.train_y[idx])

    def batch_sums(self, output: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        return {
            "nll": F.cross_entropy(output, target, reduction="sum").item(),
            "correct": (output.argmax(-1) == target).sum().item(),
        }

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        n = len(self.test_y)
        return {"loss": sums["nll"] / n, "accuracy_pct": 100.0 * sums["correct"] / n}


class PolyMusicTask(_Task):
    """Polyphonic music (Sec. 4): predict frame t+1 from frames <= t; metric NLL per frame.

    One sequence per step, as in the reference code, whose training loss is the NLL summed over
    the sequence's frames. The reported number averages the NLL over every frame of the test
    split, with the model of the best validation epoch (the reference script's selection).
    """

    metric = "nll_per_frame"
    has_valid = True

    def __init__(self, cfg: TaskConfig, seed: int, device: torch.device) -> None:
        super().__init__(cfg, seed, device)
        if cfg.train.batch_size != 1:
            raise ValueError("polyphonic music trains on one sequence per step: set train.batch_size to 1")
        d = cfg.data
        data = polyphonic_music.load(d.dataset)
        self.splits = {
            "train": data["train"][: self._limit(len(data["train"]), d.limit_train)],
            "valid": data["valid"][: self._limit(len(data["valid"]), d.limit_eval)],
            "test": data["test"][: self._limit(len(data["test"]), d.limit_eval)],
        }
        self.splits = {k: [s.to(device) for s in v] for k, v in self.splits.items()}

    def build_model(self) -> nn.Module:
        return LinearHead(build_encoder(self.cfg.model, 88), 88)

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[int]:
        return torch.randperm(len(self.splits["train"]), generator=generator).tolist()

    def train_loss(self, model: nn.Module, index: int) -> torch.Tensor:
        seq = self.splits["train"][index]
        return frame_nll(model(seq[None, :-1]), seq[None, 1:]).sum()

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        total, frames = 0.0, 0
        with evaluation_mode(model):
            for seq in self.splits[split]:
                total += frame_nll(model(seq[None, :-1]), seq[None, 1:]).sum().item()
                frames += len(seq) - 1
        nll = total / frames
        return {"loss": nll, "nll_per_frame": nll}


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut a token stream into ``batch_size`` contiguous rows (the tail that does not fit is dropped)."""
    n = len(ids) // batch_size
    return ids[: n * batch_size].view(batch_size, n)


def lm_windows(length: int, seq_len: int, valid_len: int) -> list[tuple[int, int, int]]:
    """Windows ``(start, end, scored)`` over a row of ``length`` tokens.

    Each window feeds tokens ``[start, end)`` and scores its last ``scored`` predictions; the
    scored ranges partition the ``length - 1`` predictions exactly once. The first window scores
    everything it sees; later ones keep ``seq_len - valid_len`` tokens of context (the reference
    code's "effective history", which leaves the first window's head unscored instead).
    """
    windows = []
    end = min(seq_len, length - 1)
    windows.append((0, end, end))
    while end < length - 1:
        new_end = min(end + valid_len, length - 1)
        windows.append((max(0, new_end - seq_len), new_end, new_end - end))
        end = new_end
    return windows


class LanguageModelTask(_Task):
    """Character- or word-level language modelling (Sec. 4): metric bpc or perplexity."""

    has_valid = True

    def __init__(self, cfg: TaskConfig, seed: int, device: torch.device) -> None:
        super().__init__(cfg, seed, device)
        d = cfg.data
        if d.dataset == "ptb_char":
            corpus = ptb.load_char()
        elif d.dataset == "ptb_word":
            corpus = ptb.load_word()
        else:
            corpus = load_text_corpus(d.dataset, char_level=d.dataset == "text8")
        self.char_level = d.dataset in ("ptb_char", "text8")
        self.metric = "bpc" if self.char_level else "perplexity"
        self.vocab_size = len(corpus["vocab"])
        train = corpus["train"][: d.limit_train]
        self.train = batchify(train, cfg.train.batch_size).to(device)
        self.eval_data = {
            split: batchify(corpus[split][: d.limit_eval], d.eval_batch_size).to(device) for split in ("valid", "test")
        }
        self.valid_len = d.valid_len or d.seq_len

    def build_model(self) -> nn.Module:
        m = self.cfg.model
        emb = m.emb_size or m.hidden
        return LanguageModel(self.vocab_size, emb, build_encoder(m, emb), m.tied, m.emb_dropout)

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[tuple[int, int, int]]:
        # Language models read the corpus in order; the generator is not needed.
        return lm_windows(self.train.size(1), self.cfg.data.seq_len, self.valid_len)

    def _window_loss(
        self, model: nn.Module, data: torch.Tensor, window: tuple[int, int, int], reduction: str
    ) -> torch.Tensor:
        start, end, scored = window
        logits = model(data[:, start:end])[:, -scored:]
        target = data[:, end - scored + 1 : end + 1]
        return F.cross_entropy(logits.reshape(-1, self.vocab_size), target.reshape(-1), reduction=reduction)

    def train_loss(self, model: nn.Module, window: tuple[int, int, int]) -> torch.Tensor:
        return self._window_loss(model, self.train, window, "mean")

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        data = self.eval_data[split]
        total, count = 0.0, 0
        with evaluation_mode(model):
            for window in lm_windows(data.size(1), self.cfg.data.seq_len, self.valid_len):
                total += self._window_loss(model, data, window, "sum").item()
                count += window[2] * data.size(0)
        loss = total / count
        value = loss / math.log(2) if self.char_level else math.exp(loss)
        return {"loss": loss, self.metric: value}


TASK_KINDS = {
    "adding": AddingTask,
    "copy_memory": CopyMemoryTask,
    "mnist": PixelMnistTask,
    "poly_music": PolyMusicTask,
    "language_model": LanguageModelTask,
}


def build_task(cfg: TaskConfig, seed: int, device: torch.device) -> _Task:
    """The task object for ``cfg.data.kind``."""
    return TASK_KINDS[cfg.data.kind](cfg, seed, device)
