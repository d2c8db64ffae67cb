r"""The gated recurrent unit: ``GRU`` and ``GRUCell``; by default equal to ``nn.GRU`` and
``nn.GRUCell``.

Gates stacked in torch's order :math:`r, z, n`:

.. math::

    r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
    z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
    h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}

and the candidate :math:`n_t` in one of two forms:

* ``reset_after=True`` (default; torch's and cuDNN's form, equal to ``nn.GRU``): the reset gate
  scales the recurrent product,

  .. math:: n_t = \tanh\bigl(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})\bigr).

  According to Keras' documentation this is the form of the first arXiv version of Cho et al.
  (1406.1078v1); it is not the published one.

* ``reset_after=False``: the reset gate scales the state before the product, as in Cho et al.
  (2014, EMNLP, Sec. 2.3, Eq. 8) and Chung et al. (2014, Sec. 3.2),

  .. math:: n_t = \tanh\bigl(W_{in} x_t + b_{in} + W_{hn} (r_t \odot h_{t-1}) + b_{hn}\bigr).

  It runs on the loop path (no torch kernel computes it).

The candidate's activation :math:`\phi` is :math:`\tanh` (``activation="tanh"``, default) or the
identity (``activation="linear"``, loop path only): Keras' ``GRU(activation=None)``, the unit of
the official Sliced RNN script (Yu & Liu 2018; ``papers/sliced_rnn``), whose proof that a
standard RNN is a special case of the sliced one assumes linear activations.

Cho et al. (Sec. 2.3) number the unit's equations: reset gate
:math:`r_j = \sigma([W_r x]_j + [U_r h_{t-1}]_j)` (Eq. 5), update gate
:math:`z_j = \sigma([W_z x]_j + [U_z h_{t-1}]_j)` (Eq. 6), state
:math:`h_j^{t} = z_j h_j^{t-1} + (1 - z_j) \tilde h_j^{t}` (Eq. 7), candidate
:math:`\tilde h_j^{t} = \phi([W x]_j + [U (r \odot h_{t-1})]_j)` (Eq. 8): here :math:`W_{ir},
W_{hr}` are :math:`W_r, U_r`, :math:`\tilde h = n`, :math:`\phi = \tanh`, and :math:`z` has the
same meaning (the weight of the old state). The paper writes no biases; torch's two bias vectors
are kept in both forms so that the parameters (names, shapes, ``state_dict``) are ``nn.GRU``'s.
With ``reset_after=False``, :math:`b_{in} + b_{hn}` act as one bias.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from shared.models.cells.base import RecurrentCell, RecurrentModule, RecurrentStack, State, Weights

#: The candidate activations :math:`\phi` a GRU offers, by ``activation`` name.
CANDIDATE_ACTIVATIONS = ("tanh", "linear")


def gru_step(
    gates_x: Tensor,
    h: Tensor,
    weight_hh: Tensor,
    bias_hh: Tensor | None = None,
    *,
    reset_after: bool = True,
    activation: str = "tanh",
) -> Tensor:
    """One GRU step from the projected input ``gates_x = W_ih x_t + b_ih`` (gates ``r, z, n``);
    ``activation`` is the candidate's, ``"tanh"`` or ``"linear"`` (the identity)."""
    x_r, x_z, x_n = gates_x.chunk(3, -1)
    if reset_after:
        h_r, h_z, h_n = F.linear(h, weight_hh, bias_hh).chunk(3, -1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        n = x_n + r * h_n
    else:
        rows = [2 * h.size(-1), h.size(-1)]
        w_rz, w_n = weight_hh.split(rows)
        b_rz, b_n = (None, None) if bias_hh is None else bias_hh.split(rows)
        h_r, h_z = F.linear(h, w_rz, b_rz).chunk(2, -1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        n = x_n + F.linear(r * h, w_n, b_n)
    if activation == "tanh":
        n = torch.tanh(n)
    return (1 - z) * n + z * h


class _GRURecurrence(RecurrentModule):
    """The recurrence shared by :class:`GRU` and :class:`GRUCell`."""

    num_gates = 3
    reset_after: bool
    activation: str

    def _set_options(self, reset_after: bool, activation: str) -> None:
        if activation not in CANDIDATE_ACTIVATIONS:
            raise ValueError(
                f"{type(self).__name__}: activation {activation!r} is not one of {', '.join(CANDIDATE_ACTIVATIONS)}"
            )
        self.reset_after = reset_after
        self.activation = activation

    def _step(self, gates_x: Tensor, state: State, weights: Weights) -> State:
        return (
            gru_step(
                gates_x,
                state[0],
                weights["weight_hh"],
                weights.get("bias_hh"),
                reset_after=self.reset_after,
                activation=self.activation,
            ),
        )

    def extra_repr(self) -> str:
        return (
            super().extra_repr()
            + ("" if self.reset_after else ", reset_after=False")
            + ("" if self.activation == "tanh" else f", activation={self.activation!r}")
        )


class GRU(_GRURecurrence, RecurrentStack):
    """A multi-layer GRU with the API (and, by default, the results) of ``nn.GRU``.

    Args are :class:`~shared.models.cells.base.RecurrentStack`'s (``input_size, hidden_size,
    num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False``, keyword
    ``fast_path``), plus the keywords

        reset_after: ``True`` for torch's candidate, ``False`` for Cho et al.'s Eq. 8 (loop path).
        activation: the candidate's, ``"tanh"`` or ``"linear"`` (loop path).

    Inputs: input, h_0 and Outputs: output, h_n as in ``RecurrentStack`` (one state tensor).
    Parameters: as ``nn.GRU`` (``(3H, *)``, rows :math:`r, z, n`) in both forms.
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
        reset_after: bool = True,
        activation: str = "tanh",
        fast_path: bool | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self._set_options(reset_after, activation)
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            fast_path=fast_path,
            device=device,
            dtype=dtype,
        )

    def _make_torch_kernel(self) -> nn.RNNBase | None:
        return nn.GRU(**self._torch_kernel_kwargs()) if self.reset_after and self.activation == "tanh" else None


class GRUCell(_GRURecurrence, RecurrentCell):
    """One GRU step, with the API of ``nn.GRUCell``.

    Args: ``input_size``, ``hidden_size``, ``bias=True``, and the keywords ``reset_after`` and
    ``activation`` of :class:`GRU`.

    Inputs: input ``(N, H_in)`` or ``(H_in)``, hx ``(N, H)`` or ``(H)`` (zeros when omitted).
    Outputs: h' ``(N, H)`` or ``(H)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        reset_after: bool = True,
        activation: str = "tanh",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self._set_options(reset_after, activation)
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)
