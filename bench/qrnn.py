"""The QRNN paper's speed claims, measured on this machine (``make bench`` runs it after the cells).

``python -m bench.qrnn`` measures

* ``layer``: Fig. 4 (right) of Bradbury et al. (2017): one QRNN layer (320 units, window 2,
  fo-pooling; :class:`shared.models.cells.QRNN`) against one ``torch.nn.LSTM`` layer of 320 units,
  forward only (inference, the paper's measurement) and forward + backward, over batch x sequence
  length. By default a quick grid, batch {8, 32, 128} x length {32, 128, 512}; ``--full`` runs the
  paper's whole grid, batch {8, 16, 32, 64, 128, 256} x length {32, 64, 128, 256, 512}.
* ``lm_step``: tokens per second of one training step (forward, loss, backward, SGD update) of the
  PTB language models at Fig. 4 (left)'s shape, 2 layers x 640 units, batch 20 x 105 steps, 10,000
  words: the QRNN model of ``papers/qrnn`` against the same model with a plain ``torch.nn.LSTM``
  of equal size; and the AWD-LSTM (3 layers, 1150/1150/400) with its DropConnect, without it,
  and with ``torch.nn.LSTM`` layers (issue 13's LM row and WeightDrop budget). :data:`LM_MODELS`
  holds the models compared.
* ``imdb_step``: seconds per training step of Table 1's IMDb classifier (4 densely connected
  layers of 256), QRNN layers against LSTM layers, batch 24 x 256 tokens.

It writes ``bench/qrnn_results.json`` (every time, the machine) and ``bench/qrnn_speed.md``, the
speed-up grid next to the paper's GPU grid (``qrnn_results_full.json`` and ``qrnn_speed_full.md``
with ``--full``: about 7 minutes on one thread of this machine, the quick grid about 1.5). Each
time is the median of ``torch.utils.benchmark.Timer.blocked_autorange``, the two models of a
comparison timed back to back. ``--device cuda`` times both on a GPU, the paper's setting
(``torch.nn.LSTM`` is then cuDNN's; float32, TF32 off), into ``bench/qrnn_results[_full]_cuda.json``
and ``bench/qrnn_speed[_full]_cuda.md``.
``--quick`` shrinks every shape (for tests: it checks the harness, not the speed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.benchmark import Timer

from bench import add_device_argument, device_info, device_suffix, machine_line, write_json
from bench.cells import machine
from papers.awd_lstm.model import RECURRENT_LAYERS as AWD_LAYERS
from papers.qrnn.__main__ import PAPER as QRNN_PAPER
from papers.qrnn.__main__ import build_model as build_qrnn_model
from papers.qrnn.model import LSTMLanguageModel, QRNNLanguageModel
from shared.models.awd_language_model import AWDLanguageModel, RecurrentLayer
from shared.models.cells import LSTM, QRNN
from shared.train.optimizers import lookup_optimizer

HERE = Path(__file__).resolve().parent

FULL_BATCHES, FULL_LENGTHS = (8, 16, 32, 64, 128, 256), (32, 64, 128, 256, 512)
QUICK_BATCHES, QUICK_LENGTHS = (8, 32, 128), (32, 128, 512)
#: Fig. 4 (right): inference speed-up of a QRNN layer over a cuDNN LSTM layer of 320 units on a
#: GPU, per batch size (rows) and sequence length (columns, FULL_LENGTHS). Source: the figure as
#: shipped in salesforce/pytorch-qrnn (images/qrnn_speed.png); ../shared/reference/reported/qrnn.yaml.
PAPER_GRID = {
    8: (5.5, 8.8, 11.0, 12.4, 16.9),
    16: (5.5, 6.7, 7.8, 8.3, 10.8),
    32: (4.2, 4.5, 4.9, 4.9, 6.4),
    64: (3.0, 3.0, 3.0, 3.0, 3.7),
    128: (2.1, 1.9, 2.0, 2.0, 2.4),
    256: (1.4, 1.4, 1.3, 1.3, 1.3),
}
HIDDEN = 320


@dataclass
class LayerRow:
    batch: int
    length: int
    mode: str  # "forward" or "forward+backward"
    qrnn_s: float
    lstm_s: float

    @property
    def speedup(self) -> float:
        """The LSTM layer's time over the QRNN layer's (> 1: the QRNN is faster)."""
        return self.lstm_s / self.qrnn_s


@dataclass
class LMRow:
    name: str
    shape: str
    tokens: int
    seconds: float

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds


def _median_seconds(step: Callable[[], None], min_run_time: float) -> float:
    step()  # warm-up: allocator, lazy initialisation, first-call dispatch
    return Timer(stmt="step()", globals={"step": step}).blocked_autorange(min_run_time=min_run_time).median


def layer_seconds(layer: nn.Module, x: torch.Tensor, backward: bool, min_run_time: float) -> float:
    """Median seconds of a forward (no autograd, eval mode) or a forward + backward (train mode)."""
    layer.train(backward)

    def step() -> None:
        if backward:
            layer(x)[0].sum().backward()
        else:
            with torch.no_grad():
                layer(x)

    return _median_seconds(step, min_run_time)


def layer_rows(
    batches: tuple[int, ...], lengths: tuple[int, ...], hidden: int, min_run_time: float, device: str = "cpu"
) -> list[LayerRow]:
    rows = []
    for batch in batches:
        for length in lengths:
            x = torch.randn(length, batch, hidden, device=device)
            for backward in (False, True):
                torch.manual_seed(0)
                qrnn = QRNN(hidden, hidden, window=2, pooling="fo").to(device)
                qrnn_s = layer_seconds(qrnn, x, backward, min_run_time)
                torch.manual_seed(0)
                lstm_s = layer_seconds(nn.LSTM(hidden, hidden).to(device), x, backward, min_run_time)
                mode = "forward+backward" if backward else "forward"
                rows.append(LayerRow(batch, length, mode, qrnn_s, lstm_s))
    return rows


@dataclass(frozen=True)
class LMEntry:
    """A language model whose training step is timed: ``build(vocab, hidden)`` with ``layers``
    recurrent layers of ``hidden`` units (``--quick`` shrinks ``hidden`` to 16)."""

    layers: int
    hidden: int
    build: Callable[[int, int], nn.Module]


def _nn_lstm_lm(vocab: int, hidden: int) -> nn.Module:
    """The PTB model with a plain ``torch.nn.LSTM`` of equal size as its recurrent part."""
    model = LSTMLanguageModel(vocab, hidden, 2, dropout=0.5, init_range=0.05)
    model.rnn = nn.LSTM(hidden, hidden, 2, batch_first=True, dropout=0.5)
    return model


def _awd_lm(layer: RecurrentLayer, weight_drop: float) -> Callable[[int, int], nn.Module]:
    """The AWD-LSTM (3 layers, ``hidden``/``hidden``/embedding, every dropout of the paper) with
    ``layer`` as its recurrence; the embedding keeps the paper's 400 : 1150 ratio to ``hidden``."""
    return lambda vocab, hidden: AWDLanguageModel(
        vocab, layer, round(hidden * 400 / 1150), hidden, 3, weight_drop=weight_drop
    )


