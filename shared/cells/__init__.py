"""The shared recurrent cells: ``RNN``, ``LSTM``, ``GRU`` (stacks with the ``nn.RNN``/``nn.LSTM``/
``nn.GRU`` API) and ``RNNCell``, ``LSTMCell``, ``GRUCell`` (single steps with the ``nn.*Cell``
API), with the paper variants as keyword options (``LSTM(forget_gate=False)``: Hochreiter &
Schmidhuber 1997; ``GRU(reset_after=False)``: Cho et al. 2014, Eq. 8).

With default options they compute exactly what torch's modules compute, and the stacks then
run torch's fused kernel on our own parameters; otherwise a Python time loop. The base classes,
the two execution paths, how to add a cell and how a regularizer supplies weights are described
in :mod:`shared.cells.base`.
"""

from shared.cells.base import RecurrentCell, RecurrentModule, RecurrentStack
from shared.cells.gru import GRU, GRUCell, gru_step
from shared.cells.lstm import LSTM, LSTMCell, lstm_step
from shared.cells.rnn import RNN, RNNCell, rnn_step

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "GRUCell",
    "LSTMCell",
    "RNNCell",
    "RecurrentCell",
    "RecurrentModule",
    "RecurrentStack",
    "gru_step",
    "lstm_step",
    "rnn_step",
]
