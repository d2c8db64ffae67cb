"""Deep Speech 2's speed on this machine (``make bench`` runs it after the cells).

``python -m bench.deepspeech2`` builds the model of each task named in ``--tasks`` (default: the
claims' base ``connected_digits`` and ``connected_no_bn``) at its ``cpu`` profile, on the first
connected-digit strings of FSDD, and measures

* training throughput: seconds of audio trained on per wall-clock second (forward, CTC loss,
  backward, the Nesterov SGD step; batches of the profile's size, median of ``--repeats`` passes);
* the real-time factor of greedy decoding: wall-clock seconds to transcribe (forward in evaluation
  mode and best-path decoding) per second of audio; below 1 is faster than real time.

It writes ``bench/deepspeech2_results.json`` (with the machine) and prints a table. ``--quick``
uses a tiny model on random audio (for tests: it checks the harness, not the speed).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from bench import write_json
from bench.cells import machine
from papers.deepspeech2.__main__ import PAPER, build_model, build_task
from papers.deepspeech2.config import TaskConfig
from papers.deepspeech2.model import ConvLayer, DeepSpeech2
from shared.tasks.speech import SpeechRecognition, log_spectrogram
from shared.train.loop import make_optimizer

DEFAULT_OUT = Path(__file__).resolve().parent / "deepspeech2_results.json"
DEFAULT_TASKS = ("connected_digits", "connected_no_bn")


@dataclass
class Row:
    task: str
    parameters: int
    batch: int
    train_audio_s_per_s: float  #: seconds of audio trained on per wall-clock second
    decode_rtf: float  #: wall-clock seconds of greedy decoding per second of audio


def _passes(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(
    name: str, task: SpeechRecognition, model: torch.nn.Module, cfg: TaskConfig, steps: int, repeats: int
) -> Row:
    """Training throughput over ``steps`` batches and the decoding real-time factor over the test set."""
    optimizer = make_optimizer(model, cfg.train)
    batches = task.train_batches(2, torch.Generator().manual_seed(0))[:steps]
    audio = sum(task.train_lengths[i] for b in batches for i in b) * task.frame_seconds

    def train() -> None:
        model.train()
        for batch in batches:
            optimizer.zero_grad(set_to_none=True)
            task.train_loss(model, batch).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.clip or float("inf"))
            optimizer.step()

    features = [f for f, _, _ in task.test]
    test_audio = sum(len(f) for f in features) * task.frame_seconds
    train_s = _passes(train, repeats)
    decode_s = _passes(lambda: task.transcribe(model, features), repeats)
    n = sum(p.numel() for p in model.parameters())
    return Row(name, n, cfg.train.batch_size, audio / train_s, decode_s / test_audio)


def quick_rows() -> list[Row]:
    """A tiny model on random audio: exercises :func:`measure` without the data."""
    generator = torch.Generator().manual_seed(0)
    utterances = [(log_spectrogram(torch.randn(4000, generator=generator), 8000), "one two") for _ in range(8)]
    task = SpeechRecognition(utterances, utterances[:2], 4, torch.device("cpu"))
    cfg = PAPER.config("connected_digits", "smoke")
    model = DeepSpeech2(task.input_size, task.output_size, [ConvLayer(2, (5, 3), (2, 2))], 2, "rnn", 8, 1, 8, True)
    return [measure("quick", task, model, cfg, steps=2, repeats=1)]


def table(rows: list[Row]) -> str:
    lines = [
        "| task | parameters | batch | audio s trained / s | greedy decoding RTF |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.task} | {r.parameters:,} | {r.batch} | {r.train_audio_s_per_s:.1f} | {r.decode_rtf:.4f} |" for r in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.deepspeech2", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(DEFAULT_TASKS))
    parser.add_argument("--steps", type=int, default=8, help="training batches per timed pass")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny shapes on random audio (tests)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    if args.quick:
        rows = quick_rows()
    else:
        rows = []
        for name in args.tasks:
            cfg = PAPER.config(name, "cpu")
            # The first strings only: the timing needs some batches and the test set, not 1,000 strings.
            cfg.data.n_train, cfg.data.n_test = args.steps * cfg.train.batch_size, 100
            task = build_task(cfg, 1, torch.device("cpu"))
            rows.append(measure(name, task, build_model(cfg, task), cfg, args.steps, args.repeats))
    write_json(args.out, {"machine": machine(), "rows": [asdict(r) for r in rows]})
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
