"""Throughput of the shared cells against ``torch.nn``, measured in one run on this machine.

``make bench`` (or ``python -m bench.cells``) measures forward + backward tokens/s (batch x
sequence length / seconds per step) for

* ``lstm_gru``: our LSTM and GRU (torch-kernel fast path and Python loop path, each with and
  without ``WeightDrop`` on the hidden-to-hidden matrices, p = 0.5) vs ``nn.LSTM``/``nn.GRU``;
  2 layers x 650 units, bptt 35, batch 20 (Zaremba et al.'s medium PTB model);
* ``qrnn``: one QRNN layer (320 units, window 2, fo-pooling) vs one ``nn.LSTM`` layer of 320
  units over batch {8, 16, 32} x sequence length {32, 128, 512}, the grid of QRNN's Figure 4
  (which times inference on a GPU; here the training step on this CPU);
* ``sliced``: SRNN(8, 2) of GRUs vs one ``nn.GRU`` (200 -> 50 units, as the official SRNN script)
  for T = 256 ... 8192, batch 32;
* ``indrnn``: IndRNN (2 x 128, ReLU) vs ``nn.LSTM`` (2 x 128) at T = 1000, batch 50 (the IndRNN
  paper's adding-problem network).

It writes ``bench/results.json`` (every measurement, the ratios, whether each target of issue 3
is met, the machine) and prints a table. Each time is the median of
``torch.utils.benchmark.Timer.blocked_autorange``; ours and torch's are timed back to back, so a
ratio compares runs under the same load. ``--quick`` shrinks every shape (for tests: it checks
the harness, not the speed).
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.benchmark import Timer

from bench import write_json
from shared.models.cells import GRU, LSTM, QRNN, IndRNN, SlicedRNN
from shared.models.regularize import WeightDrop

DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"


@dataclass
class Row:
    """One point of a comparison: our module against the torch baseline on the same input."""

    group: str
    name: str
    shape: str
    tokens: int
    ours_s: float
    baseline: str
    baseline_s: float

    @property
    def ratio(self) -> float:
        """Our throughput over the baseline's (> 1: ours is faster)."""
        return self.baseline_s / self.ours_s


def step_seconds(module: nn.Module, x: torch.Tensor, min_run_time: float) -> float:
    """Median seconds of one forward + backward of ``module`` on ``x`` (loss: sum of the output)."""
    module.train()

    def step() -> None:
        output = module(x)[0]
        output.sum().backward()

    step()  # warm-up: allocator, lazy initialisation, first-call dispatch
    return Timer(stmt="step()", globals={"step": step}).blocked_autorange(min_run_time=min_run_time).median


def compare(
    group: str,
    name: str,
    shape: str,
    ours: Callable[[], nn.Module],
    baseline_name: str,
    baseline: Callable[[], nn.Module],
    x: torch.Tensor,
    min_run_time: float,
) -> Row:
    torch.manual_seed(0)
    ours_s = step_seconds(ours(), x, min_run_time)
    torch.manual_seed(0)
    baseline_s = step_seconds(baseline(), x, min_run_time)
    return Row(group, name, shape, x.size(0) * x.size(1), ours_s, baseline_name, baseline_s)


def lstm_gru_rows(quick: bool, min_run_time: float) -> list[Row]:
    hidden, layers, bptt, batch = (32, 2, 5, 4) if quick else (650, 2, 35, 20)
    x = torch.randn(bptt, batch, hidden)
    shape = f"{layers}x{hidden}, bptt {bptt}, batch {batch}"
    rows = []
    for label, ours_cls, torch_cls in (("LSTM", LSTM, nn.LSTM), ("GRU", GRU, nn.GRU)):
        for fast in (True, False):
            for weight_drop in (False, True):

                def ours(cls=ours_cls, fast=fast, weight_drop=weight_drop) -> nn.Module:
                    stack = cls(hidden, hidden, layers, fast_path=fast)
                    return WeightDrop(stack, p=0.5) if weight_drop else stack

                name = f"{label} {'kernel' if fast else 'loop'}" + (" + WeightDrop" if weight_drop else "")
                baseline = lambda cls=torch_cls: cls(hidden, hidden, layers)  # noqa: E731
                rows.append(compare("lstm_gru", name, shape, ours, f"nn.{label}", baseline, x, min_run_time))
    return rows


