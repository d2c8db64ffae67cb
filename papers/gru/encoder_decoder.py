r"""The RNN Encoder-Decoder of Cho et al. (2014, Sec. 2.2 and Appendix A), built from the shared
cells, with Cho's gated hidden unit (``shared.models.cells.GRU(reset_after=False)``, Eqs. 5-8) or, as
the baseline, an LSTM of the same number of units.

Encoder (Sec. 2.2, App. A.1.1): the source words :math:`x_1 \dots x_N` are embedded
(:math:`e(x)`, the paper's rank-100 factorisation of the input matrix) and read by the recurrent
unit, :math:`h_t = f(h_{t-1}, e(x_t))`; the summary of the whole sentence is

.. math:: c = \tanh(V h_N).

Decoder (Eqs. 2-3, App. A.1.2): its state starts at :math:`h'_0 = \tanh(V' c)` and is updated by

.. math:: h'_t = f\bigl(h'_{t-1}, y_{t-1}, c\bigr),

every gate and the candidate of the unit receiving :math:`c` through their own matrices
(:math:`C_r c`, :math:`C_z c`, :math:`C c`). Here the unit's input is :math:`[e(y_{t-1}); c]`, so
that its input matrix is :math:`[W\;C]`: the context enters each gate and the candidate
additively, outside the reset gate (our reading of App. A.1.2). The first input
:math:`y_0` is ``<bos>``.

Deep output with maxout (App. A.1.2): with :math:`s'_t = O_h h'_t + O_y e(y_{t-1}) + O_c c`
(:math:`2 \times` ``maxout_units`` values), :math:`s_t = \max(s'_{t,2j-1}, s'_{t,2j})`, and

.. math:: p(y_t = k \mid y_{<t}, c) \propto \exp\bigl(g_k^\top G_r s_t\bigr)

where :math:`G_r` maps to ``emb_size`` dimensions (the rank-100 factorisation of the output
matrix) and :math:`g_k` are the output word vectors (with a bias).

Initialisation (App. A.1.1): every weight from :math:`\mathcal{N}(0, 0.01^2)`, except the
recurrent matrices, which are orthogonal (one orthogonal block per gate); biases zero.

Deviation: the paper scores phrase pairs inside a phrase-based system; translating whole
sentences with beam search (:func:`shared.tasks.translation.beam_search`) is how the later literature evaluates the
same model.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from papers.gru.model import recurrent_layer
from shared.tasks.translation import beam_search


class EncoderDecoder(nn.Module):
    r"""Cho et al.'s encoder-decoder, for ``arch`` ``gru`` (the paper's unit) or ``lstm``.

    Inputs of :meth:`forward`: ``src`` ``(N, S)`` ids padded with ``pad``, ``src_lengths``
    ``(N,)``, ``tgt_in`` ``(N, T)`` (``<bos>`` then the target words). Output: ``(N, T, V_tgt)``
    logits of :math:`p(y_t \mid y_{<t}, c)`.
    """

    def __init__(
        self,
        arch: str,
        src_vocab: int,
        tgt_vocab: int,
        hidden_size: int,
        emb_size: int = 100,
        maxout_units: int = 500,
        pad: int = 0,
    ) -> None:
        super().__init__()
        self.arch, self.pad = arch, pad
        self.src_embed = nn.Embedding(src_vocab, emb_size, padding_idx=pad)
        self.tgt_embed = nn.Embedding(tgt_vocab, emb_size, padding_idx=pad)
        self.encoder = recurrent_layer(arch, emb_size, hidden_size)
        self.summary = nn.Linear(hidden_size, hidden_size)  # V
        self.init_state = nn.Linear(hidden_size, hidden_size)  # V'
        self.decoder = recurrent_layer(arch, emb_size + hidden_size, hidden_size)
        self.deep_out = nn.Linear(hidden_size + emb_size + hidden_size, 2 * maxout_units)  # O_h, O_y, O_c
        self.out_factor = nn.Linear(maxout_units, emb_size, bias=False)  # G_r
        self.out_words = nn.Linear(emb_size, tgt_vocab)  # g_k and their biases
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """N(0, 0.01^2) weights, orthogonal recurrent blocks, zero biases (App. A.1.1)."""
        for name, p in self.named_parameters():
            with torch.no_grad():
                if "weight_hh" in name:
                    for block in p.split(p.size(1)):
                        nn.init.orthogonal_(block)
                elif p.dim() > 1:
                    p.normal_(0.0, 0.01)
                else:
                    p.zero_()

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> torch.Tensor:
        """The summary :math:`c = \\tanh(V h_N)` of each source sentence, ``(N, H)``."""
        packed = pack_padded_sequence(self.src_embed(src), src_lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, state = self.encoder(packed)
        h_n = state[0] if isinstance(state, tuple) else state
        return torch.tanh(self.summary(h_n[-1]))

    def initial_state(self, c: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """:math:`h'_0 = \\tanh(V' c)` as the decoder's ``(1, N, H)`` state (LSTM: cell zero)."""
        h0 = torch.tanh(self.init_state(c)).unsqueeze(0)
        return (h0, torch.zeros_like(h0)) if self.arch == "lstm" else h0

    def decode(
        self, c: torch.Tensor, tgt_in: torch.Tensor, state: torch.Tensor | tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor | tuple[torch.Tensor, torch.Tensor]]:
        """Logits ``(N, T, V)`` for the inputs ``tgt_in`` ``(N, T)`` from decoder ``state``, and
        the state after them."""
        emb = self.tgt_embed(tgt_in)
        context = c.unsqueeze(1).expand(-1, emb.size(1), -1)
        output, state = self.decoder(torch.cat([emb, context], -1), state)
        s_prime = self.deep_out(torch.cat([output, emb, context], -1))
        s = s_prime.unflatten(-1, (-1, 2)).amax(-1)  # maxout over pairs
        return self.out_words(self.out_factor(s)), state

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        c = self.encode(src, src_lengths)
        return self.decode(c, tgt_in, self.initial_state(c))[0]

    # The incremental decoder of shared.tasks.translation.beam_search: the rows of one sentence
    # share its summary c, so only the recurrent state follows the hypotheses.
    def start_decoding(self, src: torch.Tensor, src_lengths: torch.Tensor, beam_size: int) -> tuple:
        c = self.encode(src, src_lengths).repeat_interleave(beam_size, 0)
        return c, self.initial_state(c)

    def decode_step(self, tokens: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
        c, hidden = state
        logits, hidden = self.decode(c, tokens[:, -1:], hidden)
        return logits[:, -1], (c, hidden)

    def reorder_state(self, state: tuple, rows: torch.Tensor) -> tuple:
        c, hidden = state
        return c, tuple(s[:, rows] for s in hidden) if isinstance(hidden, tuple) else hidden[:, rows]

    def beam_search(
        self, src: torch.Tensor, src_lengths: torch.Tensor, bos: int, eos: int, beam_size: int, max_len: int
    ) -> list[list[int]]:
        """The best translation of each source sentence (:func:`shared.tasks.translation.beam_search`)."""
        return beam_search(self, src, src_lengths, bos, eos, beam_size, max_len)
