r"""ConvS2S: the convolutional sequence-to-sequence model of Gehring et al. (2017), "Convolutional
Sequence to Sequence Learning" (ICML 2017, arXiv:1705.03122).

Section numbers are the paper's; its only numbered equations are those of the multi-step
attention, (1)-(3) in Sec. 3.3 (numbering as in arXiv v3).

**Embeddings (Sec. 3.1).** A token and its absolute position are embedded and summed,
:math:`e_j = w_j + p_j` (source) and :math:`g_i = w_i + p_i` (target), both of ``emb_size``
dimensions; ``source_positions`` / ``target_positions`` switch :math:`p` off (the ablation of
Table 4). A linear map takes :math:`e` (or :math:`g`) to the width of the first block.

**Convolutional blocks (Sec. 3.2).** Block :math:`l` convolves the previous block's output
:math:`h^{l-1}` with kernel width :math:`k`, giving :math:`2d` channels, gates them with a gated
linear unit :math:`v([A\;B]) = A \otimes \sigma(B)` (Dauphin et al. 2016) and adds the block's
input back (a linear projection of it when the width changes):

.. math:: h_i^l = v\bigl(W^l [h_{i-k/2}^{l-1}, \dots, h_{i+k/2}^{l-1}] + b_w^l\bigr) + h_i^{l-1}.

The encoder pads :math:`(k-1)/2` zero vectors on each side (output length = input length; a
padding token's vector is zeroed before every convolution, so that a sentence is encoded alike
alone or next to longer ones). The decoder pads :math:`k-1` zero vectors on the *left* only, so
that its output :math:`i` sees targets :math:`\le i` and never a later one (Sec. 3.2).

**Multi-step attention (Sec. 3.3), in every decoder block ``l`` (or those of
``attention_layers``, Table 5).** With the decoder state :math:`h_i^l` after the GLU, the
encoder's last output :math:`z_j^u` (keys) and the source embeddings :math:`e_j`:

.. math::

    d_i^l &= W_d^l h_i^l + b_d^l + g_i && \text{(1)} \\
    a_{ij}^l &= \frac{\exp(d_i^l \cdot z_j^u)}{\sum_{t=1}^m \exp(d_i^l \cdot z_t^u)} && \text{(2)} \\
    c_i^l &= \sum_{j=1}^m a_{ij}^l \, (z_j^u + e_j) && \text{(3)}

and :math:`c_i^l`, mapped back to the block's width, is added to :math:`h_i^l` before the
block's residual sum. Each block's attention reads the states of the block below, which already
attended: that is what makes it multi-step.

**Output (Sec. 3.3).** :math:`p(y_{i+1} \mid y_1, \dots, y_i, \mathbf{x}) = \mathrm{softmax}(W_o
h_i^L + b_o)`, through a linear map to ``out_emb_size`` dimensions first (the decoder's output
embedding, Sec. 4.2).

**Normalisation (Sec. 3.4).** The sum of a residual block's input and output is multiplied by
:math:`\sqrt{0.5}` (it halves the variance of the sum); so are the two sums of Eq. (1)'s
:math:`W_d h + g` and Eq. (3)'s :math:`z + e`, and the sum of :math:`h_i^l` and the projected
:math:`c_i^l` (the official fairseq ``fconv`` does all four; the paper states the principle).
The conditional input :math:`c_i^l`, a weighted sum of :math:`m` vectors, is multiplied by
:math:`m \sqrt{1/m}` (:math:`m` = the sentence's own source length, padding excluded). The
gradient flowing into the encoder's blocks is divided by the number of attention mechanisms
(:class:`ScaleGradient` on :math:`z`; the source embeddings :math:`e` of Eq. (3) are excluded,
as the paper says). Deviation flag: fairseq divides by twice that number (keys and values);
here the paper's factor.

**Initialisation (Sec. 3.5).** Embeddings :math:`\mathcal{N}(0, 0.1)`; a layer whose output
feeds a GLU :math:`\mathcal{N}(0, \sqrt{4p/n_l})`, every other layer :math:`\mathcal{N}(0,
\sqrt{p/n_l})`, where :math:`n_l` is the number of inputs of a neuron and :math:`p` the
probability of *keeping* a unit under the dropout applied to the layer's input (1 where none);
biases zero. Every layer but the lookup tables is weight-normalised (Salimans & Kingma 2016;
``torch.nn.utils.parametrizations.weight_norm``, one norm per output unit, its gain starting at
the initial norm so that the initial function is the one just drawn).

**Dropout (Sec. 3.5).** On the embeddings, on the input of every convolution and on the
decoder's output before the final linear map (rate ``dropout``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

from shared.tasks.translation import beam_search

#: A stack of convolutional blocks: ``(channels, kernel width)`` per block, bottom first.
LayerSpec = Sequence[tuple[int, int]]


def expand_layers(blocks: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """``[[channels, kernel, count], ...]`` (the paper's "512 units in the first ten layers, 768
    in the next three, ...") as one ``(channels, kernel)`` per block."""
    layers = []
    for block in blocks:
        if len(block) != 3 or min(block) < 1:
            raise ValueError(f"a layer block is [channels, kernel, count], each >= 1; got {list(block)}")
        channels, kernel, count = block
        layers += [(channels, kernel)] * count
    return layers


def _linear(in_features: int, out_features: int, keep: float = 1.0) -> nn.Module:
    """A weight-normalised linear map initialised from N(0, sqrt(keep / in_features)) (Sec. 3.5)."""
    m = nn.Linear(in_features, out_features)
    nn.init.normal_(m.weight, 0.0, math.sqrt(keep / in_features))
    nn.init.zeros_(m.bias)
    return weight_norm(m)


def _glu_conv(in_channels: int, channels: int, kernel: int, keep: float) -> nn.Module:
    """A weight-normalised convolution to ``2 * channels`` (the GLU's A and B) from N(0, sqrt(4 keep
    / (kernel in_channels))) (Sec. 3.5); no padding of its own: the caller pads."""
    m = nn.Conv1d(in_channels, 2 * channels, kernel)
    nn.init.normal_(m.weight, 0.0, math.sqrt(4.0 * keep / (kernel * in_channels)))
    nn.init.zeros_(m.bias)
    return weight_norm(m)


def _embedding(num: int, dim: int, pad: int | None) -> nn.Embedding:
    m = nn.Embedding(num, dim, padding_idx=pad)
    nn.init.normal_(m.weight, 0.0, 0.1)
    if pad is not None:
        with torch.no_grad():
            m.weight[pad].zero_()
    return m


class ScaleGradient(torch.autograd.Function):
    """The identity forward; the gradient multiplied by ``scale`` backward (Sec. 3.4)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad * ctx.scale, None


class ConvBlock(nn.Module):
    r"""One residual GLU block (Sec. 3.2): dropout, convolution of width ``kernel``, GLU, and the
    residual added by the caller (the decoder attends in between). ``residual`` projects the input
    to ``channels`` when the width changes."""

    def __init__(self, in_channels: int, channels: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.kernel = kernel
        self.dropout = dropout
        self.conv = _glu_conv(in_channels, channels, kernel, 1.0 - dropout)
        self.residual = _linear(in_channels, channels) if in_channels != channels else None

    def skip(self, x: torch.Tensor) -> torch.Tensor:
        """The residual branch of input ``x`` ``(N, L, C_in)``."""
        return x if self.residual is None else self.residual(x)

    def forward(self, x: torch.Tensor, left: int, right: int) -> torch.Tensor:
        """GLU of the convolution of ``x`` ``(N, L, C_in)`` padded with ``left``/``right`` zero
        steps; ``(N, L + left + right - kernel + 1, channels)``."""
        x = F.dropout(x, self.dropout, self.training)
        x = F.pad(x.transpose(1, 2), (left, right))
        return F.glu(self.conv(x), dim=1).transpose(1, 2)


class ConvEncoder(nn.Module):
    """The encoder (Sec. 3.1-3.2): embeddings, residual GLU blocks with centred convolutions, and a
    linear map back to ``emb_size``. :meth:`forward` returns the keys :math:`z^u` and the values
    :math:`(z^u + e)\\sqrt{0.5}` of the attention, both ``(N, S, emb_size)``."""

    def __init__(
        self,
        vocab: int,
        emb_size: int,
        layers: LayerSpec,
        dropout: float,
        max_positions: int,
        positions: bool = True,
        pad: int = 0,
    ) -> None:
        super().__init__()
        even = [k for _, k in layers if k % 2 == 0]
        if even:
            raise ValueError(f"the encoder's kernel widths must be odd (centred convolutions); got {even[0]}")
        self.pad, self.dropout = pad, dropout
        self.grad_scale = 1.0  # 1 / the number of attention mechanisms, set by ConvS2S
        self.embed = _embedding(vocab, emb_size, pad)
        self.positions = _embedding(max_positions, emb_size, None) if positions else None
        self.fc_in = _linear(emb_size, layers[0][0], 1.0 - dropout)
        widths = [layers[0][0]] + [c for c, _ in layers]
        self.blocks = nn.ModuleList(
            ConvBlock(c_in, c, k, dropout) for c_in, (c, k) in zip(widths[:-1], layers, strict=True)
        )
        self.fc_out = _linear(widths[-1], emb_size)

    def forward(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        e = _embed(self.embed, self.positions, src, 0)
        e = F.dropout(e, self.dropout, self.training)
        padding = (src == self.pad).unsqueeze(-1)
        x = self.fc_in(e)
        for block in self.blocks:
            x = x.masked_fill(padding, 0.0)  # padding reads as the convolution's zero padding
            half = (block.kernel - 1) // 2
            x = (block(x, half, half) + block.skip(x)) * math.sqrt(0.5)
        z = ScaleGradient.apply(self.fc_out(x), self.grad_scale)
        return z, (z + e) * math.sqrt(0.5)


def _embed(tokens: nn.Embedding, positions: nn.Embedding | None, ids: torch.Tensor, start: int) -> torch.Tensor:
    """Token embeddings plus those of positions ``start, start + 1, ...`` (Sec. 3.1)."""
    out = tokens(ids)
    if positions is not None:
        if start + ids.size(1) > positions.num_embeddings:
            raise ValueError(
                f"a sequence of {start + ids.size(1)} tokens is longer than max_positions "
                f"({positions.num_embeddings}); raise model.max_positions"
            )
        out = out + positions(torch.arange(start, start + ids.size(1), device=ids.device))
    return out


class Attention(nn.Module):
    """Multi-step attention of one decoder block (Sec. 3.3, Eqs. 1-3, with Sec. 3.4's scaling)."""

    def __init__(self, channels: int, emb_size: int) -> None:
        super().__init__()
        self.query = _linear(channels, emb_size)  # W_d, b_d of Eq. (1)
        self.out = _linear(emb_size, channels)  # c back to the block's width

    def forward(self, h: torch.Tensor, g: torch.Tensor, memory: dict[str, torch.Tensor]) -> torch.Tensor:
        """``h`` ``(N, T, C)`` after the GLU and the target embeddings ``g`` ``(N, T, E)``: ``h`` with
        the conditional input added, ``(N, T, C)``."""
        d = (self.query(h) + g) * math.sqrt(0.5)  # Eq. (1)
        scores = torch.bmm(d, memory["keys"].transpose(1, 2)).masked_fill(memory["padding"], float("-inf"))
        a = F.softmax(scores, dim=-1)  # Eq. (2)
        c = torch.bmm(a, memory["values"]) * memory["scale"]  # Eq. (3), times m sqrt(1/m)
        return (self.out(c) + h) * math.sqrt(0.5)


class ConvDecoder(nn.Module):
    """The decoder (Sec. 3.2-3.3): embeddings, residual GLU blocks with causal convolutions and
    multi-step attention, the output embedding and the softmax layer. ``attention_layers``:
    1-based blocks that attend (``None``: all)."""

    def __init__(
        self,
        vocab: int,
        emb_size: int,
        out_emb_size: int,
        layers: LayerSpec,
        dropout: float,
        max_positions: int,
        positions: bool = True,
        attention_layers: Sequence[int] | None = None,
        pad: int = 0,
    ) -> None:
        super().__init__()
        attending = set(range(1, len(layers) + 1)) if attention_layers is None else set(attention_layers)
        if not attending or not attending <= set(range(1, len(layers) + 1)):
            raise ValueError(f"attention_layers {sorted(attending)} must name decoder blocks 1..{len(layers)}")
        self.dropout = dropout
        self.embed = _embedding(vocab, emb_size, pad)
        self.positions = _embedding(max_positions, emb_size, None) if positions else None
        self.fc_in = _linear(emb_size, layers[0][0], 1.0 - dropout)
        widths = [layers[0][0]] + [c for c, _ in layers]
        self.blocks = nn.ModuleList(
            ConvBlock(c_in, c, k, dropout) for c_in, (c, k) in zip(widths[:-1], layers, strict=True)
        )
        self.attention = nn.ModuleList(
            Attention(c, emb_size) if i + 1 in attending else nn.Identity() for i, (c, _) in enumerate(layers)
        )
        self.fc_out = _linear(widths[-1], out_emb_size)
        self.softmax = _linear(out_emb_size, vocab, 1.0 - dropout)  # W_o, b_o

    @property
    def num_attention(self) -> int:
        return sum(isinstance(a, Attention) for a in self.attention)

    def _attend(self, i: int, x: torch.Tensor, g: torch.Tensor, memory: dict[str, torch.Tensor]) -> torch.Tensor:
        attention = self.attention[i]
        return attention(x, g, memory) if isinstance(attention, Attention) else x

    def _output(self, x: torch.Tensor) -> torch.Tensor:
        x = F.dropout(self.fc_out(x), self.dropout, self.training)
        return self.softmax(x)

    def forward(self, tgt_in: torch.Tensor, memory: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits ``(N, T, V)`` for every prefix of ``tgt_in`` ``(N, T)`` at once (training)."""
        g = F.dropout(_embed(self.embed, self.positions, tgt_in, 0), self.dropout, self.training)
        x = self.fc_in(g)
        for i, block in enumerate(self.blocks):
            h = self._attend(i, block(x, block.kernel - 1, 0), g, memory)  # left padding: causal
            x = (h + block.skip(x)) * math.sqrt(0.5)
        return self._output(x)

    def step(
        self, token: torch.Tensor, position: int, memory: dict[str, torch.Tensor], windows: list[torch.Tensor]
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """One decoding step (inference): logits ``(N, V)`` after ``token`` ``(N,)`` at
        ``position``, given each block's last ``kernel - 1`` inputs ``windows`` (``(N, k - 1,
        C_in)``, zeros before the sequence: the causal padding); returns the windows moved on by
        one step. The same function as :meth:`forward` at that position, without recomputing the
        prefix."""
        g = _embed(self.embed, self.positions, token[:, None], position)
        x = self.fc_in(g)
        moved = []
        for i, block in enumerate(self.blocks):
            window = torch.cat([windows[i], x], 1)
            moved.append(window[:, 1:])
            h = self._attend(i, block(window, 0, 0), g, memory)
            x = (h + block.skip(x)) * math.sqrt(0.5)
        return self._output(x)[:, 0], moved

    def empty_windows(self, rows: int, like: torch.Tensor) -> list[torch.Tensor]:
        """Every block's input window before the first step: ``kernel - 1`` zero vectors."""
        return [like.new_zeros(rows, b.kernel - 1, b.conv.in_channels) for b in self.blocks]


class ConvS2S(nn.Module):
    """The ConvS2S encoder-decoder (module docstring).

    Inputs of :meth:`forward`: ``src`` ``(N, S)`` ids padded with ``pad``, ``src_lengths``
    ``(N,)``, ``tgt_in`` ``(N, T)`` (``<bos>`` then the target tokens). Output ``(N, T, V_tgt)``
    logits of :math:`p(y_{i+1} \\mid y_{\\le i}, x)`. ``encoder_layers`` / ``decoder_layers``:
    ``(channels, kernel)`` per block (:func:`expand_layers`).
    """

    def __init__(
        self,
        src_vocab: int,
        tgt_vocab: int,
        emb_size: int,
        out_emb_size: int,
        encoder_layers: LayerSpec,
        decoder_layers: LayerSpec,
        dropout: float = 0.1,
        max_positions: int = 1024,
        source_positions: bool = True,
        target_positions: bool = True,
        attention_layers: Sequence[int] | None = None,
        pad: int = 0,
    ) -> None:
        super().__init__()
        if not encoder_layers or not decoder_layers:
            raise ValueError("ConvS2S needs at least one encoder and one decoder block")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout {dropout} must be in [0, 1)")
        self.pad = pad
        self.encoder = ConvEncoder(src_vocab, emb_size, encoder_layers, dropout, max_positions, source_positions, pad)
        self.decoder = ConvDecoder(
            tgt_vocab,
            emb_size,
            out_emb_size,
            decoder_layers,
            dropout,
            max_positions,
            target_positions,
            attention_layers,
            pad,
        )
        self.encoder.grad_scale = 1.0 / self.decoder.num_attention

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> dict[str, torch.Tensor]:
        """What every attention reads: keys, values, the padding mask ``(N, 1, S)`` and the scale
        :math:`m\\sqrt{1/m}` ``(N, 1, 1)`` of each sentence."""
        if src.dim() != 2 or src_lengths.shape != src.shape[:1]:
            raise ValueError(
                f"ConvS2S: expected src (N, S) and src_lengths (N,), got {tuple(src.shape)}, {tuple(src_lengths.shape)}"
            )
        keys, values = self.encoder(src)
        m = src_lengths.to(keys.dtype).view(-1, 1, 1)
        return {"keys": keys, "values": values, "padding": (src == self.pad).unsqueeze(1), "scale": m * m.rsqrt()}

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        return self.decoder(tgt_in, self.encode(src, src_lengths))

    # The incremental decoder of shared.tasks.translation.beam_search: the rows of one sentence
    # share its encoder output, so only the convolution windows follow the hypotheses.
    def start_decoding(self, src: torch.Tensor, src_lengths: torch.Tensor, beam_size: int) -> dict[str, Any]:
        memory = {k: v.repeat_interleave(beam_size, 0) for k, v in self.encode(src, src_lengths).items()}
        return {"memory": memory, "windows": self.decoder.empty_windows(src.size(0) * beam_size, memory["keys"])}

    def decode_step(self, tokens: torch.Tensor, state: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any]]:
        logits, windows = self.decoder.step(tokens[:, -1], tokens.size(1) - 1, state["memory"], state["windows"])
        return logits, {"memory": state["memory"], "windows": windows}

    def reorder_state(self, state: dict[str, Any], rows: torch.Tensor) -> dict[str, Any]:
        return {"memory": state["memory"], "windows": [w[rows] for w in state["windows"]]}

    def beam_search(
        self, src: torch.Tensor, src_lengths: torch.Tensor, bos: int, eos: int, beam_size: int, max_len: int
    ) -> list[list[int]]:
        """The best translation of each source sentence (:func:`shared.tasks.translation.beam_search`).

        The weight-normalised weights are computed once for the whole search, not at every step
        (the same values: fairseq removes weight normalisation before generating, to the same end)."""
        with parametrize.cached():
            return beam_search(self, src, src_lengths, bos, eos, beam_size, max_len)