def qrnn_rows(quick: bool, min_run_time: float) -> list[Row]:
    hidden = 16 if quick else 320
    batches, lengths = ((2, 4), (8, 16)) if quick else ((8, 16, 32), (32, 128, 512))
    rows = []
    for batch in batches:
        for length in lengths:
            x = torch.randn(length, batch, hidden)
            rows.append(
                compare(
                    "qrnn",
                    "QRNN (window 2, fo)",
                    f"batch {batch}, T {length}",
                    lambda: QRNN(hidden, hidden, window=2, pooling="fo"),
                    "nn.LSTM",
                    lambda: nn.LSTM(hidden, hidden),
                    x,
                    min_run_time,
                )
            )
    return rows


def sliced_rows(quick: bool, min_run_time: float) -> list[Row]:
    input_size, hidden, batch = (8, 4, 2) if quick else (200, 50, 32)
    lengths = (64, 128) if quick else (256, 512, 1024, 2048, 4096, 8192)
    rows = []
    for length in lengths:
        x = torch.randn(length, batch, input_size)
        rows.append(
            compare(
                "sliced",
                "SlicedRNN(GRU, n=8, k=2)",
                f"batch {batch}, T {length}",
                lambda: SlicedRNN(GRU, input_size, hidden, n=8, k=2),
                "nn.GRU",
                lambda: nn.GRU(input_size, hidden),
                x,
                min_run_time,
            )
        )
    return rows


def indrnn_rows(quick: bool, min_run_time: float) -> list[Row]:
    hidden, length, batch = (8, 50, 4) if quick else (128, 1000, 50)
    x = torch.randn(length, batch, 2)
    return [
        compare(
            "indrnn",
            "IndRNN (2 layers, relu)",
            f"2x{hidden}, batch {batch}, T {length}",
            lambda: IndRNN(2, hidden, 2),
            "nn.LSTM",
            lambda: nn.LSTM(2, hidden, 2),
            x,
            min_run_time,
        )
    ]


def targets(rows: list[Row]) -> list[dict]:
    """The speed targets of issue 3, judged on the measured ratios."""

    def length(row: Row) -> int:
        return int(row.shape.rsplit("T ", 1)[1])

    checks = []
    for row in rows:
        if row.group == "lstm_gru" and "WeightDrop" not in row.name:  # WeightDrop rows: measured, no target
            needed = 0.9 if "kernel" in row.name else 0.7
            checks.append((row, needed, f"{row.name} >= {needed}x {row.baseline}"))
        elif row.group == "qrnn" and length(row) >= 128:
            checks.append((row, 1.0, "QRNN faster than nn.LSTM for T >= 128"))
        elif row.group == "sliced" and length(row) >= 1024:
            checks.append((row, 1.0, "SlicedRNN faster than nn.GRU for T >= 1024"))
    return [
        {
            "target": text,
            "row": f"{row.name} [{row.shape}]",
            "ratio": row.ratio,
            "needed": needed,
            "met": row.ratio >= needed,
        }
        for row, needed, text in checks
    ]


def machine() -> dict:
    return {
        "processor": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def table(rows: list[Row]) -> str:
    lines = [
        f"{'group':<9} {'ours':<26} {'shape':<28} {'ours tok/s':>11} {'baseline':<8} {'base tok/s':>11} {'ratio':>6}"
    ]
    for r in rows:
        lines.append(
            f"{r.group:<9} {r.name:<26} {r.shape:<28} {r.tokens / r.ours_s:>11,.0f} {r.baseline:<8} "
            f"{r.tokens / r.baseline_s:>11,.0f} {r.ratio:>6.2f}"
        )
    return "\n".join(lines)


GROUPS = {"lstm_gru": lstm_gru_rows, "qrnn": qrnn_rows, "sliced": sliced_rows, "indrnn": indrnn_rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="tiny shapes: checks the harness, measures nothing")
    parser.add_argument("--groups", nargs="+", choices=sorted(GROUPS), default=list(GROUPS))
    parser.add_argument("--min-run-time", type=float, default=1.0, help="seconds per timed measurement")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    rows = []
    for group in args.groups:
        print(f"measuring {group} ...", file=sys.stderr, flush=True)
        rows += GROUPS[group](args.quick, 0.05 if args.quick else args.min_run_time)
    checks = targets(rows)
    result = {
        "machine": machine(),
        "quick": args.quick,
        "unit": "forward+backward tokens/s; ratio = ours / baseline throughput",
        "rows": [asdict(r) | {"ratio": r.ratio} for r in rows],
        "targets": checks,
    }
    write_json(args.out, result)
    print(table(rows))
    print()
    for check in checks:
        print(f"{'met ' if check['met'] else 'MISS'}  {check['target']:<48} {check['ratio']:.2f}  ({check['row']})")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
