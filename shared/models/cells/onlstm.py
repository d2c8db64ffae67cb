r"""The ordered-neurons LSTM (Shen, Tan, Sordoni & Courville, ICLR 2019): ``ONLSTM`` and ``ONLSTMCell``.

An LSTM whose neurons are ordered: two *master* gates decide, at every step, up to which neuron
the memory is erased and from which neuron new input is written, so that high-ranking neurons
keep long-lived (high-level, constituent-sized) information and low-ranking ones are overwritten
often (Sec. 4). The activation is the cumulative softmax (Sec. 4.1),

.. math:: \mathrm{cumax}(x) = \mathrm{cumsum}(\mathrm{softmax}(x)),

the expectation of a binary gate :math:`(0, \dots, 0, 1, \dots, 1)` whose split point has the
distribution :math:`\mathrm{softmax}(x)`; its values rise monotonically to exactly 1. With the
standard LSTM gates :math:`f_t, i_t, o_t = \sigma(\cdot)` and :math:`\hat c_t = \tanh(\cdot)`, each
of the form :math:`W x_t + U h_{t-1} + b` (Sec. 4), the update is (Sec. 4.2):

.. math::

    \tilde f_t &= \mathrm{cumax}(W_{\tilde f} x_t + U_{\tilde f} h_{t-1} + b_{\tilde f})
        && \text{master forget gate, Eq. (9)} \\
    \tilde i_t &= 1 - \mathrm{cumax}(W_{\tilde i} x_t + U_{\tilde i} h_{t-1} + b_{\tilde i})
        && \text{master input gate, Eq. (10)} \\
    \omega_t &= \tilde f_t \circ \tilde i_t && \text{Eq. (11)} \\
    \hat f_t &= f_t \circ \omega_t + (\tilde f_t - \omega_t) && \text{Eq. (12)} \\
    \hat i_t &= i_t \circ \omega_t + (\tilde i_t - \omega_t) && \text{Eq. (13)} \\
    c_t &= \hat f_t \circ c_{t-1} + \hat i_t \circ \hat c_t && \text{Eq. (14)} \\
    h_t &= o_t \circ \tanh(c_t) && \text{as the LSTM}

:math:`\tilde f_t` rises from 0 to 1 along the neurons (erase the low ones, keep the high ones),
:math:`\tilde i_t` falls from 1 to 0 (write the low ones); where both are on (:math:`\omega_t`)
the cell behaves as an LSTM.

Chunks. The master gates have :math:`D_m = H / C` dimensions for a ``chunk_size`` :math:`C`, and
each value drives :math:`C` consecutive neurons: neuron :math:`j` (0-based) follows master
dimension :math:`\lfloor j / C \rfloor` (the official code's ``view(-1, n_chunk, chunk_size)``).
``hidden_size`` must be divisible by ``chunk_size``. The official PTB command uses
``--chunk_size 10``; the default here, 1, gives every neuron its own master dimension.

Distances (the unsupervised-parsing signal). With ``return_distances=True`` the stack also
returns, for every layer, direction and step, the official code's ``distance_cforget``

.. math:: d_t = 1 - \frac{1}{D_m} \sum_{k=1}^{D_m} \tilde f_{tk}
          = \frac{1}{D_m}\,\mathbb{E}[\text{split point of } \tilde f_t],

the expected split point of the master forget gate (counted in master dimensions from 0) divided
by :math:`D_m`: a large :math:`d_t` means the step erases much of the memory, i.e. closes a
large constituent. The paper's unsupervised-parsing section estimates the split point
unnormalised, :math:`\hat d^f_t = D_m - \sum_k \tilde f_{tk} = D_m d_t`; the greedy top-down
parse only ranks the distances of one sentence, so both give the same trees. Since the last entry of
:math:`\tilde f_t` is 1 and all lie in :math:`[0, 1]`, :math:`d_t \in [0, 1 - 1/D_m]`
(identically 0 when ``chunk_size == hidden_size``). The official evaluation
(``test_phrase_grammar.py``) parses with the second layer's distances of a 3-layer model,
``distances[1]``.

Parameter layout. ``weight_ih_l{k}`` ``(4H + 2 D_m, H_in)``, ``weight_hh_l{k}`` ``(4H + 2 D_m, H)``,
``bias_ih_l{k}`` and ``bias_hh_l{k}`` ``(4H + 2 D_m)``, ``_reverse`` for the backward direction.
Rows in the official code's order, so that its ``ih``/``hh`` linear layers load by renaming:

=================  ==========================  ==============================
rows               gate                        pre-activation of
=================  ==========================  ==============================
``[0, D_m)``       master input                :math:`\tilde i_t` (Eq. 10)
``[D_m, 2D_m)``    master forget               :math:`\tilde f_t` (Eq. 9)
next ``H``         output                      :math:`o_t`
next ``H``         cell input                  :math:`\hat c_t`
next ``H``         input                       :math:`i_t`
last ``H``         forget                      :math:`f_t`
=================  ==========================  ==============================

Two biases, as the official code (``nn.Linear`` for both ``ih`` and ``hh``) and torch's LSTM; the
paper writes one. Initialisation is the official code's ``nn.Linear`` default,
:math:`U(\pm 1/\sqrt{\text{fan\_in}})`: :math:`1/\sqrt{H_{in}}` for ``weight_ih``/``bias_ih``,
:math:`1/\sqrt{H}` for ``weight_hh``/``bias_hh``.

DropConnect (``dropconnect`` :math:`= p`; Wan et al. 2013 on the recurrent weights, as in the
official code's AWD-LSTM-based language model and its ``LinearDropConnect``): during training
every ``weight_hh_l{k}`` (all its rows, not the bias) is multiplied by a Bernoulli(:math:`1-p`)
mask, drawn once per forward call and used at every step and for every sequence of the batch; in
eval mode no mask is drawn and the weight is scaled by :math:`1 - p` (its expectation). This is
the official code's non-inverted form; it computes the same function family as AWD-LSTM's inverted
``WeightDrop`` (mask :math:`/(1-p)` in training, raw weight in eval, ``shared.models.regularize``) but
with ``weight_hh`` :math:`1/(1-p)` times larger, which changes the effective learning rate and
weight decay of those weights, so a reproduction uses this one. It acts through
:meth:`ONLSTM._weights`, the stack's hook for regularizers, so the mask is fixed for the whole
forward. The cell has no ``dropconnect``: one step cannot know where its sequence starts; pass
masked weights with ``torch.func.functional_call`` instead.

Deviations from the official ``ONLSTMStack``: the stack's ``dropout`` between layers is torch's
(a fresh mask per element and step), not the locked (variational) dropout the official stack
applies between layers, and all layers have the same ``hidden_size`` (the official LM's last
layer is smaller). A paper model that needs either stacks one-layer ``ONLSTM`` modules with
``shared.models.regularize.LockedDropout`` between them; per-layer outputs for AR/TAR come the same way.
Runs on the loop path of :class:`~shared.models.cells.base.RecurrentStack` (torch has no kernel).
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from shared.models.cells.base import RecurrentCell, RecurrentModule, RecurrentStack, State, Weights, reverse_time


def cumax(x: Tensor, dim: int = -1) -> Tensor:
    r""":math:`\mathrm{cumsum}(\mathrm{softmax}(x))` along ``dim`` (Sec. 4.1): non-decreasing, in
    :math:`[0, 1]`, last entry 1."""
    return torch.cumsum(F.softmax(x, dim=dim), dim=dim)


def onlstm_step(
    gates_x: Tensor,
    state: tuple[Tensor, Tensor],
    weight_hh: Tensor,
    bias_hh: Tensor | None = None,
    *,
    chunk_size: int,
) -> tuple[Tensor, Tensor, Tensor]:
    r"""One ON-LSTM step (Eqs. (9)-(14)) from the projected input ``gates_x = W_ih x_t + b_ih``.

    Args:
        gates_x: ``(*, 4H + 2 D_m)``, rows in the module's order (master input, master forget,
            :math:`o, \hat c, i, f`).
        state: ``(h_{t-1}, c_{t-1})``, each ``(*, H)``.
        weight_hh, bias_hh: ``(4H + 2 D_m, H)`` and ``(4H + 2 D_m)`` (or ``None``).
        chunk_size: :math:`C = H / D_m`.

    Returns:
        ``(h_t, c_t, master_forget)``: the new state, each ``(*, H)``, and :math:`\tilde f_t`
        ``(*, D_m)`` (before it is repeated over the chunks), from which the distances come.
    """
    h, c = state
    n_chunks = h.size(-1) // chunk_size
    gates = gates_x + F.linear(h, weight_hh, bias_hh)
    master_input = 1.0 - cumax(gates[..., :n_chunks])  # Eq. (10)
    master_forget = cumax(gates[..., n_chunks : 2 * n_chunks])  # Eq. (9)
    # (*, 4, D_m, C): neuron j = k * C + r of each gate sits at chunk k, so a master value of
    # shape (*, D_m, 1) broadcasts over its chunk instead of being copied C times.
    lstm_gates = gates[..., 2 * n_chunks :].unflatten(-1, (4, n_chunks, chunk_size))
    out_gate, cell_input, in_gate, forget_gate = lstm_gates.unbind(-3)
    mf, mi = master_forget.unsqueeze(-1), master_input.unsqueeze(-1)
    overlap = mf * mi  # Eq. (11)
    forget_hat = torch.sigmoid(forget_gate) * overlap + (mf - overlap)  # Eq. (12)
    input_hat = torch.sigmoid(in_gate) * overlap + (mi - overlap)  # Eq. (13)
    c = forget_hat * c.unflatten(-1, (n_chunks, chunk_size)) + input_hat * torch.tanh(cell_input)  # Eq. (14)
    h = torch.sigmoid(out_gate) * torch.tanh(c)
    return h.flatten(-2), c.flatten(-2), master_forget


def master_forget_distance(master_forget: Tensor) -> Tensor:
    r"""The official code's ``distance_cforget``: :math:`1 - \mathrm{mean}_k \tilde f_{tk}`, over the last dim."""
    return 1.0 - master_forget.mean(-1)


