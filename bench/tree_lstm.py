"""Tree-LSTM throughput: a batch of trees computed level by level (every node of one height across
the batch in one tensor operation, ``shared.models.cells.tree_lstm``) against one node per step
(``node_by_node=True``: the same equations in the order of a recursive implementation), on real
parses (``make bench`` runs it after the cells).

``python -m bench.tree_lstm`` times, for the paper's two models, the Constituency (binary N-ary)
Tree-LSTM on the first SST training trees and the Dependency (Child-Sum) Tree-LSTM on the first
SICK training sentences (d = 150, 300-d word vectors), both directions of work:

* ``forward``: the hidden states of every node of a batch of 25 trees (evaluation);
* ``train``: forward, a softmax over 5 classes at every node, backward (a training step without
  the update),

and reports trees per second. It needs ``prepared/sst`` and ``prepared/sick`` (``dvc repro
prepare@sst prepare@sick``), writes ``bench/tree_lstm_results.json`` and prints a table. Each time
is the median of ``torch.utils.benchmark.Timer.blocked_autorange``. ``--quick`` shrinks every
shape (for tests: it checks the harness, not the speed).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.nn import functional as F
from torch.utils.benchmark import Timer

from bench import publish
from papers.tree_lstm.model import TreeEncoder, WordEmbedding
from shared.tasks.trees import Relatedness, SentimentTreebank

DEFAULT_OUT = Path(__file__).resolve().parent / "tree_lstm_results.json"
MODELS = {"constituency": "SST train", "dependency": "SICK train (left sentences)"}


@dataclass
class Row:
    model: str
    trees: str  #: which parses
    batch: int
    work: str  #: ``forward`` or ``train``
    schedule: str  #: ``by_height`` or ``node_by_node``
    seconds: float  #: median seconds per batch

    @property
    def trees_per_s(self) -> float:
        return self.batch / self.seconds


def rows_for(arch: str, batch: int, hidden: int, embedding_size: int, min_run_time: float) -> list[Row]:
    cpu = torch.device("cpu")
    if arch == "constituency":
        split = SentimentTreebank("fine", "tree", batch, cpu, limit_train=batch, limit_eval=1).trees["train"]
    else:
        split = Relatedness("tree", batch, cpu, limit_train=batch, limit_eval=1).sides["train_a"]
    torch.manual_seed(0)
    encoder = TreeEncoder(arch, WordEmbedding([], 30_000, embedding_size), hidden)
    output = torch.nn.Linear(hidden, 5)
    words, trees = split.batch(list(range(batch)))
    labels = torch.randint(0, 5, (trees.num_nodes,))
    rows = []
    for schedule in ("by_height", "node_by_node"):
        per_node = schedule == "node_by_node"

        def forward(per_node: bool = per_node) -> None:
            with torch.no_grad():
                encoder(words, trees, node_by_node=per_node)

        def train(per_node: bool = per_node) -> None:
            encoder.zero_grad(set_to_none=True)
            F.cross_entropy(output(encoder(words, trees, node_by_node=per_node)), labels).backward()

        for work, fn in (("forward", forward), ("train", train)):
            fn()  # warm-up; it also caches the batch's schedule, as the task caches its evaluation batches
            seconds = Timer(stmt="fn()", globals={"fn": fn}).blocked_autorange(min_run_time=min_run_time).median
            rows.append(Row(arch, MODELS[arch], batch, work, schedule, seconds))
    return rows


def table(rows: list[Row]) -> str:
    """One line per (model, work): trees per second of each schedule and their ratio."""
    header = ("model", "trees", "batch", "work", "by height trees/s", "node by node trees/s", "speed-up")
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for model in MODELS:
        for work in ("forward", "train"):
            r = {x.schedule: x for x in rows if (x.model, x.work) == (model, work)}
            if not r:
                continue
            fast, slow = r["by_height"], r["node_by_node"]
            lines.append(
                f"| {model} | {fast.trees} | {fast.batch} | {work} | {fast.trees_per_s:.1f} | "
                f"{slow.trees_per_s:.1f} | {slow.seconds / fast.seconds:.1f}x |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=25, help="trees per batch (default: the paper's 25)")
    parser.add_argument("--quick", action="store_true", help="tiny shapes: checks the harness, measures nothing")
    parser.add_argument("--min-run-time", type=float, default=1.0, help="seconds per timed measurement")
    args = parser.parse_args(argv)
    batch, hidden, embedding_size = (2, 4, 6) if args.quick else (args.batch, 150, 300)
    min_run_time = 0.01 if args.quick else args.min_run_time
    rows = []
    for arch in MODELS:
        print(f"measuring {arch} ...", file=sys.stderr, flush=True)
        rows += rows_for(arch, batch, hidden, embedding_size, min_run_time)
    publish(
        args.out,
        [asdict(r) | {"trees_per_s": r.trees_per_s} for r in rows],
        table(rows),
        quick=args.quick,
        shape=f"Tree-LSTM d = {hidden}, word vectors {embedding_size}-d, batches of {batch} trees",
        unit="median seconds per batch; trees_per_s = batch / seconds",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
