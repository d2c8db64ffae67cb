r"""The base classes of every recurrent cell and stack in the project.

A recurrence (Elman RNN, LSTM, GRU, and later IndRNN, ON-LSTM, QRNN, ...) is written once, as a
subclass of :class:`RecurrentModule` that defines

* ``_parameter_shapes(input_size)``: the per-layer parameters, by name (default: torch's
  ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` with ``num_gates * hidden_size`` rows);
* ``_step(gates_x, state, weights)``: one time step, given the input projection
  ``gates_x = W_ih x_t + b_ih`` (computed by ``_project``), the state tuple and the weights;
* ``state_names``: ``("h",)``, or ``("h", "c")`` for a state made of two tensors.

Combined with :class:`RecurrentCell` it is a single-step module with the ``nn.*Cell`` API;
combined with :class:`RecurrentStack` it is a multi-layer, optionally bidirectional sequence
module with the ``nn.RNN``/``nn.LSTM``/``nn.GRU`` API. The stack handles the input layouts
(time-major, batch-first, unbatched, ``PackedSequence``), initial states, directions, layers and
dropout between layers; its parameters are named ``{name}_l{k}`` and ``{name}_l{k}_reverse``
like torch's. A new cell, e.g. an element-wise recurrence as in IndRNN::

    class _IndRNNRecurrence(RecurrentModule):
        def _parameter_shapes(self, input_size):
            shapes = {"weight_ih": (self.hidden_size, input_size), "weight_hh": (self.hidden_size,)}
            return shapes | ({"bias_ih": (self.hidden_size,)} if self.bias else {})

        def _step(self, gates_x, state, weights):
            return (torch.relu(gates_x + weights["weight_hh"] * state[0]),)

    class IndRNN(_IndRNNRecurrence, RecurrentStack): ...
    class IndRNNCell(_IndRNNRecurrence, RecurrentCell): ...

A recurrence that is better computed over the whole sequence at once (QRNN's forget-mult)
overrides :meth:`RecurrentStack._scan` (and ``_project`` for a convolutional input map, or
:meth:`RecurrentStack._run_layer` for per-layer state kept across calls).

Two execution paths (:class:`RecurrentStack`)
---------------------------------------------
* **torch kernel** (fast path): when a subclass's :meth:`RecurrentStack._make_torch_kernel`
  returns a torch module computing exactly the same function (plain RNN/LSTM/GRU), the stack
  calls that module's fused kernel (cuDNN on a GPU) through
  ``torch.func.functional_call(kernel, weights, (input, hx), strict=True)``. The kernel module
  is built once on the ``meta`` device (its own parameters hold no memory) and is kept out of
  ``_modules``, so it never appears in ``parameters()``, ``state_dict()`` or ``.to()``; every
  call hands it our tensors. On CUDA, torch's ``nn.RNNBase`` copies tensors it has not seen
  before into one cuDNN buffer and rebinds them to views of it (``flatten_parameters``), as it
  does for its own parameters.
* **loop**: a Python loop over time, for every other recurrence. The input projection of all
  time steps is one matrix product per layer and direction, hoisted out of the loop. Padded
  (``PackedSequence``) batches are handled by masking: a sequence's state stops changing after
  its length, and the reverse direction reverses each sequence within its own length.

``fast_path=None`` picks the kernel whenever one exists; ``False`` forces the loop (the
reference the kernel is tested against); ``True`` demands the kernel.

Supplying weights (regularizers)
--------------------------------
Every forward reads the weights exactly once, through :meth:`RecurrentModule._weights`, a
``dict`` from parameter name (``weight_hh_l0``, ...) to tensor, and both paths compute with
those tensors. A regularizer that needs other weights for one forward (DropConnect with a mask
fixed for the whole sequence, as AWD-LSTM's weight drop) can

* override ``_weights`` in a subclass or wrapper and return e.g. ``{**params, "weight_hh_l0":
  mask * params["weight_hh_l0"]}``;
* call ``torch.func.functional_call(stack, {"weight_hh_l0": w, ...}, (input, hx))``;
* or register a ``torch.nn.utils.parametrize`` parametrization on a weight (evaluated once per
  forward, since ``_weights`` reads each attribute once).
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

State = tuple[Tensor, ...]
Weights = dict[str, Tensor]


class RecurrentModule(nn.Module):
    """What cells and stacks share: the parameter layout, the input projection and one step.

    Subclasses set ``num_gates`` (or override :meth:`_parameter_shapes`) and ``state_names``, and
    implement :meth:`_step`. ``input_size``, ``hidden_size`` and ``bias`` are set by
    :class:`RecurrentCell` / :class:`RecurrentStack` before the parameters are built, so
    options a subclass reads in ``_parameter_shapes`` or ``reset_parameters`` must be set before
    calling their ``__init__``.
    """

    num_gates: int = 1
    state_names: ClassVar[tuple[str, ...]] = ("h",)

    input_size: int
    hidden_size: int
    bias: bool
    _weight_names: list[str]  # every parameter of the recurrence, in torch's order

    def _parameter_shapes(self, input_size: int) -> dict[str, tuple[int, ...]]:
        """The parameters of one layer (one direction) reading ``input_size`` features."""
        rows = self.num_gates * self.hidden_size
        shapes = {"weight_ih": (rows, input_size), "weight_hh": (rows, self.hidden_size)}
        if self.bias:
            shapes |= {"bias_ih": (rows,), "bias_hh": (rows,)}
        return shapes

    def _project(self, x: Tensor, weights: Weights) -> Tensor:
        """The input's contribution to the gates, for any number of leading (time, batch) dims."""
        return F.linear(x, weights["weight_ih"], weights.get("bias_ih"))

    def _step(self, gates_x: Tensor, state: State, weights: Weights) -> State:
        """One time step: the new state from the projected input ``gates_x`` (``(N, *)``) and the
        previous state (one ``(N, hidden_size)`` tensor per entry of ``state_names``)."""
        raise NotImplementedError

    def _weights(self) -> Weights:
        """The weights one forward computes with, by parameter name; the hook for regularizers."""
        return {name: getattr(self, name) for name in self._weight_names}

    def reset_parameters(self) -> None:
        r"""torch's initialisation: every parameter :math:`\sim U(-1/\sqrt{H}, 1/\sqrt{H})`."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters(recurse=False):
            nn.init.uniform_(weight, -bound, bound)

    def _register_weights(self, input_size: int, suffix: str, factory: dict) -> list[tuple[str, str]]:
        """Create one layer's parameters; return (name in ``_step``, attribute name) pairs."""
        names = []
        for name, shape in self._parameter_shapes(input_size).items():
            self.register_parameter(name + suffix, nn.Parameter(torch.empty(shape, **factory)))
            names.append((name, name + suffix))
        return names

    def _check_input_size(self, x: Tensor) -> None:
        if x.size(-1) != self.input_size:
            raise ValueError(
                f"{type(self).__name__}: expected input with {self.input_size} features (input_size), "
                f"got {x.size(-1)} (input shape {tuple(x.shape)})"
            )

    def _initial_state(self, hx: Tensor | State | None, shape: tuple[int, ...], like: Tensor) -> State:
        """``hx`` as a tuple with one tensor of ``shape`` per state (zeros when ``None``)."""
        if hx is None:
            return tuple(like.new_zeros(shape) for _ in self.state_names)
        single = len(self.state_names) == 1
        states = (hx,) if single else hx
        if (
            (single and not isinstance(hx, Tensor))
            or (not single and (not isinstance(hx, tuple | list) or len(hx) != len(self.state_names)))
            or not all(isinstance(s, Tensor) for s in states)
        ):
            form = "a Tensor" if single else f"a tuple ({', '.join(n + '_0' for n in self.state_names)})"
            raise TypeError(f"{type(self).__name__}: expected the initial state to be {form}, got {type(hx).__name__}")
        for name, s in zip(self.state_names, states, strict=True):
            if tuple(s.shape) != shape:
                raise ValueError(f"{type(self).__name__}: expected {name}_0 of shape {shape}, got {tuple(s.shape)}")
        return tuple(states)

    def _output_state(self, state: State) -> Tensor | State:
        return state[0] if len(self.state_names) == 1 else state


