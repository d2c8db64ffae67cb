r"""The document classifier of Yu & Liu (2018) as the official script builds it
(``zepingyu0512/srnn``, ``SRNN.py``: Keras 2.1.5), and the standard GRU of the same width.

Input (Sec. 3; the script's preprocessing): every document becomes exactly :math:`T` = ``max_len``
(512) word ids, Keras' ``pad_sequences`` defaults: a longer document keeps its *last* :math:`T`
words, a shorter one is padded with id 0 at the *front* (:func:`front_pad`); padding is read as a
word, as in the script (no masking). Embeddings of ``emb_size`` (200) dimensions, trainable.

SRNN(:math:`n`, :math:`k`) (Sec. 3.2, Fig. 2; :class:`shared.models.cells.SlicedRNN`): the
:math:`T` embeddings are sliced :math:`k` times into :math:`n` equal parts, :math:`n^k` minimal
subsequences of :math:`T / n^k` words; level 0 runs one GRU over every minimal subsequence (the
same weights for all, the script's ``TimeDistributed``), level :math:`p` one GRU over each group
of :math:`n` consecutive last states of level :math:`p - 1`, and the top level's last state
:math:`F` goes to a softmax over the classes (Sec. 3.3: :math:`p = \mathrm{softmax}(W_F F + b_F)`).
SRNN(8, 2) on 512 words: 64 minimal subsequences of 8 words, three GRUs of 50 units.

The *standard RNN* baseline is the same model with :math:`k = 0` (no slicing): one GRU over all
:math:`T` words, the same unit and width. This is the paper's comparison ("without changing the
recurrent units", abstract) and its Sec. 3.2 remark that the standard RNN is the special case of an
SRNN with one slice (``tests/papers/sliced_rnn`` checks it).

The GRU unit is Keras' ``GRU(50, recurrent_activation='sigmoid', activation=None)``
(:data:`KERAS_GRU`): reset gate applied to the state before the recurrent product
(``reset_after=False``, Keras 2.1.5's only form), a *linear* candidate
(:math:`\tilde h_t = W x_t + U (r_t \odot h_{t-1}) + b`, no tanh), :math:`h_t = z_t h_{t-1} +
(1 - z_t) \tilde h_t`. ``activation: tanh`` gives the usual GRU instead (an option, not the
script's). Initialisation as Keras' (:func:`keras_gru_init_`): the input kernel Glorot-uniform over
(input, 3H), the recurrent kernel orthogonal, biases zero; the classifier Glorot-uniform with zero
bias; the embedding uniform in [0, 1) (the script's ``np.random.random`` rows for words GloVe lacks;
with no GloVe here, every word).
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor, nn

from shared.models.cells import GRU, SlicedRNN

#: The recurrent unit of the official script: Keras 2.1.5's GRU with ``activation=None``.
KERAS_GRU = functools.partial(GRU, reset_after=False, activation="linear")


def front_pad(tokens: Tensor, lengths: Tensor, max_len: int, pad_id: int = 0) -> Tensor:
    """``(N, max_len)`` ids from right-padded ``tokens`` ``(N, L)``: each row's last
    ``min(length, max_len)`` ids at the end, ``pad_id`` before them (Keras' ``pad_sequences`` with
    its defaults ``padding='pre'``, ``truncating='pre'``)."""
    if tokens.dim() != 2 or lengths.shape != tokens.shape[:1]:
        raise ValueError(
            f"front_pad: expected tokens (N, L) and lengths (N,), got {tuple(tokens.shape)} and {tuple(lengths.shape)}"
        )
    # Position j of the output reads position lengths - max_len + j of the input (before the start: pad).
    source = lengths.unsqueeze(1) - max_len + torch.arange(max_len, device=tokens.device)
    gathered = tokens.gather(1, source.clamp(min=0, max=tokens.size(1) - 1))
    return gathered.masked_fill(source < 0, pad_id)


@torch.no_grad()
def keras_gru_init_(gru: GRU) -> None:
    """Keras' GRU initialisation: ``kernel`` Glorot-uniform over its (input, 3H) shape (the bound
    :math:`\\sqrt{6 / (n_{in} + 3H)}`), ``recurrent_kernel`` orthogonal over (H, 3H), biases zero.
    torch keeps the transposes: ``weight_ih`` (3H, input), ``weight_hh`` (3H, H) with orthonormal
    columns (Keras' rows). Keras has one bias per gate where torch has two: both start at zero and
    act as their sum (``reset_after=False``)."""
    for name, weight in gru.named_parameters():
        if name.startswith("weight_ih"):
            nn.init.xavier_uniform_(weight)  # fan_in = input, fan_out = 3H, as Keras' kernel
        elif name.startswith("weight_hh"):
            nn.init.orthogonal_(weight)
        else:
            nn.init.zeros_(weight)


class SlicedClassifier(nn.Module):
    """Embedding, SRNN(``n``, ``k``) of GRUs (``k = 0``: the standard GRU), softmax layer.

    Args:
        vocab_size: rows of the embedding (id 0 is the padding, a trained row as in Keras).
        num_classes: outputs of the softmax layer.
        emb_size: embedding dimensions (200: GloVe 6B-200d's in the script).
        hidden: units of every level's GRU (50: the script's ``NUM_FILTERS``).
        n: parts per slicing; k: slicings (levels ``k + 1``).
        max_len: words per document, :math:`T`; a multiple of ``n ** k``.
        activation: the GRU candidate's, ``linear`` (the script) or ``tanh``.

    ``forward(tokens (N, L), lengths (N,))`` (right-padded, as :mod:`shared.tasks.text_classification`
    batches them) returns ``(N, num_classes)`` logits.
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        emb_size: int = 200,
        hidden: int = 50,
        n: int = 8,
        k: int = 2,
        max_len: int = 512,
        activation: str = "linear",
    ) -> None:
        super().__init__()
        check_slicing(max_len, n, k)
        self.max_len = max_len
        self.embedding = nn.Embedding(vocab_size, emb_size)
        nn.init.uniform_(self.embedding.weight, 0.0, 1.0)
        cell = functools.partial(GRU, reset_after=False, activation=activation)
        self.rnn = SlicedRNN(cell, emb_size, hidden, n=n, k=k, batch_first=True)
        for level in self.rnn.levels:
            keras_gru_init_(level)
        self.output = nn.Linear(hidden, num_classes)
        nn.init.xavier_uniform_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        x = self.embedding(front_pad(tokens, lengths, self.max_len))
        output, _ = self.rnn(x)
        return self.output(output[:, -1])  # F: the top level's last state


def check_slicing(max_len: int, n: int, k: int) -> None:
    """Raise ValueError unless ``max_len`` words slice ``k`` times into ``n`` equal parts."""
    for name, value, low in (("n", n, 1), ("k", k, 0), ("max_len", max_len, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name}: {value!r} must be an int >= {low}")
    if max_len % n**k:
        raise ValueError(
            f"max_len: {max_len} words can not be sliced {k} times into n={n} equal parts: it must be a "
            f"multiple of n**k = {n**k} (SRNN(8, 2) of the paper: 512 = 8 x 8 x 8)"
        )
