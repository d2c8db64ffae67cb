"""ConvS2S against the GRU encoder-decoder on this machine (``make bench`` runs it): training
tokens per second and generation sentences per second (the paper's Table 3 measures generation).

``python -m bench.convs2s`` builds the two models of the Multi30k cpu profiles, ConvS2S
(``papers/convs2s``, task ``multi30k``) and Cho et al.'s RNN Encoder-Decoder with GRUs
(``papers/gru``, task ``multi30k_gru``), both over vocabularies of 6,000 words, and times

* ``train``: one training step (forward, mean NLL per target token, backward, gradient clipping,
  each model's own optimizer and clipping: Nesterov SGD for ConvS2S, Adam for the GRU) on a batch of 64 pairs
  of 13 source and 14 target tokens (about Multi30k's mean lengths); reported as target tokens
  per second;
* ``generate``: the models' ``beam_search`` (what the translation task calls) of 100 sentences of 13 tokens (the
  cpu profiles' evaluation batch) at beam 1 (greedy) and 5, every hypothesis running the full
  14 steps (the models are untrained, so the eos logit is held at -inf: both decoders do the same
  number of steps); reported as sentences per second.

Random token ids, weights as initialised (speed does not depend on them). Each time is the
median of ``torch.utils.benchmark.Timer.blocked_autorange``, the two models of a row timed back
to back. It writes ``bench/convs2s_results.json`` and ``bench/convs2s_speed.md``. ``--quick``
shrinks every shape (for tests: it checks the harness, not the speed).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.benchmark import Timer

from bench.cells import machine
from papers.convs2s.__main__ import PAPER as CONVS2S
from papers.convs2s.model import ConvS2S, expand_layers
from papers.gru.__main__ import PAPER as GRU
from papers.gru.encoder_decoder import EncoderDecoder
from shared.tasks.translation import BOS, EOS, PAD
from shared.train.loop import make_optimizer

HERE = Path(__file__).resolve().parent
DEFAULT_OUT, DEFAULT_TABLE = HERE / "convs2s_results.json", HERE / "convs2s_speed.md"
MODELS = ("convs2s", "gru")


@dataclass(frozen=True)
class Shape:
    vocab: int
    batch: int
    src_len: int
    tgt_len: int
    sentences: int  #: generated per timed call
    beams: tuple[int, ...]


FULL = Shape(vocab=6000, batch=64, src_len=13, tgt_len=14, sentences=100, beams=(1, 5))
QUICK = Shape(vocab=50, batch=4, src_len=5, tgt_len=6, sentences=3, beams=(1, 2))


@dataclass
class Row:
    model: str
    measure: str  #: ``train`` or ``generate``
    beam: int | None
    seconds: float  #: median seconds of one call
    units: int  #: target tokens (train) or sentences (generate) per call

    @property
    def per_s(self) -> float:
        return self.units / self.seconds


def build(name: str, vocab: int, quick: bool) -> tuple[nn.Module, object]:
    """The model of the cpu profile of ``name`` (tiny with ``quick``) and its training config."""
    if name == "convs2s":
        cfg = CONVS2S.config("multi30k", "smoke" if quick else "cpu")
        m = cfg.model
        model: nn.Module = ConvS2S(
            vocab, vocab, m.emb_size, m.out_emb_size, expand_layers(m.encoder), expand_layers(m.decoder), m.dropout
        )
        with torch.no_grad():
            model.decoder.softmax.bias[EOS] = float("-inf")
    else:
        cfg = GRU.config("multi30k_gru", "smoke" if quick else "cpu")
        m = cfg.model
        model = EncoderDecoder(m.arch, vocab, vocab, m.hidden, m.emb_size, m.maxout_units, pad=PAD)
        with torch.no_grad():
            model.out_words.bias[EOS] = float("-inf")
    return model, cfg.train


def _time(fn: Callable[[], object], min_run_time: float) -> float:
    fn()  # warm-up: allocator, lazy initialisation, the optimizer's state
    return Timer(stmt="fn()", globals={"fn": fn}).blocked_autorange(min_run_time=min_run_time).median


def measure(shape: Shape, quick: bool, min_run_time: float) -> list[Row]:
    generator = torch.Generator().manual_seed(0)
    first = 4  # ids below are the specials
    src = torch.randint(first, shape.vocab, (shape.batch, shape.src_len), generator=generator)
    tgt = torch.randint(first, shape.vocab, (shape.batch, shape.tgt_len + 1), generator=generator)
    tgt[:, 0] = BOS
    lengths = torch.full((shape.batch,), shape.src_len)
    gen_src = torch.randint(first, shape.vocab, (shape.sentences, shape.src_len), generator=generator)
    gen_lengths = torch.full((shape.sentences,), shape.src_len)
    rows: list[Row] = []
    built = {}
    for name in MODELS:
        torch.manual_seed(0)
        built[name] = build(name, shape.vocab, quick)
    for name, (model, train_cfg) in built.items():
        optimizer = make_optimizer(model, train_cfg)

        clip = train_cfg.clip or float("inf")

        def step(model: nn.Module = model, optimizer: torch.optim.Optimizer = optimizer, clip: float = clip) -> None:
            logits = model(src, lengths, tgt[:, :-1])
            loss = F.cross_entropy(logits.flatten(0, 1), tgt[:, 1:].flatten())
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()

        model.train()
        print(f"timing {name} train ...", file=sys.stderr, flush=True)
        rows.append(Row(name, "train", None, _time(step, min_run_time), shape.batch * shape.tgt_len))
    for beam in shape.beams:
        for name, (model, _) in built.items():
            model.eval()
            print(f"timing {name} generate, beam {beam} ...", file=sys.stderr, flush=True)

            def generate(model: nn.Module = model, beam: int = beam) -> None:
                model.beam_search(gen_src, gen_lengths, BOS, EOS, beam, shape.tgt_len)

            rows.append(Row(name, "generate", beam, _time(generate, min_run_time), shape.sentences))
    return rows


def table(rows: list[Row]) -> str:
    """One line per measure: each model's rate and ConvS2S's over the GRU's."""
    lines = [
        "| measure | unit | ConvS2S | GRU enc-dec | ConvS2S / GRU |",
        "|---|---|---|---|---|",
    ]
    keys = list(dict.fromkeys((r.measure, r.beam) for r in rows))
    for measure, beam in keys:
        rate = {r.model: r.per_s for r in rows if (r.measure, r.beam) == (measure, beam)}
        label = "training step" if measure == "train" else f"generation, beam {beam}"
        unit = "target tokens/s" if measure == "train" else "sentences/s"
        lines.append(
            f"| {label} | {unit} | {rate['convs2s']:.1f} | {rate['gru']:.1f} | {rate['convs2s'] / rate['gru']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON (default: %(default)s)")
    parser.add_argument("--table", type=Path, default=DEFAULT_TABLE, help="the Markdown table (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="tiny shapes: checks the harness, measures nothing")
    parser.add_argument("--min-run-time", type=float, default=2.0, help="seconds per timed measurement")
    args = parser.parse_args(argv)
    shape = QUICK if args.quick else FULL
    rows = measure(shape, args.quick, 0.01 if args.quick else args.min_run_time)
    result = {
        "machine": machine(),
        "quick": args.quick,
        "shape": asdict(shape),
        "unit": "median seconds per call; train: one step on a batch; generate: beam search of `sentences`",
        "rows": [asdict(r) | {"per_s": r.per_s} for r in rows],
    }
    text = table(rows)
    header = (
        "# ConvS2S vs the GRU encoder-decoder on this CPU (`python -m bench.convs2s`)\n\n"
        f"Machine: {result['machine']['processor']}, {result['machine']['threads']} thread(s), "
        f"torch {result['machine']['torch']}. Shapes: {asdict(shape)}. The models of the Multi30k cpu "
        "profiles (papers/convs2s multi30k, papers/gru multi30k_gru). The paper's Table 3: ConvS2S "
        "generates WMT'14 En-Fr dev (6,003 sentences) in 142 s at beam 1 and 482 s at beam 5 on 48 CPU "
        "cores, GNMT in 1,322 s on 88 cores.\n\n"
    )
    for path, content in ((args.out, json.dumps(result, indent=2) + "\n"), (args.table, header + text + "\n")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    print(text)
    print(f"wrote {args.out} and {args.table}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