class _ONLSTMRecurrence(RecurrentModule):
    """The recurrence shared by :class:`ONLSTM` and :class:`ONLSTMCell`."""

    state_names = ("h", "c")
    chunk_size: int
    # A list while a forward with return_distances=True runs: _step appends each step's distances.
    _distance_log: list[Tensor] | None = None

    def _set_chunk_size(self, hidden_size: int, chunk_size: int) -> None:
        if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size <= 0:
            raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
        # A bad hidden_size itself is reported by the base class's checks.
        if isinstance(hidden_size, int) and hidden_size % chunk_size:
            raise ValueError(
                f"hidden_size ({hidden_size}) must be divisible by chunk_size ({chunk_size}): "
                "each master-gate dimension drives chunk_size neurons"
            )
        self.chunk_size = chunk_size

    @property
    def n_chunks(self) -> int:
        """:math:`D_m = H / C`, the size of the master gates."""
        return self.hidden_size // self.chunk_size

    def _parameter_shapes(self, input_size: int) -> dict[str, tuple[int, ...]]:
        rows = 4 * self.hidden_size + 2 * self.n_chunks
        shapes = {"weight_ih": (rows, input_size), "weight_hh": (rows, self.hidden_size)}
        if self.bias:
            shapes |= {"bias_ih": (rows,), "bias_hh": (rows,)}
        return shapes

    def _step(self, gates_x: Tensor, state: State, weights: Weights) -> State:
        h, c, master_forget = onlstm_step(
            gates_x, state, weights["weight_hh"], weights.get("bias_hh"), chunk_size=self.chunk_size
        )
        if self._distance_log is not None:
            self._distance_log.append(master_forget_distance(master_forget))
        return h, c

    def reset_parameters(self) -> None:
        r"""The official code's ``nn.Linear`` initialisation: :math:`U(\pm 1/\sqrt{\text{fan\_in}})`,
        a bias taking the fan-in of its weight (``H_in`` for ``*_ih``, ``H`` for ``*_hh``)."""
        for name in self._weight_names:
            fan_in = getattr(self, name.replace("bias", "weight", 1)).size(1)
            bound = 1.0 / math.sqrt(fan_in)
            nn.init.uniform_(getattr(self, name), -bound, bound)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", chunk_size={self.chunk_size}"


