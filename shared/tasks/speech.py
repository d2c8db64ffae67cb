r"""Speech recognition with CTC: spectrogram features, character targets, greedy and prefix beam
search decoding, error rates (the family of Deep Speech 2, Amodei et al. 2016).

Features (:func:`log_spectrogram`): the waveform is power-normalised (scaled to unit mean power),
cut into 20 ms Hamming windows every 10 ms, and each window's power spectrum is taken through
``torch.stft`` (at 8 kHz: 160-sample windows, 81 frequency bins), then its log; every frequency bin
is then standardised with the mean and standard deviation of the training frames. (The paper:
"log spectrograms of power normalized audio clips, calculated on 20 ms windows", Sec. 3.1.)

Targets: characters of :data:`ALPHABET`, the paper's English output set: the blank (index 0), space,
apostrophe and the 26 letters, 29 classes. The model maps ``(features (N, T, F), lengths (N,))`` to
``(log_probs (T', N, 29), out_lengths (N,))``: log-softmax outputs, time-major, and how many of them
each utterance has (a strided front end shortens time).

Loss: CTC (Graves et al. 2006), :math:`\mathcal{L}(x, y) = -\log \sum_{\ell \in \mathrm{Align}(x, y)}
\prod_t p_{\mathrm{ctc}}(\ell_t \mid x)` (the paper's Sec. 3.3), by ``torch.nn.functional.ctc_loss``,
summed over a batch's utterances and divided by their number (a mean per utterance).

Batches (:class:`SpeechRecognition`): utterances of similar length, padded; every epoch's minibatches
come in a random order, except that with ``sortagrad`` the first epoch's come in increasing order of
their longest utterance (SortaGrad, the paper's Sec. 3.3).

Evaluation: greedy (best path) decoding by default, or CTC prefix beam search
(:func:`prefix_beam_search`); character and word error rates in percent from ``jiwer``. Metric:
``cer``; ``wer`` is a secondary metric.
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pad_sequence

from shared.tasks.base import evaluation_mode, length_batches

#: The blank (index 0, written ``_`` here), space, apostrophe, ``a``-``z``: the paper's English outputs.
ALPHABET = ("_", " ", "'", *string.ascii_lowercase)
BLANK = 0
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
DECODERS = ("greedy", "beam")

Batch = tuple[Tensor, Tensor, Tensor, Tensor]  # features (N, T, F), lengths (N,), targets (sum S,), target lengths (N,)


def encode(text: str) -> Tensor:
    """The label ids of ``text`` (lower case letters, spaces, apostrophes)."""
    unknown = sorted(set(text) - set(ALPHABET[1:]))
    if unknown:
        raise ValueError(f"encode: {text!r} has characters outside the alphabet: {unknown}")
    return torch.tensor([_INDEX[c] for c in text], dtype=torch.long)


def decode(ids: Sequence[int]) -> str:
    """The text of label ids (no blanks expected)."""
    return "".join(ALPHABET[i] for i in ids)


def log_spectrogram(wave: Tensor, sample_rate: int, window_ms: float = 20.0, hop_ms: float = 10.0) -> Tensor:
    """``(frames, window // 2 + 1)`` log power spectrogram of the power-normalised ``wave`` (1-D).

    ``frames = 1 + (len - window) // hop`` (no padding at the ends; a wave shorter than one window
    is zero-padded to one window).
    """
    window = round(sample_rate * window_ms / 1000)
    hop = round(sample_rate * hop_ms / 1000)
    power = wave.pow(2).mean()
    # Power normalisation: unit mean power (a silent wave is left as it is).
    wave = wave / power.sqrt() if power > 0 else wave
    if wave.numel() < window:
        wave = F.pad(wave, (0, window - wave.numel()))
    spectrum = torch.stft(
        wave,
        n_fft=window,
        hop_length=hop,
        win_length=window,
        window=torch.hamming_window(window, dtype=wave.dtype),
        center=False,
        return_complex=True,
    )
    # eps: the log of an exactly silent bin (the silences between connected digits) stays finite.
    return spectrum.abs().pow(2).add(1e-10).log().T.contiguous()


def greedy_decode(log_probs: Tensor) -> list[int]:
    """Best-path decoding of one utterance's ``(T, C)`` outputs: the most probable symbol of every
    step, repeats merged, blanks removed."""
    best = log_probs.argmax(-1).tolist()
    return [s for t, s in enumerate(best) if s != BLANK and (t == 0 or s != best[t - 1])]


def _logsumexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    high = max(a, b)
    return high + math.log1p(math.exp(-abs(a - b)))


def _merge(beams: dict[tuple[int, ...], list[float]], prefix: tuple[int, ...], p_b: float, p_nb: float) -> None:
    """Add the log probabilities ``(p_b, p_nb)`` of new alignments to ``prefix``'s in ``beams``."""
    entry = beams.setdefault(prefix, [-math.inf, -math.inf])
    entry[0] = _logsumexp(entry[0], p_b)
    entry[1] = _logsumexp(entry[1], p_nb)


