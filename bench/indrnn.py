"""A training step of the IndRNN paper's networks against the same networks with plain RNN layers.

``python -m bench.indrnn`` (``make bench`` runs it) times one training step (forward, loss,
backward, Adam update, and for the IndRNN the clamp of its recurrent weights; ``papers/indrnn``)
of

* ``mnist``: the 6 x 128 IndRNN with batch normalisation of pixel MNIST (T = 784, 10 classes);
* ``adding``: the 2 x 128 IndRNN of the adding problem at T = 5000 (one output),

each against the same network with ``shared.models.cells.RNN`` layers of the same size and ReLU
(torch's fused kernel, and the Python loop the IndRNN also runs on), batch 32 (the paper's). The
IndRNN has no fused kernel in torch: its recurrence is element-wise, but it runs as a Python loop
over time (``shared/models/cells/indrnn.py``), which is what these rows measure.

It writes ``bench/indrnn_results.json`` (every time, the machine) and prints the table. Each time
is the median of ``torch.utils.benchmark.Timer.blocked_autorange``, the models of a comparison
timed back to back. ``--quick`` shrinks every shape (for tests: it checks the harness, not the
speed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.benchmark import Timer

from bench import publish
from bench.cells import Row, table
from papers.indrnn.model import DeepIndRNN, LastStepRegressor, RecurrentWeightBound
from shared.models.cells import RNN

DEFAULT_OUT = Path(__file__).resolve().parent / "indrnn_results.json"
BATCH = 32


def step_seconds(model: nn.Module, x: torch.Tensor, target: torch.Tensor, min_run_time: float) -> float:
    """Median seconds of one training step of ``model`` on ``(x, target)``: cross-entropy for
    class targets, MSE otherwise; Adam (lr 2e-4); the IndRNN's bound after the update."""
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
    bound = RecurrentWeightBound(model) if any(isinstance(m, DeepIndRNN) for m in model.modules()) else None
    loss_fn = F.cross_entropy if target.dtype == torch.long else F.mse_loss

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), target).backward()
        optimizer.step()
        if bound is not None:
            bound.after_step(None)

    step()  # warm-up: allocator, Adam's state, first-call dispatch
    return Timer(stmt="step()", globals={"step": step}).blocked_autorange(min_run_time=min_run_time).median


def compare(
    group: str,
    shape: str,
    ours: Callable[[], nn.Module],
    baselines: dict[str, Callable[[], nn.Module]],
    x: torch.Tensor,
    target: torch.Tensor,
    min_run_time: float,
) -> list[Row]:
    torch.manual_seed(0)
    ours_s = step_seconds(ours(), x, target, min_run_time)
    rows = []
    for name, baseline in baselines.items():
        torch.manual_seed(0)
        baseline_s = step_seconds(baseline(), x, target, min_run_time)
        rows.append(Row(group, "IndRNN step", shape, x.size(0) * x.size(1), ours_s, name, baseline_s))
    return rows


def plain(input_size: int, hidden: int, layers: int, outputs: int, fast: bool) -> nn.Module:
    """The same network with ReLU RNN layers of the same size (kernel or loop)."""
    return LastStepRegressor(
        RNN(input_size, hidden, layers, nonlinearity="relu", batch_first=True, fast_path=fast), hidden, outputs
    )


def rows_for(group: str, quick: bool, min_run_time: float) -> list[Row]:
    if group == "mnist":
        hidden, layers, length, outputs = (8, 2, 30, 10) if quick else (128, 6, 784, 10)
        norm, inputs = "frame", 1
        target = torch.randint(outputs, (BATCH,))
    else:
        hidden, layers, length, outputs = (8, 2, 50, 1) if quick else (128, 2, 5000, 1)
        norm, inputs = "none", 2
        target = torch.rand(BATCH, 1)
    x = torch.randn(BATCH, length, inputs)

    def ours() -> nn.Module:
        return LastStepRegressor(DeepIndRNN(inputs, hidden, layers, length, norm=norm), hidden, outputs)

    baselines = {
        "RNN kernel": lambda: plain(inputs, hidden, layers, outputs, True),
        "RNN loop": lambda: plain(inputs, hidden, layers, outputs, False),
    }
    shape = f"{layers}x{hidden}, batch {BATCH}, T {length}"
    return compare(group, shape, ours, baselines, x, target, min_run_time)


GROUPS = ("mnist", "adding")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="tiny shapes: checks the harness, measures nothing")
    parser.add_argument("--groups", nargs="+", choices=GROUPS, default=list(GROUPS))
    parser.add_argument("--min-run-time", type=float, default=1.0, help="seconds per timed measurement")
    args = parser.parse_args(argv)

    rows = []
    for group in args.groups:
        print(f"measuring {group} ...", file=sys.stderr, flush=True)
        rows += rows_for(group, args.quick, 0.05 if args.quick else args.min_run_time)
    publish(
        args.out,
        [asdict(r) | {"ratio": r.ratio} for r in rows],
        table(rows) + "\n",
        quick=args.quick,
        unit="training-step tokens/s (batch x T / seconds); ratio = IndRNN / baseline throughput",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
