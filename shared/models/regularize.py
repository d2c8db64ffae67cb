r"""The AWD-LSTM regularizers and zoneout, as modules of their own that never patch torch.

Merity, Keskar & Socher (2018), "Regularizing and Optimizing LSTM Language Models" (ICLR 2018,
arXiv:1708.02182), regularize a stack of LSTMs with

* :class:`WeightDrop`: DropConnect (Wan et al. 2013) on the hidden-to-hidden matrices, one mask
  per forward pass shared by every time step (Sec. 2, "Weight-dropped LSTM");
* :class:`LockedDropout` / :func:`locked_dropout`: variational dropout (Gal & Ghahramani 2016),
  one mask per sequence shared by every time step, on the word vectors, between the layers and on
  the output (Sec. 4.2);
* :class:`EmbeddingDropout` / :func:`embedding_dropout`: dropout of whole words, i.e. of rows of
  the embedding matrix (Sec. 4.3);
* :func:`activation_regularization` (AR) and :func:`temporal_activation_regularization` (TAR):
  penalties on the final layer's outputs and on their change from step to step (Sec. 4.6).

Krueger et al. (2017), "Zoneout: Regularizing RNNs by Randomly Preserving Hidden Activations"
(ICLR 2017, arXiv:1606.01305) keep each unit's previous value with some probability:
:class:`Zoneout` wraps a single-step cell, :func:`zoneout` is the element-wise rule (reused by the
QRNN of Bradbury et al. 2017 on its forget gate).

Design (``STYLE.md``, convention 3). The awd-lstm-lm ``WeightDrop`` deleted ``nn.LSTM``'s
Parameters, put plain tensors in their place and stubbed out ``flatten_parameters``; it broke
with nearly every PyTorch release. Here nothing is patched and no Parameter is ever replaced:
:class:`WeightDrop` hands the masked matrices to one forward of *our* stack
(:class:`shared.models.cells.RecurrentStack`) through ``torch.func.functional_call``, a public API,
which the stack reads once per forward through ``_weights()`` (see :mod:`shared.models.cells.base`), so
the torch-kernel fast path (cuDNN on a GPU) and the Python loop compute with the same masked
weights. The parameters keep their names and ``state_dict`` keeps its keys.

Randomness: every mask is drawn from torch's global generator (``torch.manual_seed`` makes runs
repeatable), on the device and in the dtype of the tensor it multiplies.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping

import torch
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn.utils.rnn import PackedSequence

from shared.models.cells.base import RecurrentCell, RecurrentStack, State

__all__ = [
    "EmbeddingDropout",
    "LockedDropout",
    "WeightDrop",
    "Zoneout",
    "activation_regularization",
    "embedding_dropout",
    "locked_dropout",
    "temporal_activation_regularization",
    "zoneout",
]


def _check_probability(p: float, name: str = "p") -> float:
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0 <= p <= 1:
        raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")
    return float(p)


def _keep_mask(shape: tuple[int, ...] | torch.Size, p: float, like: Tensor) -> Tensor:
    r"""Inverted-dropout mask of ``shape``: :math:`m / (1 - p)` with :math:`m \sim
    \mathrm{Bernoulli}(1 - p)`, so that :math:`E[\text{mask}] = 1`; all zeros for ``p = 1``
    (where the scale is undefined, as ``F.dropout`` does)."""
    if p == 1:
        return like.new_zeros(shape)
    return like.new_empty(shape).bernoulli_(1 - p).div_(1 - p)


# --------------------------------------------------------------------------------------------
# Variational ("locked") dropout
# --------------------------------------------------------------------------------------------


def locked_dropout(
    input: Tensor | PackedSequence, p: float = 0.5, training: bool = True, batch_first: bool = False
) -> Tensor | PackedSequence:
    r"""Variational dropout: one mask per sequence and feature, the same at every time step.

    Gal & Ghahramani (2016); Merity et al. (2018, Sec. 4.2): "the same dropout mask for all inputs
    and outputs of the LSTM within a given forward and backward pass", a different one for each
    example of the mini-batch. With :math:`m_{n,k} \sim \mathrm{Bernoulli}(1 - p)` drawn once,

    .. math:: y_{t,n,k} = \frac{m_{n,k}}{1 - p}\, x_{t,n,k} \quad \text{for every step } t.

    Identity (the input itself is returned) when not ``training`` or ``p = 0``.

    Args:
        input: ``(L, N, *)``, ``(N, L, *)`` with ``batch_first``, unbatched ``(L, *)``, or a
            ``PackedSequence`` (whose ``data`` is ``(sum of lengths, *)``).
        p: probability of dropping an element.
        training: apply dropout (``False``: identity).
        batch_first: time is dim 1 instead of dim 0 (ignored for a ``PackedSequence``).

    Returns: a tensor (or ``PackedSequence``) of the input's shape (layout).
    """
    p = _check_probability(p)
    if not training or p == 0:
        return input
    if isinstance(input, PackedSequence):
        data, batch_sizes = input.data, input.batch_sizes
        mask = _keep_mask((int(batch_sizes[0]), *data.shape[1:]), p, data)
        # Row j of `data` belongs to (sorted) sequence `owner[j]`: step t holds the first
        # batch_sizes[t] sequences, in order.
        owner = torch.cat([torch.arange(int(b)) for b in batch_sizes]).to(data.device)
        return input._replace(data=data * mask.index_select(0, owner))
    if input.dim() < 2:
        raise ValueError(f"locked_dropout: expected input with a time dim, (L, N, *) or (L, *), got {input.dim()}-D")
    time_dim = 1 if batch_first and input.dim() > 2 else 0
    shape = list(input.shape)
    shape[time_dim] = 1  # broadcast over time: the mask is locked for the whole sequence
    return input * _keep_mask(tuple(shape), p, input)


class LockedDropout(nn.Module):
    r"""Variational (locked) dropout as a module; see :func:`locked_dropout` for the equation.

    Merity et al. (2018, Sec. 4.2). A fresh mask is drawn at every forward call, fixed over
    that call's time steps.

    Args:
        p: probability of dropping an element (AWD-LSTM on PTB: 0.4 on the word vectors, 0.3
            between layers, 0.4 on the output).
        batch_first: inputs are ``(N, L, *)``.

    Inputs: input
        - **input**: ``(L, N, *)`` (``(N, L, *)`` with ``batch_first``), ``(L, *)`` unbatched, or a
          ``PackedSequence``.

    Outputs: output, of the input's shape (the input itself in eval mode or with ``p = 0``).
    """

    def __init__(self, p: float = 0.5, batch_first: bool = False) -> None:
        super().__init__()
        self.p = _check_probability(p)
        self.batch_first = batch_first

    def forward(self, input: Tensor | PackedSequence) -> Tensor | PackedSequence:
        return locked_dropout(input, self.p, self.training, self.batch_first)

    def extra_repr(self) -> str:
        return f"p={self.p}" + (", batch_first=True" if self.batch_first else "")


# --------------------------------------------------------------------------------------------
# Embedding dropout
# --------------------------------------------------------------------------------------------


def embedding_dropout(embed: nn.Embedding, words: Tensor, p: float = 0.1, training: bool = True) -> Tensor:
    r"""Look up ``words`` in ``embed`` with whole words dropped.

    Merity et al. (2018, Sec. 4.3), after Gal & Ghahramani (2016): dropout on the embedding
    matrix :math:`E \in \mathbb{R}^{V \times D}` at the word level, one Bernoulli variable per
    row, broadcast over the row's :math:`D` features; the kept rows are scaled by
    :math:`1 / (1 - p)`:

    .. math:: \tilde E_w = \frac{m_w}{1 - p} E_w, \quad m_w \sim \mathrm{Bernoulli}(1 - p),
              \qquad y = \tilde E[\text{words}].

    A dropped word is zero at *every* position it occurs in this call. The lookup reads the raw
    matrix and scales the looked-up vectors by their word's mask entry, the same numbers as
    masking the matrix first (as awd-lstm-lm does) without a ``(V, D)`` copy, and with
    ``embed``'s own options (``padding_idx``, ``max_norm``, ``sparse``, ...) unchanged.

    Args:
        embed: the embedding whose rows are dropped.
        words: word ids, any shape ``(*)``.
        p: probability of dropping a word (AWD-LSTM: 0.1).
        training: apply dropout (``False``: ``embed(words)``).

    Returns: ``(*, D)``.
    """
    return _embedding_dropout(embed, words, _check_probability(p), training)[0]


def _embedding_dropout(embed: nn.Embedding, words: Tensor, p: float, training: bool) -> tuple[Tensor, Tensor | None]:
    """:func:`embedding_dropout` and its scaled mask over the vocabulary (``None`` when off)."""
    vectors = embed(words)
    if not training or p == 0:
        return vectors, None
    mask = _keep_mask((embed.num_embeddings,), p, vectors)
    return vectors * mask[words].unsqueeze(-1), mask


class EmbeddingDropout(nn.Module):
    r"""An ``nn.Embedding`` whose words are dropped in training; see :func:`embedding_dropout`.

    Merity et al. (2018, Sec. 4.3). A fresh mask over the vocabulary is drawn at every forward
    call; in eval mode (or with ``p = 0``) it is the wrapped embedding.

    Args:
        embedding: the wrapped ``nn.Embedding``; its parameter is reachable as
            ``.embedding.weight`` (``state_dict`` key ``embedding.weight``, nothing else), so
            weight tying is ``decoder.weight = module.embedding.weight``.
        p: probability of dropping a word (AWD-LSTM: 0.1).

    Inputs: words, integer ids of any shape ``(*)``.

    Outputs: ``(*, embedding_dim)``.

    Attributes:
        last_mask: the scaled mask of the last training forward, ``(num_embeddings,)`` with
            entries ``0`` (dropped) or ``1 / (1 - p)``; ``None`` when the last forward dropped
            nothing. For tests and inspection.
    """

    def __init__(self, embedding: nn.Embedding, p: float = 0.1) -> None:
        super().__init__()
        if not isinstance(embedding, nn.Embedding):
            raise TypeError(f"EmbeddingDropout wraps an nn.Embedding, got {type(embedding).__name__}")
        self.embedding = embedding
        self.p = _check_probability(p)
        self.last_mask: Tensor | None = None

    def forward(self, words: Tensor) -> Tensor:
        vectors, self.last_mask = _embedding_dropout(self.embedding, words, self.p, self.training)
        return vectors

    def extra_repr(self) -> str:
        return f"p={self.p}"


# --------------------------------------------------------------------------------------------
# Weight drop (DropConnect on recurrent weights)
# --------------------------------------------------------------------------------------------


class WeightDrop(nn.Module):
    r"""DropConnect on chosen weights of one of our recurrent stacks, one mask per forward pass.

    Merity et al. (2018, Sec. 2), after DropConnect (Wan et al. 2013): the hidden-to-hidden
    matrices :math:`U = W_{hh}` are multiplied by a Bernoulli mask that is drawn once per forward
    (and backward) pass and used at every time step, so the recurrence itself stays fixed within
    a sequence,

    .. math:: \tilde W_{hh} = \frac{M}{1 - p} \odot W_{hh}, \quad M_{ij} \sim
              \mathrm{Bernoulli}(1 - p), \qquad h_t = f(x_t, h_{t-1}; W_{ih}, \tilde W_{hh}).

    Deviation from Wan et al. (2013), as in AWD-LSTM's code: inference uses the raw weights (the
    mask's expectation, thanks to the :math:`1/(1-p)` scaling), not DropConnect's Gaussian
    moment-matching approximation.

    Mechanism. The stack reads its weights once per forward through ``_weights()``
    (:mod:`shared.models.cells.base`); this module calls
    ``torch.func.functional_call(stack, {name: mask * weight}, (input, hx))``, which makes those
    masked tensors the stack's weights for that one call. Both of the stack's paths then compute
    with them: the torch kernel (cuDNN on a GPU) gets them as its weights, the Python loop uses the
    same tensor at every step. No Parameter is replaced and nothing of torch is patched; the
    masked tensors are products of the raw Parameters, so gradients reach the raw weights, through
    the kept entries only (scaled by :math:`1/(1-p)`). The cost over the plain stack is one
    element-wise product per dropped matrix and forward; on CUDA, torch also copies the new
    tensors into its cuDNN weight buffer at every call (see :mod:`shared.models.cells.base`; not measured
    here). The fast path is kept, unlike a per-step DropConnect cell.

    Args:
        module: a :class:`shared.models.cells.RecurrentStack` (``shared.models.cells.LSTM``, ``GRU``, ``RNN``,
            or any other stack reading its weights through ``_weights()``). Reachable as
            ``.module``; its parameters keep their names (``module.weight_hh_l0``) and the
            ``state_dict`` gains nothing: it is the stack's with the prefix ``module.``.
        weights: names of the parameters to drop, e.g. ``("weight_hh_l0",)``; ``None`` (default)
            means every hidden-to-hidden matrix of the stack (``weight_hh_l{k}`` and
            ``weight_hh_l{k}_reverse`` of every layer), as AWD-LSTM does for each of its layers.
        p: probability of dropping a weight (AWD-LSTM: 0.5).

    Inputs: input, hx; as the wrapped stack, plus the keyword

        - **masks** (optional): ``{name: mask}`` for every name in ``weights``, each of its
          weight's shape (e.g. from :meth:`sample_masks`); used instead of fresh masks, in
          training *and* in eval mode. For reusing one mask over several forward calls (e.g.
          over the chunks of one batch) and for tests.

    Outputs: the wrapped stack's, e.g. ``output, (h_n, c_n)``. In eval mode (or with ``p = 0``)
    and without ``masks`` it is the plain stack's forward.

    Attributes:
        last_masks: ``{name: mask}`` of the last forward (scaled: entries ``0`` or ``1/(1-p)``, the
            weight used was ``mask * weight``), or ``None`` when it ran without masks.

    The stack's own ``dropout`` (between layers) is unaffected.
    """

    def __init__(self, module: RecurrentStack, weights: Iterable[str] | None = None, p: float = 0.5) -> None:
        super().__init__()
        if not isinstance(module, RecurrentStack):
            raise TypeError(
                "WeightDrop wraps a shared.models.cells.RecurrentStack (LSTM, GRU, RNN, ...), "
                f"got {type(module).__name__}; "
                "torch's nn.RNNBase is not supported (its flattened cuDNN weights are what the awd-lstm hack patched)"
            )
        available = list(module._weight_names)
        if weights is None:
            names = [name for name in available if name.startswith("weight_hh")]
        else:
            names = [weights] if isinstance(weights, str) else list(weights)
        unknown = [name for name in names if name not in available]
        if unknown:
            raise ValueError(
                f"WeightDrop: unknown weight name(s) {unknown} for {type(module).__name__}; it has {available}"
            )
        if not names or len(set(names)) != len(names):
            raise ValueError(f"WeightDrop: expected distinct weight names, got {names}")
        self.module = module
        self.weights: tuple[str, ...] = tuple(names)
        self.p = _check_probability(p)
        self.last_masks: dict[str, Tensor] | None = None

    def sample_masks(self) -> dict[str, Tensor]:
        """Fresh scaled masks (entries ``0`` or ``1/(1-p)``), one per weight in ``weights``, each of
        its weight's shape, device and dtype; whatever the mode (for passing as ``masks=``)."""
        masks = {}
        for name in self.weights:
            weight = getattr(self.module, name)
            masks[name] = _keep_mask(weight.shape, self.p, weight)
        return masks

    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: Tensor | State | None = None,
        *,
        masks: Mapping[str, Tensor] | None = None,
    ) -> tuple[Tensor | PackedSequence, Tensor | State]:
        if masks is None:
            if not self.training or self.p == 0:
                self.last_masks = None
                return self.module(input, hx)
            masks = self.sample_masks()
        else:
            masks = dict(masks)
            self._check_masks(masks)
        self.last_masks = masks
        weights = {name: masks[name] * getattr(self.module, name) for name in self.weights}
        return functional_call(self.module, weights, (input, hx))

    def _check_masks(self, masks: dict[str, Tensor]) -> None:
        if set(masks) != set(self.weights):
            raise ValueError(f"WeightDrop: masks must have exactly the keys {list(self.weights)}, got {list(masks)}")
        for name, mask in masks.items():
            shape = getattr(self.module, name).shape
            if mask.shape != shape:
                raise ValueError(f"WeightDrop: mask for {name} has shape {tuple(mask.shape)}, expected {tuple(shape)}")

    def extra_repr(self) -> str:
        return f"weights={list(self.weights)}, p={self.p}"


