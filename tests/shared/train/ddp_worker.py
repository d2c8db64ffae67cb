"""One training run of a small task, for tests/shared/train/test_ddp.py: started as a plain process
(one process) or under ``torchrun`` (several, Gloo), exactly as ``python -m papers.<p> train`` is.

``python tests/shared/train/ddp_worker.py TASK RUN_DIR OUT [--dropout P] [--kill-at STEP]``
trains TASK (``regression``, ``adding`` or ``lm``) with checkpoints in RUN_DIR; rank 0 writes the
final weights and the per-epoch history to OUT. ``--kill-at`` ends every process abruptly (no
cleanup, as SIGKILL would) right after that step, when the step's checkpoint has been written.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository, when run as a file

from shared.tasks import language_model  # noqa: E402
from shared.tasks.base import shard_examples  # noqa: E402
from shared.tasks.synthetic import AddingProblem  # noqa: E402
from shared.train import runtime  # noqa: E402
from shared.train.config import TrainConfig  # noqa: E402
from shared.train.loop import Trainer  # noqa: E402

SEED = 5
TIME_COLUMNS = ("train/steps_per_s", "eval_seconds")


class Regression:
    """40 examples in global batches of 7: the last batch (5) and every batch split 4/3 or 3/2
    over two processes, so the loss weights of uneven parts are exercised."""

    metric = "mse"
    higher_is_better = False
    has_valid = True

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(40, 6, generator=g)
        self.y = self.x @ torch.randn(6, 1, generator=g) + 0.1 * torch.randn(40, 1, generator=g)

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[torch.Tensor]:
        return list(torch.randperm(len(self.x), generator=generator).split(7))

    def shard(self, batch: torch.Tensor, rank: int, world_size: int) -> tuple[torch.Tensor, float]:
        return shard_examples(batch, rank, world_size)

    def train_loss(self, model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(model(self.x[idx]), self.y[idx])

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        sl = slice(0, 20) if split == "valid" else slice(20, None)
        with torch.no_grad():
            mse = F.mse_loss(model(self.x[sl]), self.y[sl]).item()
        return {"loss": mse, "mse": mse}


class TinyLM(nn.Module):
    """Embedding, one GRU layer, dropout, decoder: ``(tokens, state) -> (logits, state)``."""

    def __init__(self, vocab: int, dropout: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 8)
        self.rnn = nn.GRU(8, 16, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.decode = nn.Linear(16, vocab)

    def forward(self, tokens: torch.Tensor, state: tuple[torch.Tensor] | None) -> tuple[torch.Tensor, tuple]:
        out, h = self.rnn(self.embed(tokens), None if state is None else state[0])
        return self.decode(self.drop(out)), (h,)


class AddingRegressor(nn.Module):
    def __init__(self, dropout: float) -> None:
        super().__init__()
        self.rnn = nn.GRU(2, 12, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(12, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(self.rnn(x)[0][:, -1]))


def build(task_name: str, dropout: float) -> tuple[object, nn.Module, TrainConfig]:
    if task_name == "regression":
        model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Dropout(dropout), nn.Linear(16, 1))
        cfg = TrainConfig(epochs=3, batch_size=7, optimizer="sgd", lr=0.05, clip=1.0, checkpoint_every=4)
        return Regression(), model, cfg
    if task_name == "adding":
        # Drawn afresh every epoch from per-batch seeds: 30 examples in batches of 8 (last one 6).
        task = AddingProblem(12, 30, 16, 8, SEED, torch.device("cpu"), fresh_train=True)
        cfg = TrainConfig(epochs=2, batch_size=8, lr=0.01, selection="last", checkpoint_every=3)
        return task, AddingRegressor(dropout), cfg
    # A stateful language model over a synthetic 11-token stream, 4 rows (2 per process).
    stream = torch.randint(0, 11, (4 * 60,), generator=torch.Generator().manual_seed(1))
    corpus = {"train": stream, "valid": stream[:80], "test": stream[80:160], "vocab": [str(i) for i in range(11)]}
    language_model.load_corpus = lambda dataset: corpus
    task = language_model.StatefulLanguageModel("ptb_word", 6, 4, torch.device("cpu"), eval_chunk=20)
    cfg = TrainConfig(epochs=2, batch_size=4, optimizer="sgd", lr=0.5, clip=0.5, checkpoint_every=4)
    return task, TinyLM(11, dropout), cfg


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("task", choices=("regression", "adding", "lm"))
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--kill-at", type=int)
    args = parser.parse_args()
    torch.set_num_threads(1)
    world, _ = runtime.init_distributed(torch.device("cpu"))
    runtime.seed_everything(SEED)
    runtime.set_deterministic(True)
    task, model, cfg = build(args.task, args.dropout)

    def kill(step: int) -> None:
        if step == args.kill_at:
            os._exit(17)

    trainer = Trainer(model, task, cfg, args.run_dir, SEED, "ddp-test", on_step=kill, progress=False)
    fit = trainer.fit()
    if world.is_main:
        history = [{k: v for k, v in h.items() if k not in TIME_COLUMNS} for h in fit.history]
        torch.save({"params": model.state_dict(), "history": history, "value": fit.value}, args.out)
    runtime.shutdown_distributed()


if __name__ == "__main__":
    main()
