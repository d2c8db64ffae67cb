r"""Sliced recurrent neural networks (Yu & Liu, COLING 2018, Sec. 3, Fig. 2): ``SlicedRNN``, a tree
of recurrent stacks over recursively sliced sequences.

A sequence :math:`X = (x_0, \dots, x_{T-1})` is sliced into :math:`n` subsequences of equal
length, each of those again into :math:`n`, :math:`k` times in all: :math:`n^k` *minimal
subsequences* of length :math:`l_0 = T / n^k`,

.. math::

    X^{(0)}_m = (x_{m l_0}, \dots, x_{(m+1) l_0 - 1}), \qquad m = 0, \dots, n^k - 1.

Level 0 runs one recurrence :math:`\mathrm{RNN}^{(0)}` over every minimal subsequence, all of
them at once as one batch, and keeps each one's last hidden state. Level :math:`p = 1, \dots, k`
runs :math:`\mathrm{RNN}^{(p)}` over each group of :math:`n` consecutive representations of the
level below (the :math:`n` parts of one longer subsequence):

.. math::

    h^{(1)}_m = \mathrm{RNN}^{(0)}\bigl(X^{(0)}_m\bigr)_{\text{last}}, \qquad
    h^{(p+1)}_g = \mathrm{RNN}^{(p)}\bigl(h^{(p)}_{gn}, \dots, h^{(p)}_{gn+n-1}\bigr)_{\text{last}},
    \quad g = 0, \dots, n^{k-p} - 1,

so that the top level (:math:`p = k`) reads the :math:`n` representations of the slices of the
first slicing and its last state :math:`F = h^{(k+1)}_0` represents the whole sequence (the
paper feeds it to a softmax classifier). Each level has its own weights, shared by all of its
subsequences; the recurrences of one level are independent, which is what makes the model
parallel: the longest chain of steps is :math:`l_0 + k n` instead of :math:`T`. The paper's
SRNN(8, 2) on 512-token documents has :math:`l_0 = 8` and uses GRUs (the official Keras script,
``zepingyu0512/srnn``, builds them with a linear candidate activation, ``activation=None``,
which the shared ``GRU`` does not offer; a paper folder wanting it supplies such a stack).

Here each level is any of our stacks (a class or factory per level, or one for all), and

* ``k = 0`` is the degenerate case: no slicing, one minimal subsequence (the whole sequence) and
  one level, i.e. exactly the wrapped stack over the sequence (tested);
* **output** is the top level's output at every one of its steps (:math:`n` steps, or :math:`T`
  for ``k = 0``), **h_n** its final state in the stack's own form, so ``output[-1]`` is
  :math:`F`; **h_0** is the top level's initial state, the lower levels start from zeros as in
  the paper (no other initial state exists for a subsequence);
* the representation of a subsequence is the top layer's :math:`h` after its last step
  (``output[-1]`` of the level's stack), also for a multi-layer level or an LSTM (not :math:`c`);
* :math:`T` must be a positive multiple of :math:`n^k`, otherwise a ``ValueError``: padding is
  the data pipeline's choice (the official script pads and truncates every document at the
  front, Keras' ``pad_sequences`` defaults, to :math:`T = 512`); a ``PackedSequence`` raises
  ``NotImplementedError``.

Section and figure numbers are as recalled, not yet checked against the published text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

StackFactory = Callable[..., nn.Module]
"""Builds one level's stack: ``factory(input_size, hidden_size, **kwargs)``, e.g. ``GRU``."""


