r"""The models of Tai, Socher & Manning (ACL 2015), built from the shared cells: Tree-LSTMs and the
sequential LSTM baselines, each under the sentiment classifier (Sec. 4.1) or the similarity model
(Sec. 4.2).

**Encoders.** Every model embeds tokens with one :class:`WordEmbedding` (300-d, as GloVe's; the
vectors and how they are initialised are the paper folder's choice, ``params.yaml``):

* ``constituency``: the N-ary Tree-LSTM with :math:`N = 2` over binarized constituency trees
  (Sec. 3.2, Eqs. (9)-(14), :class:`shared.models.cells.NaryTreeLSTM`); a leaf reads its word, an
  internal node has no input (:math:`x_j = 0`);
* ``dependency``: the Child-Sum Tree-LSTM over dependency trees (Sec. 3.1, Eqs. (2)-(8),
  :class:`shared.models.cells.ChildSumTreeLSTM`), every node a word;
* ``lstm``: a sequential LSTM (:class:`shared.models.cells.LSTM`), the sentence's vector its last
  hidden state;
* ``bilstm``: the same LSTM read forwards and backwards, the vector the two last hidden states
  concatenated. The two directions *share* their weights, as in Tai et al.'s code
  (``share_params``: "tying the forward and backward weights improves performance").

**Sentiment** (Sec. 4.1, :class:`SentimentClassifier`). At every node :math:`j` of a tree (or for a
sentence read by an LSTM),

.. math::

    \hat p_\theta(y \mid \{x\}_j) = \mathrm{softmax}\bigl(W^{(s)} h_j + b^{(s)}\bigr),

with dropout (:math:`p = 0.5`, the official ``nn.Dropout()``) on :math:`h_j` during training. The
model returns the logits at every node (tree) or for every sentence (sequence).

**Similarity** (Sec. 4.2, :class:`SimilarityModel`). Both sentences of a pair are encoded by the
same encoder, :math:`h_L` and :math:`h_R` (the root's state of a tree, the sentence vector of an
LSTM), and

.. math::

    h_\times = h_L \odot h_R, \quad h_+ = |h_L - h_R|, \quad
    h_s = \sigma\bigl(W^{(\times)} h_\times + W^{(+)} h_+ + b^{(h)}\bigr), \quad
    \hat p_\theta = \mathrm{softmax}\bigl(W^{(p)} h_s + b^{(p)}\bigr),

(Eqs. (15)-(18) of Sec. 4.2: ``sim_hidden`` = 50 units in :math:`h_s`, a distribution over the 5
ratings); the model returns :math:`\log \hat p_\theta`.

Initialisation: the recurrent cells' torch defaults (:math:`U(\pm 1/\sqrt{H})`), the output layers
``nn.Linear``'s (:math:`U(\pm 1/\sqrt{\text{fan\_in}})`, as the official Torch7 ``nn.Linear``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence

from shared.data.word_vectors import load_word_vectors
from shared.models.cells import LSTM, ChildSumTreeLSTM, NaryTreeLSTM, TreeBatch

TREE_ARCHS = ("constituency", "dependency")
SEQUENCE_ARCHS = ("lstm", "bilstm")
ARCHS = TREE_ARCHS + SEQUENCE_ARCHS
EMBEDDINGS = ("random", "glove")


class WordEmbedding(nn.Embedding):
    """Token ids to vectors; id 0 (``<pad>``) is a zero vector that is never trained.

    Args:
        vocab: the task's vocabulary (its first ``vocab_size`` entries are embedded).
        vocab_size: rows of the table.
        size: features per word.
        init: ``random``: every row :math:`U(\\pm 0.05)` (what Tai et al.'s code gives a word
            missing from GloVe); ``glove``: the GloVe vector of every word that has one, the others
            :math:`U(\\pm 0.05)` (:func:`shared.data.word_vectors.load_word_vectors` names the file to
            provide).
        glove_path: the vectors file for ``init: glove``.
    """

    def __init__(
        self, vocab: list[str], vocab_size: int, size: int, init: str = "random", glove_path: Path | None = None
    ) -> None:
        if init not in EMBEDDINGS:
            raise ValueError(f"embedding init {init!r} is not one of {EMBEDDINGS}")
        super().__init__(vocab_size, size, padding_idx=0)
        with torch.no_grad():
            self.weight.uniform_(-0.05, 0.05)
            if init == "glove":
                found = load_word_vectors("glove_840b", vocab[:vocab_size], size, glove_path)
                for row, vector in found.items():
                    self.weight[row] = vector
            self.weight[0] = 0


class TreeEncoder(nn.Module):
    """A Tree-LSTM over embedded words: ``(words (num_nodes,), trees) -> h (num_nodes, H)``; a
    node with word id ``-1`` has input zero."""

    def __init__(self, arch: str, embedding: WordEmbedding, hidden: int) -> None:
        super().__init__()
        if arch not in TREE_ARCHS:
            raise ValueError(f"tree arch {arch!r} is not one of {TREE_ARCHS}")
        self.embedding = embedding
        dim = embedding.embedding_dim
        self.cell = NaryTreeLSTM(dim, hidden, n_ary=2) if arch == "constituency" else ChildSumTreeLSTM(dim, hidden)
        self.output_size = hidden

    def forward(self, words: Tensor, trees: TreeBatch, node_by_node: bool = False) -> Tensor:
        has_word = words >= 0
        x = self.embedding(words.clamp(min=0)) * has_word.unsqueeze(1)
        return self.cell(x, trees, node_by_node=node_by_node).h


class SequenceEncoder(nn.Module):
    """An LSTM over embedded words, ``(tokens (N, L), lengths (N,)) -> (N, D)``: the last hidden
    state (``lstm``, :math:`D = H`) or the last states of the forward and the backward reading
    with shared weights (``bilstm``, :math:`D = 2H`)."""

    def __init__(self, arch: str, embedding: WordEmbedding, hidden: int) -> None:
        super().__init__()
        if arch not in SEQUENCE_ARCHS:
            raise ValueError(f"sequence arch {arch!r} is not one of {SEQUENCE_ARCHS}")
        self.embedding = embedding
        self.bidirectional = arch == "bilstm"
        self.lstm = LSTM(embedding.embedding_dim, hidden, batch_first=True)
        self.output_size = 2 * hidden if self.bidirectional else hidden

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        if self.bidirectional:
            # Each sentence reversed within its length (the padding stays at the end), read by
            # the same LSTM in one batch with the originals.
            steps = torch.arange(tokens.size(1), device=tokens.device)
            backwards = torch.where(steps < lengths.unsqueeze(1), lengths.unsqueeze(1) - 1 - steps, steps)
            tokens = torch.cat([tokens, tokens.gather(1, backwards)])
            lengths = torch.cat([lengths, lengths])
        packed = pack_padded_sequence(self.embedding(tokens), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        last = h_n[-1]
        return torch.cat(last.chunk(2), dim=1) if self.bidirectional else last


def build_encoder(arch: str, embedding: WordEmbedding, hidden: int) -> TreeEncoder | SequenceEncoder:
    """The encoder ``arch`` names (module docstring)."""
    if arch not in ARCHS:
        raise ValueError(f"arch {arch!r} is not one of {ARCHS}")
    return TreeEncoder(arch, embedding, hidden) if arch in TREE_ARCHS else SequenceEncoder(arch, embedding, hidden)


class SentimentClassifier(nn.Module):
    """Softmax classifier over every node's state (tree) or every sentence's vector (sequence),
    with dropout before it (module docstring, Sec. 4.1)."""

    def __init__(self, encoder: TreeEncoder | SequenceEncoder, classes: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(encoder.output_size, classes)

    def forward(self, *inputs: Tensor | TreeBatch) -> Tensor:
        return self.output(self.dropout(self.encoder(*inputs)))


class SimilarityModel(nn.Module):
    """The similarity model of Sec. 4.2 (module docstring) over ``2N`` sentences, the left ones
    first: ``log p_theta`` ``(N, ratings)``."""

    def __init__(self, encoder: TreeEncoder | SequenceEncoder, sim_hidden: int = 50, ratings: int = 5) -> None:
        super().__init__()
        self.encoder = encoder
        self.hidden = nn.Linear(2 * encoder.output_size, sim_hidden)  # W^(x) and W^(+) side by side
        self.output = nn.Linear(sim_hidden, ratings)

    def forward(self, *inputs: Tensor | TreeBatch) -> Tensor:
        encoded = self.encoder(*inputs)
        if isinstance(self.encoder, TreeEncoder):
            encoded = encoded[inputs[1].roots]  # the roots, in tree order: left sentences, then right
        left, right = encoded.chunk(2)
        features = torch.cat([left * right, (left - right).abs()], dim=1)  # Eqs. (15), (16)
        return F.log_softmax(self.output(torch.sigmoid(self.hidden(features))), dim=1)  # Eqs. (17), (18)