# --------------------------------------------------------------------------------------------
# Zoneout
# --------------------------------------------------------------------------------------------


def zoneout(prev: Tensor, new: Tensor, p: float, training: bool = True) -> Tensor:
    r"""Zoneout of one state: each unit keeps its previous value with probability ``p``.

    Krueger et al. (2017, Sec. 3.2), with :math:`d_t \sim \mathrm{Bernoulli}(p)` per unit and
    step (:math:`d = 1`: the unit is zoned out),

    .. math:: \text{training:}\quad s_t = d_t \odot s_{t-1} + (1 - d_t) \odot \tilde s_t,
              \qquad \text{eval:}\quad s_t = p\, s_{t-1} + (1 - p)\, \tilde s_t,

    the eval rule being "the expectation of the random noise at test time" (Sec. 1). No rescaling:
    unlike dropout both branches are states of the right scale. Note that Sec. 3.1 of the paper
    writes the mask the other way round (:math:`d_t` multiplying the update); the rule is the same.

    Gradients flow to ``prev`` where a unit was zoned out and to ``new`` elsewhere.

    QRNN (Bradbury et al. 2017) zones out through the forget gate of :math:`c_t = f_t \odot
    c_{t-1} + (1 - f_t) \odot z_t`: zoning out :math:`c` equals replacing :math:`f` by
    ``zoneout(torch.ones_like(f), f, p, training)`` :math:`= d + (1 - d) f`, which is the paper's
    :math:`F = 1 - \mathrm{dropout}(1 - \sigma(W_f * X))` without dropout's :math:`1/(1-p)`
    rescaling.

    Args:
        prev: the previous state :math:`s_{t-1}` (broadcastable with ``new``).
        new: the state the recurrence computed, :math:`\tilde s_t`.
        p: zoneout probability.
        training: sample masks (``True``) or take the expectation (``False``).

    Returns: the state :math:`s_t`, of the broadcast shape of ``prev`` and ``new``.
    """
    p = _check_probability(p)
    if p == 0:
        return new
    if not training:
        return p * prev + (1 - p) * new
    shape = torch.broadcast_shapes(prev.shape, new.shape)
    zoned = torch.empty(shape, device=new.device).bernoulli_(p).bool()
    return torch.where(zoned, prev, new)


