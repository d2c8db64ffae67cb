r"""The AWD-LSTM (Merity, Keskar & Socher 2018, Sec. 2 and 4): the language model of
:class:`shared.models.awd_language_model.AWDLanguageModel` (embedding dropout, locked dropout,
tied decoder; its docstring has those equations) over weight-dropped LSTM layers, defined here:

.. math::

    \tilde W^{(l)}_{hh} = \tfrac{M^{(l)}}{1 - p_w} \odot W^{(l)}_{hh}, \qquad
    h^{(l)}_t = \mathrm{LSTM}\bigl(x^{(l)}_t,\, h^{(l)}_{t-1};\; W^{(l)}_{ih},\, \tilde W^{(l)}_{hh}\bigr)
    \quad \text{(the weight-dropped LSTM, Sec. 2)}

with :math:`M^{(l)}` one Bernoulli(:math:`1 - p_w`) per weight, drawn once per forward pass and
used at every step (DropConnect on the hidden-to-hidden matrix only; in eval the raw weights,
:class:`shared.models.regularize.WeightDrop`). The LSTMs' weights are initialised
:math:`U[-1/\sqrt H, 1/\sqrt H]` (torch's default, the shared LSTM's).

Sizes (Sec. 5): embedding 400, three layers of 1150 but the last, of 400 (tied weights): 24M
parameters on PTB.
"""

from __future__ import annotations

from torch import nn

from shared.models.awd_language_model import RecurrentLayer
from shared.models.cells import LSTM
from shared.models.regularize import WeightDrop


def weight_dropped_lstm(input_size: int, hidden_size: int, layer: int, weight_drop: float) -> nn.Module:
    """One LSTM layer with DropConnect on ``weight_hh_l0`` (Sec. 2); the wrapper is kept at
    ``weight_drop = 0`` too, so that parameter names never depend on the setting."""
    return WeightDrop(LSTM(input_size, hidden_size, batch_first=True), ("weight_hh_l0",), p=weight_drop)


#: The recurrent layers ``model.rnn`` of ``params.yaml`` names.
RECURRENT_LAYERS: dict[str, RecurrentLayer] = {"lstm": RecurrentLayer(weight_dropped_lstm, states=2)}