class SlicedRNN(nn.Module):
    r"""The sliced recurrent network SRNN(:math:`n`, :math:`k`) (Yu & Liu 2018, Sec. 3, Fig. 2).

    See :mod:`shared.models.cells.sliced` for the structure and the definitions of the outputs.

    Args:
        cell: the recurrent unit: a class or factory building a unidirectional, time-major stack
            as ``cell(level_input_size, hidden_size, **cell_kwargs)`` (``GRU`` as in the paper,
            ``LSTM``, ``RNN``, any ``RecurrentStack``), used for every level; or a sequence of
            ``k + 1`` of them, one per level from the bottom (e.g. ``functools.partial`` for
            per-level options).
        input_size: features of the input :math:`x`.
        hidden_size: features of every level's state.
        n: subsequences per slicing (:math:`n \geq 1`).
        k: number of slicings (:math:`k \geq 0`); there are ``k + 1`` levels.
        batch_first: if ``True``, input and output are ``(N, L, *)``; the state keeps the
            stack's ``(num_layers, N, H)`` layout either way.
        **cell_kwargs: passed to ``cell`` for every level (``bias``, ``num_layers``,
            ``fast_path``, ``device``, ``dtype``, ...).

    :meth:`from_levels` builds one from constructed stacks instead.

    Inputs: input, hx
        - **input**: ``(T, N, H_in)``, ``(N, T, H_in)`` with ``batch_first``, or unbatched
          ``(T, H_in)``, with :math:`T` a positive multiple of :math:`n^k`.
        - **hx**: the top level's initial state, in its stack's form (``h_0``
          ``(num_layers, N, H)``, or ``(h_0, c_0)``); zeros when omitted.

    Outputs: output, h_n
        - **output**: ``(S, N, H)`` (``(N, S, H)`` with ``batch_first``, ``(S, H)`` unbatched),
          the top level's output at each of its ``S = n`` steps (``S = T`` when ``k = 0``);
          ``output[-1]`` represents the whole sequence.
        - **h_n**: the top level's final state, in the form of ``hx``.

    Parameters: those of the level stacks, as ``levels.{p}.weight_ih_l0`` etc.
    """

    levels: nn.ModuleList

    def __init__(
        self,
        cell: StackFactory | Sequence[StackFactory],
        input_size: int,
        hidden_size: int,
        n: int = 8,
        k: int = 2,
        batch_first: bool = False,
        **cell_kwargs,
    ) -> None:
        super().__init__()
        _check_count("k", k, 0)
        factories = list(cell) if isinstance(cell, Sequence) else [cell] * (k + 1)
        if len(factories) != k + 1:
            raise ValueError(f"SlicedRNN: k={k} needs {k + 1} cells (one per level), got {len(factories)}")
        levels = [
            factory(input_size if p == 0 else hidden_size, hidden_size, **cell_kwargs)
            for p, factory in enumerate(factories)
        ]
        self._setup(levels, n, batch_first)

    @classmethod
    def from_levels(cls, levels: Sequence[nn.Module], n: int = 8, batch_first: bool = False) -> SlicedRNN:
        """A ``SlicedRNN`` over given stacks, ``levels[0]`` at the bottom (``k = len(levels) - 1``);
        level :math:`p` must read ``levels[p - 1].hidden_size`` features."""
        module = cls.__new__(cls)
        nn.Module.__init__(module)
        module._setup(list(levels), n, batch_first)
        return module

    def _setup(self, levels: list[nn.Module], n: int, batch_first: bool) -> None:
        _check_count("n", n, 1)
        if not levels:
            raise ValueError("SlicedRNN needs at least one level")
        for p, level in enumerate(levels):
            for name, allowed in (("bidirectional", False), ("batch_first", False)):
                if getattr(level, name, allowed) != allowed:
                    raise ValueError(
                        f"SlicedRNN: level {p} ({type(level).__name__}) has {name}={getattr(level, name)!r}; every "
                        f"level must be a unidirectional, time-major stack"
                    )
            if p and level.input_size != levels[p - 1].hidden_size:
                raise ValueError(
                    f"SlicedRNN: level {p} reads {level.input_size} features, but level {p - 1} "
                    f"outputs {levels[p - 1].hidden_size}"
                )
        self.levels = nn.ModuleList(levels)
        self.input_size = levels[0].input_size
        self.hidden_size = levels[-1].hidden_size
        self.n = n
        self.k = len(levels) - 1
        self.batch_first = batch_first

    def reset_parameters(self) -> None:
        """Re-initialise every level with its own ``reset_parameters``."""
        for level in self.levels:
            level.reset_parameters()

    def forward(
        self, input: Tensor, hx: Tensor | tuple[Tensor, ...] | None = None
    ) -> tuple[Tensor, Tensor | tuple[Tensor, ...]]:
        if isinstance(input, PackedSequence):
            raise NotImplementedError(
                "SlicedRNN slices every sequence at the same places, so all must have the same length T "
                f"(a multiple of n**k = {self.n**self.k}): pad the batch instead of packing it"
            )
        if input.dim() not in (2, 3):
            raise ValueError(f"SlicedRNN: expected input to be 2-D (unbatched) or 3-D, got {input.dim()}-D")
        batched = input.dim() == 3
        if not batched:
            x = input.unsqueeze(1)
        else:
            x = input.transpose(0, 1) if self.batch_first else input
        steps, batch = x.shape[:2]
        if steps == 0 or steps % self.n**self.k:
            raise ValueError(
                f"SlicedRNN: a sequence of length T={steps} can not be sliced {self.k} times into n={self.n} "
                f"equal parts: T must be a positive multiple of n**k = {self.n**self.k}"
            )

        length = steps // self.n**self.k  # l_0, then n at every level above
        for level in self.levels[:-1]:
            output, _ = level(_slice(x, length), None)
            x = output[-1].reshape(x.size(0) // length, batch, -1)  # one step per subsequence, in order
            length = self.n
        # The top level sees one sequence per batch element: the stack handles hx and the
        # unbatched layout itself.
        output, state = self.levels[-1](x if batched else x.squeeze(1), hx)
        if batched and self.batch_first:
            output = output.transpose(0, 1)
        return output, state

    def extra_repr(self) -> str:
        return f"n={self.n}, k={self.k}" + (", batch_first=True" if self.batch_first else "")


def _slice(x: Tensor, length: int) -> Tensor:
    """Cut the time-major ``x`` (``(S, N, *)``) into ``S / length`` consecutive subsequences and
    stack them along the batch: ``(length, (S / length) * N, *)``, row ``m * N + b`` holding
    ``x[m * length : (m + 1) * length, b]``."""
    steps, batch = x.shape[:2]
    return x.reshape(steps // length, length, batch, *x.shape[2:]).transpose(0, 1).reshape(length, -1, *x.shape[2:])


def _check_count(name: str, value: int, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"SlicedRNN: {name} must be an int >= {minimum}, got {value!r}")