class Zoneout(nn.Module):
    r"""Zoneout around a single-step cell (``shared.models.cells.LSTMCell``, ``GRUCell``, ``RNNCell``).

    Krueger et al. (2017, Sec. 3.2): the cell computes its update as usual,
    :math:`(\tilde h_t, \tilde c_t)`, from the *zoned* previous state, and each unit then keeps
    its previous value with probability :math:`z` (independent masks for :math:`h` and
    :math:`c`, drawn at every call, i.e. every step):

    .. math::

        c_t &= d^c_t \odot c_{t-1} + (1 - d^c_t) \odot (f_t \odot c_{t-1} + i_t \odot g_t) \\
        h_t &= d^h_t \odot h_{t-1} + (1 - d^h_t) \odot \bigl(o_t \odot \tanh(f_t \odot c_{t-1}
               + i_t \odot g_t)\bigr)

    with :math:`d^c_t \sim \mathrm{Bernoulli}(z_c)`, :math:`d^h_t \sim \mathrm{Bernoulli}(z_h)`;
    note that :math:`h`'s update reads the cell state *before* zoneout, as in the paper. For a
    GRU or Elman cell the state is :math:`h` alone. In eval mode each unit is the expectation,
    :math:`h_t = z_h h_{t-1} + (1 - z_h) \tilde h_t` (and likewise :math:`c`). See :func:`zoneout`.

    Args:
        cell: the wrapped single-step cell, reachable as ``.cell`` (parameters ``cell.weight_ih``,
            ...; ``state_dict`` keys ``cell.*``).
        zoneout_h: probability :math:`z_h` of keeping a unit of :math:`h`.
        zoneout_c: probability :math:`z_c` of keeping a unit of :math:`c` (LSTM cells only).

    Inputs: input, hx as the cell: ``(N, H_in)`` or ``(H_in)``; the state ``(N, H)`` or ``(H)``
    (``(h, c)`` for an LSTM), zeros when omitted (the previous state zoneout keeps).

    Outputs: the new state, in the form of ``hx``.
    """

    def __init__(self, cell: RecurrentCell, zoneout_h: float = 0.0, zoneout_c: float = 0.0) -> None:
        super().__init__()
        if not isinstance(cell, RecurrentCell):
            raise TypeError(
                f"Zoneout wraps a single-step shared.models.cells.RecurrentCell (LSTMCell, GRUCell, RNNCell), "
                f"got {type(cell).__name__}"
            )
        probabilities = {
            "h": _check_probability(zoneout_h, "zoneout_h"),
            "c": _check_probability(zoneout_c, "zoneout_c"),
        }
        unknown = [name for name in cell.state_names if name not in probabilities]
        if unknown:
            raise ValueError(f"Zoneout knows the states h and c, {type(cell).__name__} has {list(cell.state_names)}")
        if probabilities["c"] and "c" not in cell.state_names:
            raise ValueError(f"zoneout_c={zoneout_c}, but {type(cell).__name__} has no cell state c")
        self.cell = cell
        self.zoneout_h = probabilities["h"]
        self.zoneout_c = probabilities["c"]

    def forward(self, input: Tensor, hx: Tensor | State | None = None) -> Tensor | State:
        new = self.cell(input, hx)
        single = isinstance(new, Tensor)
        news = (new,) if single else tuple(new)
        if hx is None:
            prevs = tuple(torch.zeros_like(s) for s in news)
        else:
            prevs = (hx,) if single else tuple(hx)
        out = tuple(
            zoneout(prev, state, self.zoneout_h if name == "h" else self.zoneout_c, self.training)
            for name, prev, state in zip(self.cell.state_names, prevs, news, strict=True)
        )
        return out[0] if single else out

    def extra_repr(self) -> str:
        return f"zoneout_h={self.zoneout_h}, zoneout_c={self.zoneout_c}"