class ONLSTM(_ONLSTMRecurrence, RecurrentStack):
    r"""A multi-layer ON-LSTM (Shen et al. 2019, Sec. 4, Eqs. (9)-(14)) with the API of ``nn.LSTM``.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional: as
            :class:`~shared.models.cells.base.RecurrentStack`.
        chunk_size: neurons per master-gate dimension (:math:`C`); ``hidden_size`` must be a
            multiple of it (official PTB setting: 10).
        dropconnect: probability :math:`p` of dropping each hidden-to-hidden weight, one mask per
            forward call (the official PTB command's ``--wdrop 0.45``); eval mode scales the
            weights by :math:`1-p` instead (module docstring).
        device, dtype: of the parameters, as in ``torch.nn``.

    Inputs: input, (h_0, c_0), and the keyword ``return_distances`` (default ``False``); input and
    state as in ``RecurrentStack``.

    Outputs: output, (h_n, c_n), and with ``return_distances=True`` also distances
        - **output**, **h_n**, **c_n**: as ``nn.LSTM``.
        - **distances**: :math:`d_t = 1 - \mathrm{mean}_k \tilde f_{tk}` (module docstring), in
          :math:`[0, 1 - C/H]`, of shape ``(num_layers * D, L, N)``, ``(num_layers * D, N, L)`` with
          ``batch_first``, ``(num_layers * D, L)`` for unbatched input; row ``k * D + d`` is layer
          ``k``, direction ``d`` (as ``h_n``). Entry ``[., t, n]`` belongs to input step ``t`` of
          sequence ``n`` in both directions (the backward direction is put back in input order).
          For a ``PackedSequence``: padded to the longest sequence, in the batch order before
          packing, 0 past each sequence's end.
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
        chunk_size: int = 1,
        dropconnect: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self._set_chunk_size(hidden_size, chunk_size)
        if not isinstance(dropconnect, numbers.Real) or isinstance(dropconnect, bool) or not 0 <= dropconnect <= 1:
            raise ValueError(f"dropconnect should be a number in [0, 1] (a probability), got {dropconnect!r}")
        self.dropconnect = float(dropconnect)
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
        )

    def _weights(self) -> Weights:
        """The parameters, with DropConnect on every ``weight_hh``: a fresh mask per call in
        training, the expectation :math:`(1-p) W_{hh}` in eval mode (module docstring)."""
        weights = super()._weights()
        if not self.dropconnect:
            return weights
        keep = 1.0 - self.dropconnect
        return {
            name: (
                (w * torch.empty_like(w).bernoulli_(keep) if self.training else w * keep)
                if name.startswith("weight_hh")
                else w
            )
            for name, w in weights.items()
        }

    def forward(
        self, input: Tensor | PackedSequence, hx: tuple[Tensor, Tensor] | None = None, *, return_distances: bool = False
    ) -> (
        tuple[Tensor | PackedSequence, tuple[Tensor, Tensor]]
        | tuple[Tensor | PackedSequence, tuple[Tensor, Tensor], Tensor]
    ):
        if not return_distances:
            return super().forward(input, hx)
        log: list[Tensor] = []
        self._distance_log = log
        try:
            output, state = super().forward(input, hx)
        finally:
            self._distance_log = None
        return output, state, self._arrange_distances(log, input)

    def _arrange_distances(self, log: list[Tensor], input: Tensor | PackedSequence) -> Tensor:
        """The per-step distances of the loop (layer by layer, direction by direction, each in the
        order that direction read its input, ``(N,)`` each) as one ``(rows, L, N)`` tensor in
        input order, then in the input's layout."""
        rows = self.num_layers * self.num_directions
        distances = torch.stack(log).unflatten(0, (rows, -1))  # (rows, L, N); N = 1 when unbatched
        valid = reverse_index = None
        if isinstance(input, PackedSequence):
            lengths = _packed_lengths(input).to(distances.device)
            time = torch.arange(distances.size(1), device=distances.device).unsqueeze(1)
            valid = time < lengths
            reverse_index = torch.where(valid, lengths - 1 - time, time)
        if self.bidirectional:
            by_direction = distances.unflatten(0, (self.num_layers, 2))
            # reverse_time works on dim 0: time first, then back to (layers, L, N).
            backward = reverse_time(by_direction[:, 1].permute(1, 2, 0), reverse_index).permute(2, 0, 1)
            distances = torch.stack((by_direction[:, 0], backward), 1).flatten(0, 1)
        if valid is not None:
            distances = distances.masked_fill(~valid, 0.0)
        if not isinstance(input, PackedSequence) and input.dim() == 2:
            return distances.squeeze(-1)
        return distances.transpose(1, 2) if self.batch_first else distances

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", dropconnect={self.dropconnect}" if self.dropconnect else "")