def prefix_beam_search(log_probs: Tensor, beam_width: int) -> tuple[list[int], float]:
    r"""CTC prefix beam search (Hannun et al. 2014, without a language model) over one utterance's
    ``(T, C)`` log-probabilities: a labelling and its log probability :math:`\log p(y \mid x)`.

    Each prefix carries the log probabilities of its alignments so far that end in a blank
    (:math:`p_b`) and in its last symbol (:math:`p_{nb}`). At step :math:`t`, a prefix stays the same
    through a blank (:math:`(p_b + p_{nb})\,y_\_`) or a repeat of its last symbol
    (:math:`p_{nb}\,y_{last}`), and grows by a symbol :math:`c` (:math:`(p_b + p_{nb})\,y_c`, or only
    :math:`p_b\,y_c` when :math:`c` repeats its last symbol: a repeat needs a blank between). The
    ``beam_width`` prefixes of highest :math:`p_b + p_{nb}` are kept, ties in the order the search
    met them. At the end, the kept prefixes and the greedy labelling are rescored with their exact
    probability (every alignment, :func:`labelling_log_probs`; the search's own sums miss the
    alignments it pruned) and the most probable is returned: never less probable than greedy
    decoding's labelling.

    With a beam wide enough to keep every prefix, the result is the most probable labelling. At
    beam 1 it keeps one prefix, not one path: it equals greedy decoding when every step's most
    probable symbol has probability above :math:`1/\sqrt{2}` (otherwise it may differ, and then
    its labelling is the more probable one).
    """
    if beam_width < 1:
        raise ValueError(f"prefix_beam_search: beam_width {beam_width} must be >= 1")
    rows = log_probs.double().tolist()
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -math.inf)}
    for row in rows:
        blank = row[BLANK]
        grown: dict[tuple[int, ...], list[float]] = {}
        for prefix, (p_b, p_nb) in beams.items():
            total = _logsumexp(p_b, p_nb)
            last = prefix[-1] if prefix else None
            _merge(grown, prefix, total + blank, p_nb + row[last] if last is not None else -math.inf)
            for c, y in enumerate(row):
                if c != BLANK:
                    _merge(grown, prefix + (c,), -math.inf, (p_b if c == last else total) + y)
        ranked = sorted(grown.items(), key=lambda item: -_logsumexp(*item[1]))
        beams = {prefix: (p[0], p[1]) for prefix, p in ranked[:beam_width]}
    # Rescoring: the final prefixes and the greedy labelling, each with its exact probability.
    candidates = [list(prefix) for prefix in beams]
    greedy = greedy_decode(log_probs)
    if greedy not in candidates:
        candidates.append(greedy)
    scores = labelling_log_probs(log_probs, candidates)
    best = max(range(len(candidates)), key=lambda k: scores[k])  # ties: the first, in beam order
    return candidates[best], scores[best]


def labelling_log_probs(log_probs: Tensor, labellings: Sequence[Sequence[int]]) -> list[float]:
    r""":math:`\log p(y \mid x)` of every labelling ``y`` of ``labellings`` under one utterance's
    ``(T, C)`` outputs, summed over all alignments (minus torch's CTC loss, one batched call)."""
    n = len(labellings)
    longest = max((len(y) for y in labellings), default=0)
    targets = torch.zeros(n, max(longest, 1), dtype=torch.long)
    for k, y in enumerate(labellings):
        targets[k, : len(y)] = torch.tensor(list(y), dtype=torch.long)
    losses = F.ctc_loss(
        log_probs.double().unsqueeze(1).expand(-1, n, -1),
        targets,
        torch.full((n,), log_probs.size(0), dtype=torch.long),
        torch.tensor([len(y) for y in labellings], dtype=torch.long),
        blank=BLANK,
        reduction="none",
    )
    return (-losses).tolist()


def labelling_log_prob(log_probs: Tensor, labels: Sequence[int]) -> float:
    """:func:`labelling_log_probs` of one labelling."""
    return labelling_log_probs(log_probs, [labels])[0]


def error_rates(references: list[str], hypotheses: list[str]) -> dict[str, float]:
    """Character and word error rates (percent) of ``hypotheses`` against ``references``, by jiwer
    (edit distance over the corpus divided by the references' characters / words)."""
    import jiwer  # imported here: only speech tasks need it

    return {"cer": 100.0 * jiwer.cer(references, hypotheses), "wer": 100.0 * jiwer.wer(references, hypotheses)}