# --------------------------------------------------------------------------------------------
# Activation regularization
# --------------------------------------------------------------------------------------------


def activation_regularization(output: Tensor, alpha: float) -> Tensor:
    r"""AR: :math:`\alpha` times the mean square of the final RNN layer's (dropped) outputs.

    Merity et al. (2018, Sec. 4.6) write :math:`\alpha L_2(m \odot h_t)`, with :math:`m` the
    dropout mask on the final layer's output :math:`h_t`, penalizing activations far from 0;
    AR is applied to the output of the final RNN layer only. Deviation in notation, not in
    practice: the paper's :math:`L_2(\cdot)` is computed in the authors' code (and here) as the
    *mean of the squares* over all elements, ``alpha * output.pow(2).mean()``, the quantity the
    reported :math:`\alpha = 2` was tuned for.

    Args:
        output: the final layer's output *after* (locked) dropout, any shape, e.g. ``(L, N, H)``.
            Padded positions count as given (pass zeros there, or only the valid part).
        alpha: the scale :math:`\alpha`.

    Returns: a scalar tensor.
    """
    return alpha * output.pow(2).mean()


def temporal_activation_regularization(output: Tensor, beta: float, batch_first: bool = False) -> Tensor:
    r"""TAR: :math:`\beta` times the mean square of the change of the final layer's output per step.

    Merity et al. (2018, Sec. 4.6): :math:`\beta L_2(h_t - h_{t+1})`, a slowness penalty on the
    output :math:`h_t` of the final RNN layer. As for :func:`activation_regularization`,
    :math:`L_2` is the mean of the squares over all elements and steps, as in the authors' code;
    there TAR reads the output *before* dropout (AR the one after).

    Args:
        output: the final layer's output before dropout, ``(L, N, *)`` (``(N, L, *)`` with
            ``batch_first``) or ``(L, *)``. Pairs that straddle padding count as given.
        beta: the scale :math:`\beta`.
        batch_first: time is dim 1.

    Returns: a scalar tensor (zero for a single step, which has no difference).
    """
    time_dim = 1 if batch_first and output.dim() > 2 else 0
    steps = output.size(time_dim)
    if steps < 2:
        return output.new_zeros(())
    diff = output.narrow(time_dim, 1, steps - 1) - output.narrow(time_dim, 0, steps - 1)
    return beta * diff.pow(2).mean()