#: The language models whose training step is timed (batch 20 x 105 steps, 10,000 words), each
#: next to a plain ``torch.nn.LSTM`` model of its size. The AWD-LSTM is timed three ways: with its
#: DropConnect (the paper's), with the shared LSTM and no DropConnect (the WeightDrop overhead,
#: issue 13's budget: at most 15%), and with ``torch.nn.LSTM`` layers.
LM_MODELS: dict[str, LMEntry] = {
    "QRNN LM (2 layers, window 2, zoneout 0.1)": LMEntry(
        2,
        640,
        lambda vocab, hidden: QRNNLanguageModel(vocab, hidden, 2, window=2, zoneout=0.1, dropout=0.5, init_range=0.05),
    ),
    "torch.nn.LSTM LM (2 layers)": LMEntry(2, 640, _nn_lstm_lm),
    "AWD-LSTM LM (3 layers, DropConnect 0.5)": LMEntry(3, 1150, _awd_lm(AWD_LAYERS["lstm"], 0.5)),
    "AWD-LSTM LM, shared LSTM without DropConnect": LMEntry(
        3, 1150, _awd_lm(RecurrentLayer(lambda i, h, k, p: LSTM(i, h, batch_first=True), states=2), 0.0)
    ),
    "AWD-LSTM LM, torch.nn.LSTM layers": LMEntry(
        3, 1150, _awd_lm(RecurrentLayer(lambda i, h, k, p: nn.LSTM(i, h, batch_first=True), states=2), 0.0)
    ),
}