class SpeechRecognition:
    """A CTC speech task over in-memory ``(features, transcript)`` utterances (see the module docstring).

    ``train`` and ``test`` are lists of ``(features (T, F), transcript)``; features are
    standardised per frequency bin with the training frames' statistics. ``decoder`` is
    ``greedy`` or ``beam`` (prefix beam search of ``beam_width``) for evaluation. ``limit_*``
    keep the first utterances (smoke runs).
    """

    metric = "cer"
    higher_is_better = False
    has_valid = False
    secondary_metrics = ("wer",)

    def __init__(
        self,
        train: list[tuple[Tensor, str]],
        test: list[tuple[Tensor, str]],
        batch_size: int,
        device: torch.device,
        sortagrad: bool = True,
        decoder: str = "greedy",
        beam_width: int = 1,
        eval_batch_size: int = 64,
        frame_seconds: float = 0.01,
    ) -> None:
        if decoder not in DECODERS:
            raise ValueError(f"decoder {decoder!r} is not one of {DECODERS}")
        if not train or not test:
            raise ValueError("SpeechRecognition: the train and test sets must not be empty")
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.device = device
        self.sortagrad = sortagrad
        self.decoder = decoder
        self.beam_width = beam_width
        self.frame_seconds = frame_seconds
        frames = torch.cat([f for f, _ in train])
        self.mean, self.std = frames.mean(0), frames.std(0).clamp_min(1e-5)
        self.input_size = frames.size(1)
        self.output_size = len(ALPHABET)
        self.train = [((f - self.mean) / self.std, text, encode(text)) for f, text in train]
        self.test = [((f - self.mean) / self.std, text, encode(text)) for f, text in test]
        self.train_lengths = [len(f) for f, _, _ in self.train]

    @property
    def train_seconds(self) -> float:
        """Seconds of audio in one epoch of the training set (the frames' hop times their number)."""
        return sum(self.train_lengths) * self.frame_seconds

    def _collate(self, items: list[tuple[Tensor, str, Tensor]]) -> Batch:
        features = pad_sequence([f for f, _, _ in items], batch_first=True).to(self.device)
        lengths = torch.tensor([len(f) for f, _, _ in items], device=self.device)
        targets = torch.cat([t for _, _, t in items]).to(self.device)
        target_lengths = torch.tensor([len(t) for _, _, t in items], device=self.device)
        return features, lengths, targets, target_lengths

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[list[int]]:
        if self.sortagrad and epoch == 1:
            # SortaGrad: the batches of similar lengths, shortest first (ties by index: stable).
            order = sorted(range(len(self.train)), key=lambda i: self.train_lengths[i])
            return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        return length_batches(self.train_lengths, self.batch_size, generator)

    def train_loss(self, model: nn.Module, batch: list[int]) -> Tensor:
        features, lengths, targets, target_lengths = self._collate([self.train[i] for i in batch])
        log_probs, out_lengths = model(features, lengths)
        loss = F.ctc_loss(log_probs, targets, out_lengths, target_lengths, blank=BLANK, reduction="sum")
        return loss / len(batch)

    def transcribe(self, model: nn.Module, features: list[Tensor]) -> list[str]:
        """The decoded transcripts of already standardised ``features`` (evaluation mode)."""
        return self._run(model, [(f, "", torch.zeros(0, dtype=torch.long)) for f in features], with_loss=False)[1]

    def _run(
        self, model: nn.Module, items: list[tuple[Tensor, str, Tensor]], with_loss: bool
    ) -> tuple[float, list[str]]:
        """The summed CTC loss (0 without ``with_loss``) and the decoded transcripts of ``items``,
        in batches of ``eval_batch_size`` utterances of similar length."""
        hypotheses = [""] * len(items)
        order = sorted(range(len(items)), key=lambda i: len(items[i][0]))
        loss = 0.0
        with evaluation_mode(model):
            for start in range(0, len(order), self.eval_batch_size):
                chunk = order[start : start + self.eval_batch_size]
                features, lengths, targets, target_lengths = self._collate([items[i] for i in chunk])
                log_probs, out_lengths = model(features, lengths)
                if with_loss:
                    loss += F.ctc_loss(
                        log_probs, targets, out_lengths, target_lengths, blank=BLANK, reduction="sum"
                    ).item()
                for k, i in enumerate(chunk):
                    hypotheses[i] = decode(self.decode(log_probs[: out_lengths[k], k].cpu()))
        return loss, hypotheses

    def decode(self, log_probs: Tensor) -> list[int]:
        """One utterance's labels from its ``(T, C)`` outputs, by the configured decoder."""
        if self.decoder == "greedy":
            return greedy_decode(log_probs)
        return prefix_beam_search(log_probs, self.beam_width)[0]

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        if split != "test":
            raise ValueError(f"SpeechRecognition has no {split!r} split (only test)")
        loss, hypotheses = self._run(model, self.test, with_loss=True)
        return {"loss": loss / len(self.test), **error_rates([text for _, text, _ in self.test], hypotheses)}


