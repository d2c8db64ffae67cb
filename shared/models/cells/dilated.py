r"""Dilated recurrent neural networks (Chang et al., NeurIPS 2017, Sec. 2): ``DilatedRNN``, a stack
of one-layer recurrent stacks whose layer :math:`l` connects every state to the one
:math:`s^{(l)}` steps back; and ``interleave``/``deinterleave``, the reshapes that compute it.

The dilated recurrent skip connection of layer :math:`l` (Sec. 2.1) replaces the recurrence on
:math:`c_{t-1}` by one on :math:`c_{t-s^{(l)}}`,

.. math::

    c^{(l)}_t = f\bigl(x^{(l)}_t,\; c^{(l)}_{t - s^{(l)}}\bigr), \qquad l = 1, \dots, L_{\text{layers}},

where :math:`x^{(1)}_t = x_t` and :math:`x^{(l)}_t` is the output of layer :math:`l - 1` at step
:math:`t`; :math:`f` is any recurrent unit (the paper uses vanilla RNN, LSTM and GRU cells; here
any one-layer stack: :class:`~shared.models.cells.RNN`, :class:`~shared.models.cells.LSTM`,
:class:`~shared.models.cells.GRU`, or any :class:`~shared.models.cells.base.RecurrentStack`), and :math:`c` is
its state (the pair :math:`(h, c)` for an LSTM, whose output is :math:`h`). The default dilations
are the exponentially increasing ones of Sec. 2.2, :math:`s^{(l)} = M^{l-1}` with :math:`M = 2`:
1, 2, 4, ...; any list can be given. Layers are counted from 1 as in the paper: row
:math:`l - 1` of ``h_0``/``h_n`` and ``layers[l - 1]`` belong to layer :math:`l`. Steps are
counted from 0.

Parallel computation (Sec. 2): with dilation :math:`s`, the steps :math:`t \equiv j \pmod s` form
a sub-sequence :math:`x_j, x_{j+s}, x_{j+2s}, \dots` that never meets the others, so the layer is
:math:`s` independent recurrences with shared weights over sequences :math:`s` times shorter.
:func:`interleave` stacks the :math:`s` sub-sequences along the batch axis (``(L, N, *) ->
(ceil(L/s), s*N, *)``), one call of the wrapped stack runs them all (on its torch-kernel path
when it has one), and :func:`deinterleave` puts the outputs back in time order. When :math:`s`
does not divide :math:`L`, the sequence is padded with zeros **at the end**, as in the official
TensorFlow code (``code-terminator/DilatedRNN``, ``models/drnn.py``) and in
``zalandoresearch/pytorch-dilated-rnn``: a padded step is the last step of its sub-sequence, so
no real output depends on it, and its outputs are dropped.

States (not specified by the paper, whose models read only the top layer's outputs):

* **h_0** ``[l - 1]`` is the state :math:`c^{(l)}_{t - s^{(l)}}` for :math:`t < s^{(l)}`, the
  same for all :math:`s^{(l)}` sub-sequences of layer :math:`l` (zeros by default, as in both
  reference implementations).
* **h_n** ``[l - 1]`` is :math:`c^{(l)}_{L-1}`, layer :math:`l`'s state after the last step: the final
  state of the one sub-sequence that contains step :math:`L-1` (the one of phase
  :math:`(L-1) \bmod s^{(l)}`). As in torch, ``output[-1]`` equals the top layer's ``h_n``. The
  final states of the other :math:`s^{(l)} - 1` sub-sequences are not returned, so ``h_n`` can not
  continue the sequence in a later call (truncated BPTT) unless every dilation is 1.

Variable-length batches (``PackedSequence``) are supported: each sub-sequence is packed with its
own length (:math:`\lceil (L_n - j) / s \rceil` steps of sequence :math:`n` fall in phase
:math:`j`), so ``h_n`` is each sequence's state after its own last step, and every output equals
that of the sequence run alone.

Section numbers are as recalled, not yet checked against the published text.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from shared.models.cells.base import repack

StackFactory = Callable[..., nn.Module]
"""Builds a one-layer stack: ``factory(input_size, hidden_size, **kwargs)``, e.g. ``GRU`` or
``functools.partial(GRU, reset_after=False)``."""


def interleave(x: Tensor, dilation: int) -> Tensor:
    """Pad the time axis at the end to a multiple of ``dilation`` and stack the ``dilation``
    sub-sequences along the batch axis.

    Shape: ``(L, N, *) -> (ceil(L / d), d * N, *)``; row ``j * N + n`` of the result is sequence
    ``n``'s sub-sequence of phase ``j``, ``x[j::d, n]``, followed by zeros where it is shorter.
    """
    _check_dilation(dilation)
    length, batch = x.shape[:2]
    steps = -(-length // dilation)
    pad = steps * dilation - length
    if pad:
        x = torch.cat([x, x.new_zeros((pad, *x.shape[1:]))])
    # Step i * d + j of sequence n is element (i * d + j) * N + n = i * (d * N) + (j * N + n)
    # of the contiguous buffer: a reshape, no gather.
    return x.reshape(steps, dilation * batch, *x.shape[2:])


def deinterleave(y: Tensor, dilation: int, length: int) -> Tensor:
    """The inverse of :func:`interleave`: ``(ceil(L / d), d * N, *) -> (L, N, *)``, the padding
    at the end dropped; ``deinterleave(interleave(x, d), d, len(x))`` is ``x``."""
    _check_dilation(dilation)
    steps, rows = y.shape[:2]
    if rows % dilation or not (steps - 1) * dilation < length <= steps * dilation:
        raise ValueError(
            f"deinterleave: a tensor of shape {tuple(y.shape)} is no interleaved sequence of length {length} "
            f"with dilation {dilation}"
        )
    return y.reshape(steps * dilation, rows // dilation, *y.shape[2:])[:length]


class DilatedRNN(nn.Module):
    r"""A stack of dilated recurrent layers (Chang et al. 2017, Sec. 2), with the ``nn.RNN`` API.

    Layer :math:`l` is a one-layer stack run on the :math:`s^{(l)}` interleaved sub-sequences of
    its input; see :mod:`shared.models.cells.dilated` for the equations, the padding and the states.

    Args:
        cell: the recurrent unit: a class or factory building a one-layer, unidirectional,
            time-major stack as ``cell(layer_input_size, hidden_size, **cell_kwargs)`` (``RNN``,
            ``LSTM``, ``GRU``, any ``RecurrentStack`` subclass, or ``torch.nn``'s).
        input_size: features of the input :math:`x`.
        hidden_size: features of every layer's state.
        num_layers: dilated layers; layer :math:`l > 0` reads the output of layer :math:`l - 1`.
        dilations: :math:`s^{(l)}` per layer; ``None`` for :math:`1, 2, 4, \dots, 2^{L-1}`
            (Sec. 2.2).
        batch_first: if ``True``, input and output are ``(N, L, *)``; the states keep their
            ``(num_layers, N, H)`` layout either way.
        dropout: probability of dropout on the output of every layer but the last (as in torch;
            not in the paper).
        **cell_kwargs: passed to ``cell`` for every layer (``bias``, ``nonlinearity``,
            ``reset_after``, ``fast_path``, ``device``, ``dtype``, ...).

    :meth:`from_layers` builds one from constructed one-layer stacks instead.

    Inputs: input, hx
        - **input**: ``(L, N, H_in)``, ``(N, L, H_in)`` with ``batch_first``, unbatched
          ``(L, H_in)``, or a ``PackedSequence``.
        - **hx**: ``h_0`` (``(num_layers, N, H)``, ``(num_layers, H)`` unbatched), or the tuple
          ``(h_0, c_0)`` for an LSTM: every sub-sequence of layer :math:`l` starts from row
          :math:`l - 1`. Zeros when omitted. For a ``PackedSequence``, in the order of the batch
          before packing.

    Outputs: output, h_n
        - **output**: ``(L, N, H)`` (``(N, L, H)`` with ``batch_first``, ``(L, H)`` unbatched, a
          ``PackedSequence`` for packed input): the top layer's :math:`h_t` at every step.
        - **h_n**: in the form of ``hx``: every layer's state after the last step (of each
          sequence, for packed input), i.e. the final state of the sub-sequence containing it.

    Parameters: those of the wrapped stacks, as ``layers.{i}.weight_ih_l0`` etc.
    """

    layers: nn.ModuleList

    def __init__(
        self,
        cell: StackFactory,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        dilations: Sequence[int] | None = None,
        batch_first: bool = False,
        dropout: float = 0.0,
        **cell_kwargs,
    ) -> None:
        super().__init__()
        if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers <= 0:
            raise ValueError(f"num_layers must be a positive int, got {num_layers!r}")
        layers = [cell(input_size if i == 0 else hidden_size, hidden_size, **cell_kwargs) for i in range(num_layers)]
        self._setup(layers, dilations, batch_first, dropout)

    @classmethod
    def from_layers(
        cls,
        layers: Sequence[nn.Module],
        dilations: Sequence[int] | None = None,
        batch_first: bool = False,
        dropout: float = 0.0,
    ) -> DilatedRNN:
        """A ``DilatedRNN`` over given one-layer stacks (possibly of different kinds, e.g. a
        ``GRU`` over an ``RNN``); they must share ``hidden_size``, since ``h_n`` stacks them."""
        module = cls.__new__(cls)
        nn.Module.__init__(module)
        module._setup(list(layers), dilations, batch_first, dropout)
        return module

    def _setup(
        self, layers: list[nn.Module], dilations: Sequence[int] | None, batch_first: bool, dropout: float
    ) -> None:
        if not layers:
            raise ValueError("DilatedRNN needs at least one layer")
        for i, layer in enumerate(layers):
            _check_layer(layer, i)
            if i and layer.input_size != layers[i - 1].hidden_size:
                raise ValueError(
                    f"DilatedRNN: layer {i} reads {layer.input_size} features, but layer {i - 1} "
                    f"outputs {layers[i - 1].hidden_size}"
                )
            if layer.hidden_size != layers[0].hidden_size:
                raise ValueError(
                    f"DilatedRNN: every layer needs the same hidden_size (h_n stacks them), got "
                    f"{[m.hidden_size for m in layers]}"
                )
        dilations = [2**i for i in range(len(layers))] if dilations is None else list(dilations)
        if len(dilations) != len(layers):
            raise ValueError(f"DilatedRNN: {len(layers)} layers but {len(dilations)} dilations ({dilations})")
        for d in dilations:
            _check_dilation(d)
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(f"dropout should be a number in [0, 1] (a probability), got {dropout!r}")
        self.layers = nn.ModuleList(layers)
        self.dilations = tuple(dilations)
        self.input_size = layers[0].input_size
        self.hidden_size = layers[0].hidden_size
        self.num_layers = len(layers)
        self.batch_first = batch_first
        self.dropout = float(dropout)

    def reset_parameters(self) -> None:
        """Re-initialise every layer with its own ``reset_parameters``."""
        for layer in self.layers:
            layer.reset_parameters()

    def forward(
        self, input: Tensor | PackedSequence, hx: Tensor | tuple[Tensor, ...] | None = None
    ) -> tuple[Tensor | PackedSequence, Tensor | tuple[Tensor, ...]]:
        packed = isinstance(input, PackedSequence)
        if packed:
            x, lengths = pad_packed_sequence(input)  # time-major, in the order before packing
            batched = True
        else:
            if input.dim() not in (2, 3):
                raise ValueError(f"DilatedRNN: expected input to be 2-D (unbatched) or 3-D, got {input.dim()}-D")
            batched, lengths = input.dim() == 3, None
            if not batched:
                x = input.unsqueeze(1)
            else:
                x = input.transpose(0, 1) if self.batch_first else input
        if x.size(-1) != self.input_size:
            raise ValueError(
                f"DilatedRNN: expected input with {self.input_size} features (input_size), got {x.size(-1)}"
            )
        initial = self._split_initial_state(hx, x.size(1), batched)

        finals = []
        for i, (layer, dilation) in enumerate(zip(self.layers, self.dilations, strict=True)):
            if i and self.dropout:
                x = F.dropout(x, self.dropout, self.training)
            x, final = _dilated_layer(layer, x, dilation, None if initial is None else initial[i], lengths)
            finals.append(final)
        if len({len(f) for f in finals}) != 1:
            raise TypeError("DilatedRNN: the layers return states of different forms (e.g. an LSTM over a GRU)")
        state = tuple(torch.stack(s) for s in zip(*finals, strict=True))

        if packed:
            output = repack(x, lengths, input)
        elif not batched:
            output, state = x.squeeze(1), tuple(s.squeeze(1) for s in state)
        else:
            output = x.transpose(0, 1) if self.batch_first else x
        return output, state[0] if len(state) == 1 else state

    def _split_initial_state(
        self, hx: Tensor | tuple[Tensor, ...] | None, batch: int, batched: bool
    ) -> list[tuple[Tensor, ...]] | None:
        """``hx`` as one tuple of ``(N, H)`` tensors per layer (``None`` when omitted)."""
        if hx is None:
            return None
        states = (hx,) if isinstance(hx, Tensor) else hx
        if not isinstance(states, tuple | list) or not all(isinstance(s, Tensor) for s in states):
            raise TypeError(
                f"DilatedRNN: expected the initial state to be a Tensor or a tuple, got {type(hx).__name__}"
            )
        shape = (self.num_layers, batch, self.hidden_size) if batched else (self.num_layers, self.hidden_size)
        for s in states:
            if tuple(s.shape) != shape:
                raise ValueError(f"DilatedRNN: expected initial states of shape {shape}, got {tuple(s.shape)}")
        if not batched:
            states = [s.unsqueeze(1) for s in states]
        return [tuple(s[i] for s in states) for i in range(self.num_layers)]

    def extra_repr(self) -> str:
        s = f"dilations={self.dilations}"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        return s


def _dilated_layer(
    layer: nn.Module, x: Tensor, dilation: int, hx: tuple[Tensor, ...] | None, lengths: Tensor | None
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """One dilated layer over the time-major ``x`` (``(L, N, H_in)``; ``lengths`` ``(N,)`` for a
    padded batch, else ``None``): the output ``(L, N, H)`` and the state after each sequence's
    last step, one ``(N, H)`` tensor per state."""
    length, batch = x.shape[:2]
    inner = interleave(x, dilation)
    if hx is not None:
        # Row j * N + n of the interleaved batch is sequence n (phase j): repeat along the batch.
        hx = tuple(s.repeat(dilation, 1).unsqueeze(0) for s in hx)
        hx = hx[0] if len(hx) == 1 else hx
    if lengths is None:
        output, state = layer(inner, hx)
        last = torch.full((batch,), length - 1, device=x.device)
    else:
        phase = torch.arange(dilation).unsqueeze(1)
        # A phase without any real step (L_n <= j) still gets one step, because packing refuses
        # empty sequences: it reads padding, writes padding, and its state is never returned.
        sub_lengths = ((lengths - phase + dilation - 1) // dilation).clamp(min=1).flatten()
        output, state = layer(pack_padded_sequence(inner, sub_lengths, enforce_sorted=False), hx)
        output = pad_packed_sequence(output, total_length=inner.size(0))[0]
        last = (lengths - 1).to(x.device)
    rows = (last % dilation) * batch + torch.arange(batch, device=x.device)
    states = (state,) if isinstance(state, Tensor) else tuple(state)
    return deinterleave(output, dilation, length), tuple(s[0, rows] for s in states)


def _check_layer(layer: nn.Module, index: int) -> None:
    """A dilated layer must be one recurrence in one direction, reading time-major input."""
    for name, allowed in (("num_layers", 1), ("bidirectional", False), ("batch_first", False)):
        value = getattr(layer, name, allowed)
        if value != allowed:
            raise ValueError(
                f"DilatedRNN: layer {index} ({type(layer).__name__}) has {name}={value!r}; every dilated layer "
                f"must be a one-layer, unidirectional, time-major stack ({name}={allowed!r})"
            )
    for name in ("input_size", "hidden_size"):
        if not isinstance(getattr(layer, name, None), int):
            raise TypeError(f"DilatedRNN: layer {index} ({type(layer).__name__}) has no int attribute {name}")


def _check_dilation(dilation: int) -> None:
    if not isinstance(dilation, int) or isinstance(dilation, bool) or dilation <= 0:
        raise ValueError(f"a dilation must be a positive int, got {dilation!r}")