def lm_rows(
    vocab: int, batch: int, bptt: int, min_run_time: float, quick: bool = False, device: str = "cpu"
) -> list[LMRow]:
    """Tokens per second of one training step of each model of :data:`LM_MODELS`, the state
    carried from step to step as in training."""
    tokens = torch.randint(0, vocab, (batch, bptt + 1), generator=torch.Generator().manual_seed(0)).to(device)
    rows = []
    for name, entry in LM_MODELS.items():
        hidden = 16 if quick else entry.hidden
        torch.manual_seed(0)
        model = entry.build(vocab, hidden).to(device).train()
        optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
        carried: list = [None]

        def step(
            model: nn.Module = model, optimizer: torch.optim.Optimizer = optimizer, carried: list = carried
        ) -> None:
            logits, state = model(tokens[:, :-1], carried[0])
            carried[0] = tuple(s.detach() for s in state)
            loss = F.cross_entropy(logits.reshape(-1, vocab), tokens[:, 1:].reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimizer.step()

        seconds = _median_seconds(step, min_run_time)
        rows.append(
            LMRow(name, f"{entry.layers}x{hidden}, batch {batch} x {bptt}, vocab {vocab}", batch * bptt, seconds)
        )
    return rows


def default_paths(full: bool, device: str) -> tuple[Path, Path]:
    """Where the JSON and the markdown grid go unless --out / --table say otherwise:
    ``bench/qrnn_{results,speed}[_full][_cuda].{json,md}``."""
    suffix = ("_full" if full else "") + device_suffix(device)
    return HERE / f"qrnn_results{suffix}.json", HERE / f"qrnn_speed{suffix}.md"


#: Reviews of 256 tokens (about IMDb's mean length) over a 20,000-word vocabulary; the model, the
#: batch (24) and the optimizer (RMSProp) are the paper profile's of papers/qrnn.
IMDB_LENGTH, IMDB_VOCAB = 256, 20_000


def imdb_rows(min_run_time: float, quick: bool = False, device: str = "cpu") -> list[LMRow]:
    """Seconds per training step of Table 1's IMDb classifier (``imdb_qrnn`` / ``imdb_lstm`` at
    their paper profile: 4 densely connected layers of 256, 300-d embeddings), built by
    ``papers/qrnn`` and trained by its registered optimizer. Table 1 reports time per epoch: the
    QRNN about 3x faster than cuDNN's LSTM (recalled)."""
    configs = [QRNN_PAPER.config(task, "paper") for task in ("imdb_qrnn", "imdb_lstm")]
    if quick:
        configs = [replace(cfg, model=replace(cfg.model, hidden=8, emb_size=8)) for cfg in configs]
    # One batch for both: the two tasks share the recipe (params.yaml's &imdb_train).
    batch, length, vocab = (2, 8, 50) if quick else (configs[0].train.batch_size, IMDB_LENGTH, IMDB_VOCAB)
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(1, vocab, (batch, length), generator=generator).to(device)
    lengths = torch.full((batch,), length, device=device)
    labels = torch.randint(0, 2, (batch,), generator=generator).to(device)
    rows = []
    for cfg in configs:
        torch.manual_seed(0)
        model = build_qrnn_model(cfg, SimpleNamespace(vocab_size=vocab, num_classes=2)).to(device).train()
        optimizer = lookup_optimizer(cfg.train.optimizer).factory(list(model.parameters()), cfg.train)

        def step(model: nn.Module = model, optimizer: torch.optim.Optimizer = optimizer) -> None:
            loss = F.cross_entropy(model(tokens, lengths), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        m = cfg.model
        name = f"IMDb classifier, {m.layers} dense {m.arch.upper()} layers" + (
            f", window {m.window}" if m.arch == "qrnn" else ""
        )
        shape = f"{m.layers}x{m.hidden}, emb {m.emb_size}, batch {batch} x {length}, vocab {vocab}"
        rows.append(LMRow(name, shape, batch * length, _median_seconds(step, min_run_time)))
    return rows


def grid(quick: bool, full: bool) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """Batch sizes, sequence lengths and units of the layer comparison."""
    if quick:
        return (2, 4), (8, 32), 16
    return (FULL_BATCHES, FULL_LENGTHS, HIDDEN) if full else (QUICK_BATCHES, QUICK_LENGTHS, HIDDEN)


def markdown(
    layer: list[LayerRow],
    lm: list[LMRow],
    info: dict,
    command: str = "python -m bench.qrnn",
    imdb: list[LMRow] | None = None,
) -> str:
    """The speed-up grid (ours forward / forward+backward; the paper's GPU inference) and the LM rows."""
    lengths = sorted({r.length for r in layer})
    cells = {(r.batch, r.length, r.mode): r.speedup for r in layer}
    lines = [
        f"# QRNN speed on this machine vs the paper's Fig. 4 (generated by `{command}`)",
        "",
        machine_line(info) + ".",
        "",
        f"Speed-up of one QRNN layer (window 2, fo-pooling) over one `torch.nn.LSTM` layer, {HIDDEN} units:",
        f"LSTM time / QRNN time, **ours on this {'GPU' if 'gpu' in info else 'CPU'}: forward / forward+backward**;"
        " *paper: GPU inference*",
        "(QRNN vs cuDNN LSTM). Above 1: the QRNN is faster.",
        "",
        "| batch | " + " | ".join(f"T {t}" for t in lengths) + " |",
        "|---" * (len(lengths) + 1) + "|",
    ]
    for batch in sorted({r.batch for r in layer}):
        row = []
        for t in lengths:
            paper = (
                PAPER_GRID.get(batch, ())[FULL_LENGTHS.index(t)] if t in FULL_LENGTHS and batch in PAPER_GRID else None
            )
            ours = f"**{cells[batch, t, 'forward']:.2f} / {cells[batch, t, 'forward+backward']:.2f}**"
            row.append(ours + (f"; *{paper}*" if paper is not None else ""))
        lines.append(f"| {batch} | " + " | ".join(row) + " |")
    lines += [
        "",
        "Training step of the PTB language model (forward, loss, backward, SGD update; the paper's",
        "Fig. 4 left: ~150 ms QRNN vs ~290 ms cuDNN LSTM per batch of 20 x 105 on a GPU):",
        "",
        "| model | shape | tokens/s | s/step |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r.name} | {r.shape} | {r.tokens_per_s:,.0f} | {r.seconds:.3f} |" for r in lm]
    if imdb:
        lines += [
            "",
            "Training step of the IMDb classifier (forward, loss, backward, RMSProp update; the paper's",
            "Table 1 reports time per epoch, the QRNN about 3x faster than cuDNN's LSTM, recalled):",
            "",
            "| model | shape | tokens/s | s/step |",
            "|---|---|---|---|",
        ]
        lines += [f"| {r.name} | {r.shape} | {r.tokens_per_s:,.0f} | {r.seconds:.3f} |" for r in imdb]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="the JSON (default: bench/qrnn_results[_full][_cuda].json)")
    parser.add_argument("--table", type=Path, help="the markdown grid (default: bench/qrnn_speed[_full][_cuda].md)")
    parser.add_argument("--full", action="store_true", help="the paper's whole grid (6 batch sizes x 5 lengths)")
    parser.add_argument("--quick", action="store_true", help="tiny shapes: checks the harness, measures nothing")
    parser.add_argument("--min-run-time", type=float, default=0.5, help="seconds per timed measurement")
    add_device_argument(parser)
    args = parser.parse_args(argv)
    gpu = device_info(parser, args.device)
    default_out, default_table = default_paths(args.full, args.device)
    out, table_path = args.out or default_out, args.table or default_table

    min_run_time = 0.01 if args.quick else args.min_run_time
    batches, lengths, hidden = grid(args.quick, args.full)
    print(f"measuring the layer grid ({len(batches)} x {len(lengths)}) ...", file=sys.stderr, flush=True)
    layer = layer_rows(batches, lengths, hidden, min_run_time, args.device)
    print("measuring the language-model training steps ...", file=sys.stderr, flush=True)
    lm = lm_rows(*((50, 2, 8) if args.quick else (10_000, 20, 105)), min_run_time, args.quick, args.device)
    print("measuring the IMDb classifier's training steps ...", file=sys.stderr, flush=True)
    imdb = imdb_rows(min_run_time, args.quick, args.device)
    info = machine() | gpu
    result = {
        "machine": info,
        "quick": args.quick,
        "full_grid": args.full,
        "unit": "seconds per call (median); speedup = LSTM seconds / QRNN seconds",
        "layer": [asdict(r) | {"speedup": r.speedup} for r in layer],
        "lm_step": [asdict(r) | {"tokens_per_s": r.tokens_per_s} for r in lm],
        "imdb_step": [asdict(r) | {"tokens_per_s": r.tokens_per_s} for r in imdb],
        "paper_grid": {str(b): list(v) for b, v in PAPER_GRID.items()},
    }
    write_json(out, result)
    command = (
        "python -m bench.qrnn" + (" --full" if args.full else "") + (" --device cuda" if args.device == "cuda" else "")
    )
    table = markdown(layer, lm, info, command, imdb)
    table_path.write_text(table)
    print(table)
    print(f"wrote {out} and {table_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