FSDD_KINDS = ("isolated", "connected")


def fsdd_recognition(
    kind: str,
    batch_size: int,
    device: torch.device,
    *,
    holdout_speaker: str | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
    data_seed: int = 2016,
    sortagrad: bool = True,
    decoder: str = "greedy",
    beam_width: int = 1,
    eval_batch_size: int = 64,
    limit_train: int | None = None,
    limit_eval: int | None = None,
) -> SpeechRecognition:
    """A :class:`SpeechRecognition` task on the Free Spoken Digit Dataset (:mod:`shared.data.fsdd`).

    * ``kind="isolated"``: every recording is one utterance, its transcript the spelled digit
      (``"seven"``).
    * ``kind="connected"``: ``n_train`` / ``n_test`` utterances of 2 to 7 recordings of one
      speaker joined by 50-250 ms of silence (:func:`shared.data.fsdd.connected_digits`, training
      strings drawn with ``data_seed``, test strings with ``data_seed + 1``), transcripts the digit
      words separated by spaces.

    Speakers and takes: by default the official split (takes 5-49 of every speaker train, takes 0-4
    test). With ``holdout_speaker`` (speaker-independent), training uses the training takes of the
    other five speakers and the test set is every take of the held-out speaker. The data depend on
    ``data_seed`` only, never on a run's seed, so every model of a comparison sees the same
    utterances. ``limit_*`` keep a seeded random sample of that many utterances (smoke runs).
    """
    from shared.data import fsdd  # imported here: the other speech datasets need none of it

    if kind not in FSDD_KINDS:
        raise ValueError(f"kind {kind!r} is not one of {FSDD_KINDS}")
    if (kind == "connected") != (n_train is not None and n_test is not None):
        raise ValueError("n_train and n_test are the sizes of the connected-digit sets (kind connected only)")
    if holdout_speaker is not None and holdout_speaker not in fsdd.SPEAKERS:
        raise ValueError(f"holdout_speaker {holdout_speaker!r} is not one of {fsdd.SPEAKERS}")
    recordings = fsdd.load()
    if holdout_speaker is None:
        train_pool, test_pool = recordings.select(split="train"), recordings.select(split="test")
    else:
        others = tuple(s for s in fsdd.SPEAKERS if s != holdout_speaker)
        train_pool, test_pool = recordings.select(others, "train"), recordings.select((holdout_speaker,))
    generator = torch.Generator().manual_seed(data_seed)

    def utterances(pool: list[int], count: int | None, seed: int, cap: int | None) -> list[tuple[Tensor, str]]:
        if kind == "isolated":
            waves = [(recordings.waves[i], fsdd.DIGIT_WORDS[recordings.digits[i]]) for i in pool]
            waves = [waves[i] for i in torch.randperm(len(waves), generator=generator).tolist()]
        else:
            waves = [fsdd.render(recordings, u) for u in fsdd.connected_digits(recordings, pool, count, seed)]
        return [(log_spectrogram(w, fsdd.SAMPLE_RATE), text) for w, text in waves[:cap]]

    return SpeechRecognition(
        utterances(train_pool, n_train, data_seed, limit_train),
        utterances(test_pool, n_test, data_seed + 1, limit_eval),
        batch_size,
        device,
        sortagrad=sortagrad,
        decoder=decoder,
        beam_width=beam_width,
        eval_batch_size=eval_batch_size,
    )


def librispeech_recognition(
    batch_size: int,
    device: torch.device,
    *,
    sortagrad: bool = True,
    decoder: str = "beam",
    beam_width: int = 500,
    eval_batch_size: int = 64,
    limit_train: int | None = None,
    limit_eval: int | None = None,
) -> SpeechRecognition:
    """A :class:`SpeechRecognition` task on LibriSpeech (bring your own data:
    :mod:`shared.data.librispeech`): the 960 hours of training subsets, tested on ``test-clean``."""
    from shared.data import librispeech

    folders = librispeech.require_subsets((*librispeech.TRAIN, librispeech.TEST))

    def utterances(names: tuple[str, ...], cap: int | None) -> list[tuple[Tensor, str]]:
        waves = [u for name in names for u in librispeech.read_subset(folders[name])][:cap]
        return [(log_spectrogram(w, librispeech.SAMPLE_RATE), text) for w, text in waves]

    return SpeechRecognition(
        utterances(librispeech.TRAIN, limit_train),
        utterances((librispeech.TEST,), limit_eval),
        batch_size,
        device,
        sortagrad=sortagrad,
        decoder=decoder,
        beam_width=beam_width,
        eval_batch_size=eval_batch_size,
    )