class RecurrentCell(RecurrentModule):
    """A single recurrent step with the ``nn.RNNCell``/``nn.LSTMCell``/``nn.GRUCell`` API.

    Args:
        input_size: features of the input :math:`x`.
        hidden_size: features of the hidden state :math:`h`.
        bias: if ``False``, no ``bias_ih``/``bias_hh``.
        device, dtype: of the parameters, as in ``torch.nn``.

    Inputs: input, hx
        - **input**: ``(N, H_in)`` or unbatched ``(H_in)``.
        - **hx**: the state, one tensor ``(N, H)`` (``(H)`` unbatched) per state (``h`` or
          ``(h, c)``); zeros when omitted.

    Outputs: the new state, in the form of ``hx``.

    Parameters are named ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` like torch's.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        _check_sizes(input_size, hidden_size, bias)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        factory = {"device": device, "dtype": dtype}
        self._weight_names = [full for _, full in self._register_weights(input_size, "", factory)]
        self.reset_parameters()

    def forward(self, input: Tensor, hx: Tensor | State | None = None) -> Tensor | State:
        if input.dim() not in (1, 2):
            raise ValueError(
                f"{type(self).__name__}: expected input to be 1-D (unbatched) or 2-D (N, H_in), got {input.dim()}-D"
            )
        self._check_input_size(input)
        shape = (input.size(0), self.hidden_size) if input.dim() == 2 else (self.hidden_size,)
        state = self._initial_state(hx, shape, input)
        weights = self._weights()
        return self._output_state(self._step(self._project(input, weights), state, weights))

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RecurrentStack(RecurrentModule):
    r"""A multi-layer, optionally bidirectional recurrent network with the ``nn.RNN`` API.

    Args:
        input_size: features of the input :math:`x`.
        hidden_size: features of the hidden state :math:`h`.
        num_layers: stacked layers; layer :math:`k > 0` reads the output of layer :math:`k-1`.
        bias: if ``False``, no biases.
        batch_first: if ``True``, input and output are ``(N, L, *)`` instead of ``(L, N, *)``;
            the hidden state keeps its ``(num_layers * D, N, H)`` layout either way.
        dropout: probability of dropout on the output of every layer but the last (torch's
            semantics: none with one layer).
        bidirectional: if ``True``, each layer also reads the sequence backwards (``D = 2``).
        fast_path: ``None`` uses torch's fused kernel when it computes the same function,
            ``False`` always runs the Python loop, ``True`` requires the kernel.
        device, dtype: of the parameters, as in ``torch.nn``.

    Inputs: input, hx
        - **input**: ``(L, N, H_in)``, ``(N, L, H_in)`` with ``batch_first``, unbatched
          ``(L, H_in)``, or a ``PackedSequence``.
        - **hx**: the initial state, one tensor ``(num_layers * D, N, H)`` (``(num_layers * D,
          H)`` unbatched) per state: ``h_0``, or the tuple ``(h_0, c_0)``; zeros when omitted.
          For a ``PackedSequence``, in the order of the batch before packing.

    Outputs: output, h_n
        - **output**: ``(L, N, D * H)`` (``(N, L, D * H)`` with ``batch_first``, ``(L, D * H)``
          unbatched, a ``PackedSequence`` for packed input): the last layer's state ``h`` at
          every step, the two directions concatenated.
        - **h_n**: the final state of every layer and direction, in the form of ``hx``; for the
          backward direction, the state after reading the first element.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        fast_path: bool | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        _check_sizes(input_size, hidden_size, bias)
        if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers <= 0:
            raise ValueError(f"num_layers must be a positive int, got {num_layers!r}")
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(f"dropout should be a number in [0, 1] (a probability), got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects "
                f"num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                stacklevel=2,
            )
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.fast_path = fast_path

        factory = {"device": device, "dtype": dtype}
        self._layer_weight_names: list[list[tuple[str, str]]] = []
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else hidden_size * self.num_directions
            for direction in range(self.num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                self._layer_weight_names.append(self._register_weights(layer_input_size, suffix, factory))
        self._weight_names = [full for names in self._layer_weight_names for _, full in names]
        self.reset_parameters()

        # Stored past nn.Module.__setattr__, which would register it as a submodule: its (meta)
        # parameters would join ours and .to() would try to move them. It only ever computes
        # with the tensors handed to it.
        self.__dict__["_kernel"] = self._make_torch_kernel()
        self._uses_torch_kernel()  # fast_path=True without a kernel fails here, not at the first call

    def _make_torch_kernel(self) -> nn.RNNBase | None:
        """A torch module computing exactly this stack's function, or ``None`` (loop only).

        Subclasses return e.g. ``nn.LSTM(**self._torch_kernel_kwargs())`` for their default options.
        """
        return None

    def _torch_kernel_kwargs(self) -> dict:
        return {
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "bias": self.bias,
            # Zero for one layer, where it does nothing, so torch does not warn a second time.
            "dropout": self.dropout if self.num_layers > 1 else 0.0,
            "bidirectional": self.bidirectional,
            "device": "meta",
        }

    def _uses_torch_kernel(self) -> bool:
        if self.fast_path and self._kernel is None:
            raise ValueError(f"{type(self).__name__}: fast_path=True, but torch has no kernel for these options")
        return self._kernel is not None if self.fast_path is None else self.fast_path

    def flatten_parameters(self) -> None:
        """Does nothing; for code written against ``nn.RNNBase`` (the kernel gets our tensors at every call)."""

    def forward(
        self, input: Tensor | PackedSequence, hx: Tensor | State | None = None
    ) -> tuple[Tensor | PackedSequence, Tensor | State]:
        packed = isinstance(input, PackedSequence)
        if packed:
            x = input.data
            batch, batched = int(input.batch_sizes[0]), True
        else:
            x = input
            if x.dim() not in (2, 3):
                raise ValueError(f"{type(self).__name__}: expected input to be 2-D (unbatched) or 3-D, got {x.dim()}-D")
            batched = x.dim() == 3
            batch = x.size(0 if self.batch_first else 1) if batched else 1
        self._check_input_size(x)
        rows = self.num_layers * self.num_directions
        shape = (rows, batch, self.hidden_size) if batched else (rows, self.hidden_size)
        state = self._initial_state(hx, shape, x)
        if not batched:
            state = tuple(s.unsqueeze(1) for s in state)
            x = x.unsqueeze(1)
        elif self.batch_first and not packed:
            x = x.transpose(0, 1)

        weights = self._weights()
        if self._uses_torch_kernel():
            output, state = self._run_torch_kernel(input if packed else x, state, weights)
        elif packed:
            padded, lengths = pad_packed_sequence(input)
            output, state = self._run_loop(padded, state, weights, lengths)
            output = repack(output, lengths, input)
        else:
            output, state = self._run_loop(x, state, weights, None)

        if not batched:
            output, state = output.squeeze(1), tuple(s.squeeze(1) for s in state)
        elif self.batch_first and not packed:
            output = output.transpose(0, 1)
        return output, self._output_state(state)

    def _run_torch_kernel(
        self, input: Tensor | PackedSequence, state: State, weights: Weights
    ) -> tuple[Tensor | PackedSequence, State]:
        kernel = self._kernel
        kernel.train(self.training)
        output, h_n = functional_call(kernel, weights, (input, self._output_state(state)), strict=True)
        return output, (h_n,) if isinstance(h_n, Tensor) else tuple(h_n)

    def _run_loop(self, x: Tensor, state: State, weights: Weights, lengths: Tensor | None) -> tuple[Tensor, State]:
        """All layers and directions over a time-major ``x`` (``(L, N, H_in)``); ``lengths`` (or
        ``None`` when every sequence fills ``L``) marks the end of each padded sequence."""
        mask = reverse_index = None
        if lengths is not None:
            time = torch.arange(x.size(0), device=x.device).unsqueeze(1)
            lengths = lengths.to(x.device)
            valid = time < lengths
            mask = valid.unsqueeze(-1)
            reverse_index = torch.where(valid, lengths - 1 - time, time)
        final = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                w = {name: weights[full] for name, full in self._layer_weight_names[k]}
                layer_input = reverse_time(x, reverse_index) if direction else x
                output, last = self._run_layer(layer_input, tuple(s[k] for s in state), w, mask, k)
                outputs.append(reverse_time(output, reverse_index) if direction else output)
                final.append(last)
            x = torch.cat(outputs, -1) if self.bidirectional else outputs[0]
            if self.dropout and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, self.training)
        return x, tuple(torch.stack(s) for s in zip(*final, strict=True))

    def _run_layer(
        self, x: Tensor, state: State, weights: Weights, mask: Tensor | None, index: int
    ) -> tuple[Tensor, State]:
        """Layer-direction ``index`` (``layer * D + direction``) over the time-major ``x``, read in
        its own direction: the input projection, then the recurrence. Override for per-layer state
        kept across calls (QRNN's ``save_prev_x``)."""
        return self._scan(self._project(x, weights), state, weights, mask)

    def _scan(self, gates_x: Tensor, state: State, weights: Weights, mask: Tensor | None) -> tuple[Tensor, State]:
        """One layer in one direction: the state ``h`` at every step (``(L, N, H)``) and the last state.

        ``gates_x`` is the projected input ``(L, N, *)``; ``mask`` (``(L, N, 1)``, or ``None`` for
        full-length sequences) is ``False`` past a sequence's end, where its state must stay as
        it was (what ``output`` holds there is dropped). Override for a recurrence with a
        whole-sequence algorithm.
        """
        outputs = []
        for t, gates_t in enumerate(gates_x.unbind(0)):
            new = self._step(gates_t, state, weights)
            state = new if mask is None else tuple(torch.where(mask[t], n, s) for n, s in zip(new, state, strict=True))
            outputs.append(state[0])
        return torch.stack(outputs), state

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        for name, default in (
            ("num_layers", 1),
            ("bias", True),
            ("batch_first", False),
            ("dropout", 0.0),
            ("bidirectional", False),
            ("fast_path", None),
        ):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        return s


def _check_sizes(input_size: int, hidden_size: int, bias: bool) -> None:
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not isinstance(bias, bool):
        raise TypeError(f"bias should be of type bool, got {type(bias).__name__}")


def reverse_time(x: Tensor, index: Tensor | None) -> Tensor:
    """Reverse time (dim 0); with ``index`` (``(L, N)``), each sequence within its own length."""
    if index is None:
        return x.flip(0)
    return x.gather(0, index.unsqueeze(-1).expand_as(x))


def repack(padded: Tensor, lengths: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack the time-major ``padded`` (batch in the original order) with the layout of ``like``,
    so that output and input share ``batch_sizes`` and ``sorted_indices`` as in torch."""
    if like.sorted_indices is not None:
        padded = padded.index_select(1, like.sorted_indices)
        lengths = lengths[like.sorted_indices.cpu()]
    return like._replace(data=pack_padded_sequence(padded, lengths, enforce_sorted=True).data)