class ONLSTMCell(_ONLSTMRecurrence, RecurrentCell):
    r"""One ON-LSTM step (Eqs. (9)-(14)), with the API of ``nn.LSTMCell``.

    Args: ``input_size``, ``hidden_size``, ``bias=True``, and the keyword ``chunk_size`` of
    :class:`ONLSTM` (no ``dropconnect``: see the module docstring).

    Inputs: input ``(N, H_in)`` or ``(H_in)``; (h_0, c_0), each ``(N, H)`` or ``(H)`` (zeros when
    omitted); keyword ``return_distances=False``.

    Outputs: (h_1, c_1), each ``(N, H)`` or ``(H)``; with ``return_distances=True`` the pair
    ``((h_1, c_1), distance)``, distance ``(N)`` or ``()``, as :class:`ONLSTM`'s.

    Parameters: ``weight_ih`` ``(4H + 2 D_m, H_in)``, ``weight_hh`` ``(4H + 2 D_m, H)``, ``bias_ih``,
    ``bias_hh`` ``(4H + 2 D_m)``, rows as in the module docstring.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        chunk_size: int = 1,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self._set_chunk_size(hidden_size, chunk_size)
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None, *, return_distances: bool = False
    ) -> tuple[Tensor, Tensor] | tuple[tuple[Tensor, Tensor], Tensor]:
        if not return_distances:
            return super().forward(input, hx)
        log: list[Tensor] = []
        self._distance_log = log
        try:
            state = super().forward(input, hx)
        finally:
            self._distance_log = None
        return state, log[0]


def _packed_lengths(packed: PackedSequence) -> Tensor:
    """The length of every sequence of ``packed``, in the batch order before packing (CPU)."""
    batch_sizes = packed.batch_sizes
    # Sequence i of the sorted batch is present at step t iff batch_sizes[t] > i.
    lengths = (batch_sizes.unsqueeze(0) > torch.arange(int(batch_sizes[0])).unsqueeze(1)).sum(1)
    return lengths if packed.unsorted_indices is None else lengths[packed.unsorted_indices.cpu()]
