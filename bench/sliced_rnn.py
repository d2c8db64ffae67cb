"""The Sliced RNN paper's speed claim, measured on this machine (``make bench`` runs it after the cells).

Yu & Liu (2018, abstract): "without changing the recurrent units, SRNNs are 136 times as fast as
standard RNNs and could be even faster when we train longer sequences" (on a GPU; 136x at 32,768
steps per a secondary source). ``python -m bench.sliced_rnn`` times one training step (forward,
cross-entropy from the last state, backward, Adam update) of

* ``document``: the classifier of ``papers/sliced_rnn`` at the official script's shape (512 words,
  200-d embeddings of a 30,000-word vocabulary, GRUs of 50 units, batch 100): SRNN(8, 2) against
  the standard GRU (the same model with k = 0);
* ``length``: the recurrent part alone (200 input features, GRUs of 50 units, a linear read-out
  to 5 classes, batch 16) over T = 512 ... 32,768, the standard GRU against SRNN(8, 2) and, where
  8^k divides T for a larger k, the deeper SRNN(8, k) whose minimal subsequences stay at 8 steps;
  and at T = 784 and 5,000 (issue 14's rows), SRNN(7, 2) and SRNN(10, 2).

Every GRU is the script's unit (reset gate before the product, linear candidate: the shared GRU's
Python loop). The ratio is the GRU's time over the SRNN's. What a CPU can show: an SRNN does the
same multiply-adds as the GRU (plus the small upper levels); it only shortens the chain of
sequential steps (T / n^k + k n instead of T) and makes each step a larger batch. On one CPU
thread that saves per-step overhead, not arithmetic, so the ratio is bounded by how much of the
GRU's time is overhead; a GPU also runs the n^k subsequences in parallel, which is where the
paper's 136x comes from.

It writes ``bench/sliced_rnn_results.json`` and ``bench/sliced_rnn_speed.md``. Each time is the
median of ``torch.utils.benchmark.Timer.blocked_autorange`` after one warm-up step; the GRU at
T = 32,768 takes about a minute per step on one thread (``--max-length`` caps the sweep).
``--device cuda`` times them on a GPU, the paper's setting (``bench/sliced_rnn_results_cuda.json``,
``bench/sliced_rnn_speed_cuda.md``). ``--quick`` shrinks every shape (for tests: it checks the harness, not the speed).
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

from bench import add_device_argument, device_info, device_suffix, machine_line, write_json
from bench.cells import machine
from papers.sliced_rnn.model import KERAS_GRU, SlicedClassifier
from shared.models.cells import SlicedRNN

HERE = Path(__file__).resolve().parent
SWEEP = (512, 784, 1024, 2048, 4096, 5000, 8192, 16384, 32768)
#: The slicing of the lengths that 8**2 does not divide (issue 14's T = 784 and 5,000).
OTHER_SLICINGS = {784: 7, 5000: 10}
PAPER_SPEEDUP = 136.0


def slicings(length: int) -> list[tuple[int, int]]:
    """``(n, k)`` of the SRNNs timed at ``length``: SRNN(8, 2) (or (7, 2), (10, 2) where 64 does not
    divide it), then SRNN(8, k) for the largest k > 2 with ``8**k * 8 <= length`` dividing it."""
    first = [(8, 2)] if length % 64 == 0 else [(OTHER_SLICINGS[length], 2)]
    deep = [k for k in range(3, 12) if length % 8**k == 0 and length // 8**k >= 8]
    return first + ([(8, deep[-1])] if deep else [])


class Recurrent(nn.Module):
    """SRNN(n, k) of the script's GRUs (k = 0: the standard GRU) under a linear read-out."""

    def __init__(self, input_size: int, hidden: int, classes: int, n: int, k: int) -> None:
        super().__init__()
        self.rnn = SlicedRNN(KERAS_GRU, input_size, hidden, n=n, k=k, batch_first=True)
        self.readout = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.rnn(x)[0][:, -1])


@dataclass
class Row:
    group: str  #: ``document`` or ``length``
    length: int
    batch: int
    model: str  #: ``GRU`` or ``SRNN(n,k)``
    seconds: float  #: median seconds of one training step


