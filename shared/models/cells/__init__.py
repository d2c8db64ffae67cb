"""The shared recurrent cells, with the ``torch.nn`` contract.

Stacks: ``RNN``, ``LSTM``, ``GRU`` (the ``nn.RNN``/``nn.LSTM``/``nn.GRU`` API), ``IndRNN``,
``ONLSTM`` and ``QRNN`` (same contract); the 1997 memory cell blocks ``MemoryBlockLSTM``;
single steps ``RNNCell``, ``LSTMCell``, ``GRUCell``,
``IndRNNCell``, ``ONLSTMCell``; wrappers ``DilatedRNN`` and ``SlicedRNN``; batched tree cells
``ChildSumTreeLSTM`` and ``NaryTreeLSTM``. Paper variants are keyword options
(``LSTM(forget_gate=False)``: Hochreiter & Schmidhuber 1997; ``GRU(reset_after=False)``: Cho et
al. 2014, Eq. 8).

With default options RNN/LSTM/GRU compute exactly what torch's modules compute, and then run
torch's fused kernel on our own parameters; everything else runs a Python time loop. The base
classes, the two execution paths, how to add a cell and how a regularizer supplies weights are
described in :mod:`shared.models.cells.base`.
"""

from shared.models.cells.base import RecurrentCell, RecurrentModule, RecurrentStack
from shared.models.cells.dilated import DilatedRNN, deinterleave, interleave
from shared.models.cells.gru import GRU, GRUCell, gru_step
from shared.models.cells.indrnn import IndRNN, IndRNNCell, register_recurrent_clip
from shared.models.cells.lstm import LSTM, LSTMCell, lstm_step
from shared.models.cells.memory_block import MemoryBlockLSTM
from shared.models.cells.onlstm import ONLSTM, ONLSTMCell, cumax
from shared.models.cells.qrnn import QRNN, forget_mult, forget_mult_reference
from shared.models.cells.rnn import RNN, RNNCell, rnn_step
from shared.models.cells.sliced import SlicedRNN
from shared.models.cells.tree_lstm import ChildSumTreeLSTM, NaryTreeLSTM, TreeBatch, TreeStates

__all__ = [
    "QRNN",
    "MemoryBlockLSTM",
    "ONLSTM",
    "IndRNN",
    "DilatedRNN",
    "SlicedRNN",
    "ChildSumTreeLSTM",
    "NaryTreeLSTM",
    "TreeBatch",
    "TreeStates",
    "IndRNNCell",
    "ONLSTMCell",
    "cumax",
    "forget_mult",
    "forget_mult_reference",
    "register_recurrent_clip",
    "interleave",
    "deinterleave",
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
