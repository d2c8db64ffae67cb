r"""The Dilated RNN of Chang et al. (NeurIPS 2017, Sec. 2-3) as the authors' code builds it
(``code-terminator/DilatedRNN``: ``models/drnn.py``, ``models/classification_models.py``).

Layer :math:`l` of the stack is a recurrent unit whose recurrence skips :math:`s^{(l)}` steps,
the *dilated recurrent skip connection* (Sec. 2.1, Eq. 2),

.. math::

    c^{(l)}_t = f\bigl(x^{(l)}_t,\; c^{(l)}_{t - s^{(l)}}\bigr),

with :math:`x^{(1)}_t` the input and :math:`x^{(l)}_t` the output of layer :math:`l - 1`, and
exponentially increasing dilations :math:`s^{(l)} = 2^{l-1}` (Sec. 2.2): 1, 2, ..., 256 for the
9 layers of every experiment here. The stack is :class:`shared.models.cells.DilatedRNN` (each
layer runs its :math:`s^{(l)}` interleaved sub-sequences as one batch, padded with zeros at the
end when :math:`s^{(l)}` does not divide the length, exactly as ``drnn.py`` does). A read-out
predicts from the top layer: at the last step for classification (pixel MNIST; with a bottom
dilation of 1 the last step has seen every input, as ``classification_models.py`` notes), at
every step for copy memory. The *plain* baseline of equal size is the same stack with every
dilation 1: the same cells, the same parameters, only the skips differ.

Cells, as TensorFlow 1.3's cells that the official code uses (the paper names the cell types,
not their forms):

* ``rnn``: ``BasicRNNCell``, :math:`h_t = \tanh(W [x_t, h_{t-s}] + b)`;
* ``lstm``: ``BasicLSTMCell``, no peepholes, ``forget_bias = 1`` added to the forget gate;
* ``gru``: ``GRUCell``, the reset gate applied to the state before its product
  (:math:`n_t = \tanh(W_n [x_t, r_t \odot h_{t-s}] + b_n)`, ``reset_after=False`` of
  :class:`shared.models.cells.GRU`).

Initialisation (:func:`official_init_`), TensorFlow's defaults that the official code relies on:
each cell's kernel, the matrix :math:`W` acting on the concatenation :math:`[x, h]`, is
Glorot-uniform over its *joint* fan-in (input + hidden) and fan-out (all its gates), i.e. the
torch ``weight_ih`` and ``weight_hh`` rows of one kernel share the bound
:math:`\sqrt{6 / (n_{in} + n_h + n_{out})}`; the GRU has two kernels, gates
(:math:`n_{out} = 2 n_h`) and candidate (:math:`n_{out} = n_h`). Biases are zero, except the
GRU's gate biases, which TensorFlow starts at 1, and the LSTM's constant forget-gate offset of 1,
written here as an initial forget-gate bias of 1 (the same function and the same gradients). The
read-out's weight and bias are drawn from :math:`\mathcal{N}(0, 1)`
(``tf.random_normal``), not torch's default.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import nn

from shared.models.cells import GRU, LSTM, RNN, DilatedRNN

#: The recurrent unit of each ``model.cell`` and the number of gate blocks in its kernel rows.
CELLS = {"rnn": (RNN, 1), "lstm": (LSTM, 4), "gru": (functools.partial(GRU, reset_after=False), 3)}


def dilations(layers: int, dilated: bool = True) -> list[int]:
    """:math:`1, 2, 4, \\dots, 2^{L-1}` (Sec. 2.2), or every dilation 1 for the plain stack."""
    return [2**i if dilated else 1 for i in range(layers)]


@torch.no_grad()
def official_init_(stack: DilatedRNN, cell: str) -> None:
    """Re-initialise ``stack``'s layers as TensorFlow 1.3 initialises the official code's cells
    (see the module docstring)."""
    gates = CELLS[cell][1]
    for layer in stack.layers:
        n_in, n_h = layer.input_size, layer.hidden_size
        w_ih, w_hh = layer.weight_ih_l0, layer.weight_hh_l0
        b_ih, b_hh = layer.bias_ih_l0, layer.bias_hh_l0
        b_ih.zero_()
        b_hh.zero_()
        # One kernel per block of rows: (rows, fan_out) pairs, in torch's gate order.
        blocks = (
            [(slice(0, 2 * n_h), 2 * n_h), (slice(2 * n_h, 3 * n_h), n_h)]
            if cell == "gru"
            else [(slice(0, gates * n_h), gates * n_h)]
        )
        for rows, fan_out in blocks:
            bound = math.sqrt(6.0 / (n_in + n_h + fan_out))
            w_ih[rows].uniform_(-bound, bound)
            w_hh[rows].uniform_(-bound, bound)
        if cell == "gru":
            b_ih[: 2 * n_h] = 1.0  # reset and update gates start at 1 (GRUCell's bias_ones)
        elif cell == "lstm":
            b_ih[n_h : 2 * n_h] = 1.0  # torch's gate order i, f, g, o: BasicLSTMCell's forget_bias


class DilatedRNNModel(nn.Module):
    """The dilated (or plain) stack under a linear read-out.

    Maps batch-first ``(N, T, input_size)`` to ``(N, output_size)`` logits with ``last_step``
    (classification from the top layer's last step) or to ``(N, T, output_size)`` (one prediction
    per step: copy memory).
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden: int,
        layers: int,
        output_size: int,
        dilated: bool = True,
        last_step: bool = True,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell: {cell!r} is not one of {', '.join(CELLS)}")
        self.rnn = DilatedRNN(CELLS[cell][0], input_size, hidden, layers, dilations(layers, dilated), batch_first=True)
        official_init_(self.rnn, cell)
        self.readout = nn.Linear(hidden, output_size)
        nn.init.normal_(self.readout.weight)
        nn.init.normal_(self.readout.bias)
        self.last_step = last_step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.rnn(x)
        return self.readout(output[:, -1] if self.last_step else output)