def step_seconds(model: nn.Module, inputs: tuple, y: torch.Tensor, min_run_time: float) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        loss = F.cross_entropy(model(*inputs), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()  # warm-up: allocator, the optimizer's state
    return Timer(stmt="step()", globals={"step": step}).blocked_autorange(min_run_time=min_run_time).median


def measure(
    group: str,
    length: int,
    batch: int,
    builders: dict[str, Callable[[], nn.Module]],
    inputs: tuple,
    y: torch.Tensor,
    min_run_time: float,
    device: str = "cpu",
) -> list[Row]:
    rows = []
    inputs, y = tuple(t.to(device) for t in inputs), y.to(device)
    for name, build in builders.items():
        print(f"  {group} T={length} {name} ...", file=sys.stderr, flush=True)
        torch.manual_seed(0)
        rows.append(Row(group, length, batch, name, step_seconds(build().to(device), inputs, y, min_run_time)))
    return rows


def document_rows(quick: bool, min_run_time: float, device: str = "cpu") -> list[Row]:
    vocab, batch, length, emb, hidden, n = (50, 4, 16, 8, 4, 2) if quick else (30000, 100, 512, 200, 50, 8)
    tokens = torch.randint(1, vocab, (batch, length))
    lengths = torch.full((batch,), length)
    builders = {
        "GRU": lambda: SlicedClassifier(vocab, 2, emb, hidden, n=n, k=0, max_len=length),
        f"SRNN({n},2)": lambda: SlicedClassifier(vocab, 2, emb, hidden, n=n, k=2, max_len=length),
    }
    y = torch.randint(0, 2, (batch,))
    return measure("document", length, batch, builders, (tokens, lengths), y, min_run_time, device)


def length_rows(quick: bool, max_length: int, min_run_time: float, device: str = "cpu") -> list[Row]:
    features, hidden, batch = (8, 4, 2) if quick else (200, 50, 16)
    lengths = (64, 128) if quick else [t for t in SWEEP if t <= max_length]
    rows = []
    for length in lengths:
        builders: dict[str, Callable[[], nn.Module]] = {"GRU": lambda: Recurrent(features, hidden, 5, 1, 0)}
        for n, k in slicings(length):
            builders[f"SRNN({n},{k})"] = lambda n=n, k=k: Recurrent(features, hidden, 5, n, k)
        x, y = torch.randn(batch, length, features), torch.randint(0, 5, (batch,))
        rows += measure("length", length, batch, builders, (x,), y, min_run_time, device)
    return rows


def table(rows: list[Row]) -> str:
    """One line per (group, T, SRNN): seconds per step of the GRU and the SRNN, and their ratio."""
    header = ("group", "T", "batch", "SRNN", "chain of steps", "GRU s/step", "SRNN s/step", "GRU / SRNN")
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for row in rows:
        if row.model == "GRU":
            continue
        gru = next(r for r in rows if (r.group, r.length, r.model) == (row.group, row.length, "GRU"))
        n, k = (int(v) for v in row.model[5:-1].split(","))
        chain = f"{row.length // n**k + k * n} of {row.length}"
        lines.append(
            f"| {row.group} | {row.length} | {row.batch} | {row.model} | {chain} | {gru.seconds:.3f} | "
            f"{row.seconds:.3f} | {gru.seconds / row.seconds:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="the JSON (default: bench/sliced_rnn_results[_cuda].json)")
    parser.add_argument("--table", type=Path, help="the markdown table (default: bench/sliced_rnn_speed[_cuda].md)")
    parser.add_argument("--max-length", type=int, default=SWEEP[-1], help="longest T of the sweep")
    parser.add_argument("--quick", action="store_true", help="tiny shapes: checks the harness, measures nothing")
    parser.add_argument("--min-run-time", type=float, default=1.0, help="seconds per timed measurement")
    add_device_argument(parser)
    args = parser.parse_args(argv)
    gpu = device_info(parser, args.device)
    suffix = device_suffix(args.device)
    out = args.out or HERE / f"sliced_rnn_results{suffix}.json"
    table_path = args.table or HERE / f"sliced_rnn_speed{suffix}.md"
    min_run_time = 0.01 if args.quick else args.min_run_time
    rows = document_rows(args.quick, min_run_time, args.device)
    rows += length_rows(args.quick, args.max_length, min_run_time, args.device)
    result = {
        "machine": machine() | gpu,
        "quick": args.quick,
        "unit": "seconds per training step (median): forward, cross-entropy, backward, Adam update",
        "paper_speedup": PAPER_SPEEDUP,
        "rows": [asdict(r) for r in rows],
    }
    write_json(out, result)
    command = "python -m bench.sliced_rnn" + (" --device cuda" if args.device == "cuda" else "")
    text = (
        f"# Sliced RNN: training step, SRNN vs the standard GRU (generated by `{command}`)\n\n"
        + machine_line(result["machine"])
        + f"{' (QUICK: tiny shapes, no speed claim)' if args.quick else ''}. The paper: {PAPER_SPEEDUP:g}x on a GPU "
        "at the longest sequences (abstract). Both models use the script's GRU (linear candidate, loop path).\n\n"
        + table(rows)
        + "\n"
    )
    table_path.write_text(text)
    print(table(rows))
    print(f"wrote {out} and {table_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
