"""The Dilated RNN's training step against the plain cells of the same size, on this machine
(``make bench`` runs it after the cells).

``python -m bench.dilated_rnn`` times one training step (forward, cross-entropy at the last step,
backward, the demo's RMSProp update) of the pixel-MNIST classifier of ``papers/dilated_rnn``,
9 layers x 20 units with dilations 1, 2, ..., 256, for each cell (vanilla RNN, LSTM, GRU), against

* ``plain``: the same model with every dilation 1 (the same cells and parameters), and
* ``torch``: ``torch.nn.RNN`` / ``LSTM`` / ``GRU`` of 9 layers x 20 units under the same read-out
  (torch's kernels; its GRU applies the reset gate after the product, the paper's TensorFlow GRU
  before it),

at T = 784 (pixel MNIST) and T = 5000, batch 128 (the demo's). A dilated stack does the same
multiply-adds as the plain one; what it saves is the chain of sequential steps (for 9 layers,
about 2T instead of 9T), i.e. per-step overhead on a CPU and idle parallel hardware on a GPU.

It writes ``bench/dilated_rnn_results.json`` (every time, the machine) and prints a table. Each
time is the median of ``torch.utils.benchmark.Timer.blocked_autorange``, the models of one
comparison timed back to back. At T = 5000 one plain-GRU step takes tens of seconds on one thread;
``--lengths 784`` skips it. ``--quick`` shrinks every shape (for tests: it checks the harness, not
the speed). ``--profile`` prints torch.profiler's operator table of three training steps of the
dilated and the plain model instead (``--cells lstm --lengths 784``: why the dilated LSTM is no
faster, papers/dilated_rnn/README.md).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.benchmark import Timer

from bench import publish
from papers.dilated_rnn.config import TFRMSprop
from papers.dilated_rnn.model import DilatedRNNModel

DEFAULT_OUT = Path(__file__).resolve().parent / "dilated_rnn_results.json"
CELLS = ("rnn", "lstm", "gru")
TORCH_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class TorchStack(nn.Module):
    """``torch.nn``'s plain stack under a last-step read-out: the model of equal size with torch's kernels."""

    def __init__(self, cell: str, hidden: int, layers: int, classes: int) -> None:
        super().__init__()
        self.rnn = TORCH_CELLS[cell](1, hidden, layers, batch_first=True)
        self.readout = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.rnn(x)[0][:, -1])


@dataclass
class Row:
    cell: str
    length: int
    batch: int
    model: str  #: ``dilated``, ``plain`` or ``torch``
    seconds: float  #: median seconds of one training step

    @property
    def steps_per_s(self) -> float:
        return 1.0 / self.seconds


def training_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    """One training step of ``model`` on the batch ``(x, y)``, already run once (the warm-up:
    allocator, lazy initialisation, the optimizer's state)."""
    optimizer = TFRMSprop(model.parameters(), lr=1e-3)

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()
    return step


def step_seconds(model: nn.Module, x: torch.Tensor, y: torch.Tensor, min_run_time: float) -> float:
    """Median seconds of one training step of ``model`` on the batch ``(x, y)``."""
    step = training_step(model, x, y)
    return Timer(stmt="step()", globals={"step": step}).blocked_autorange(min_run_time=min_run_time).median


def builders(cell: str, hidden: int, layers: int) -> dict[str, Callable[[], nn.Module]]:
    """The three models of one comparison, by name."""
    return {
        "dilated": lambda: DilatedRNNModel(cell, 1, hidden, layers, 10, dilated=True),
        "plain": lambda: DilatedRNNModel(cell, 1, hidden, layers, 10, dilated=False),
        "torch": lambda: TorchStack(cell, hidden, layers, 10),
    }


def rows_for(cell: str, length: int, batch: int, hidden: int, layers: int, min_run_time: float) -> list[Row]:
    x, y = torch.randn(batch, length, 1), torch.randint(0, 10, (batch,))
    rows = []
    for name, build in builders(cell, hidden, layers).items():
        torch.manual_seed(0)
        rows.append(Row(cell, length, batch, name, step_seconds(build(), x, y, min_run_time)))
    return rows


def profile_tables(cell: str, length: int, batch: int, hidden: int, layers: int, steps: int = 3) -> str:
    """torch.profiler's operator table (by self CPU time) of ``steps`` training steps of the dilated
    and of the plain model: where each one's time goes, e.g. how much of it is torch's fused LSTM
    kernel and how much the dilated stack's interleaving copies."""
    x, y = torch.randn(batch, length, 1), torch.randint(0, 10, (batch,))
    shown = []
    for name in ("dilated", "plain"):
        torch.manual_seed(0)
        step = training_step(builders(cell, hidden, layers)[name](), x, y)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as trace:
            for _ in range(steps):
                step()
        ops = trace.key_averages().table(sort_by="self_cpu_time_total", row_limit=12, max_name_column_width=40)
        shown.append(f"{name} {cell}, T={length}, batch {batch}, {steps} training steps:\n{ops}")
    return "\n".join(shown)


def table(rows: list[Row]) -> str:
    """One line per (cell, T): seconds per step of each model and the plain ones over the dilated."""
    header = (
        "cell",
        "T",
        "batch",
        "dilated s/step",
        "plain s/step",
        "torch.nn s/step",
        "plain / dilated",
        "torch / dilated",
    )
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    keys = sorted({(r.cell, r.length, r.batch) for r in rows}, key=lambda k: (CELLS.index(k[0]), k[1]))
    for cell, length, batch in keys:
        s = {r.model: r.seconds for r in rows if (r.cell, r.length, r.batch) == (cell, length, batch)}
        lines.append(
            f"| {cell} | {length} | {batch} | {s['dilated']:.3f} | {s['plain']:.3f} | {s['torch']:.3f} | "
            f"{s['plain'] / s['dilated']:.2f} | {s['torch'] / s['dilated']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON (default: %(default)s)")
    parser.add_argument("--lengths", type=int, nargs="+", default=[784, 5000], help="sequence lengths T")
    parser.add_argument("--batch", type=int, default=128, help="batch size (default: the demo's 128)")
    parser.add_argument("--cells", nargs="+", choices=CELLS, default=list(CELLS))
    parser.add_argument("--quick", action="store_true", help="tiny shapes: checks the harness, measures nothing")
    parser.add_argument("--min-run-time", type=float, default=0.5, help="seconds per timed measurement")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print torch.profiler's operator table of the dilated and the plain model, instead of timing them",
    )
    args = parser.parse_args(argv)

    # Quick: 3 layers (dilations 1, 2, 4) of 4 units over 5 and 9 steps, batch 2.
    lengths, batch, hidden, layers = ([5, 9], 2, 4, 3) if args.quick else (args.lengths, args.batch, 20, 9)
    if args.profile:
        for cell in args.cells:
            for length in lengths:
                print(profile_tables(cell, length, batch, hidden, layers))
        return 0
    min_run_time = 0.01 if args.quick else args.min_run_time
    rows = []
    for cell in args.cells:
        for length in lengths:
            print(f"measuring {cell}, T={length} ...", file=sys.stderr, flush=True)
            rows += rows_for(cell, length, batch, hidden, layers, min_run_time)
    publish(
        args.out,
        [asdict(r) | {"steps_per_s": r.steps_per_s} for r in rows],
        table(rows),
        quick=args.quick,
        shape=f"{layers} layers x {hidden} units, batch {batch}, 10 classes from the last step",
        unit="seconds per training step (median); forward, loss, backward, RMSProp update",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
