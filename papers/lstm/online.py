r"""The learning algorithm of Hochreiter & Schmidhuber (1997, App. A.1), compiled with numba.

The 1997 experiments need hundreds of thousands to millions of training sequences per trial,
one at a time (853,000 sequences of 1,000+ steps for the adding problem at T=1000). A Python
loop over torch operations costs ~100 us per step, which makes that ~25 hours per trial; this
module runs the same network and the paper's truncated learning rule as compiled loops, at a
fraction of a microsecond per step. Its updates equal the autograd gradients of the shared torch
cell :class:`shared.models.cells.MemoryBlockLSTM` with ``truncate=True`` (a test checks it), so the
torch module is the readable definition and this is its fast learner.

Weights are laid out as the torch modules' parameters: ``hidden = [weight_ih | weight_hh |
bias]`` (``H x (I + H + 1)``, hidden units ordered cells, input gates, output gates) and
``output = [weight | bias]`` (``K x (C + 1)``); ``hidden_bias`` / ``output_bias`` are 0/1 masks of
the units that have a bias.

Learning rule (App. A.1, truncated backprop, forward-mode for the cells): each step updates
the derivatives of every internal state with respect to the weights of its own cell and input
gate (Eqs. 25, 27),

.. math::

    \frac{\partial s_{c_j^v}(t)}{\partial w_{in_j m}} &= \frac{\partial s_{c_j^v}(t-1)}{\partial w_{in_j m}}
        + g(net_{c_j^v}(t))\, f'(net_{in_j}(t))\, y^m(t-1), \\
    \frac{\partial s_{c_j^v}(t)}{\partial w_{c_j^v m}} &= \frac{\partial s_{c_j^v}(t-1)}{\partial w_{c_j^v m}}
        + g'(net_{c_j^v}(t))\, y^{in_j}(t)\, y^m(t-1);

at a step with a target, the errors of the output units (Eq. 19), output gates (Eq. 21) and
internal states (Eq. 23) give the contributions :math:`\alpha e_l y^m` (Eq. 22) and
:math:`\alpha \sum_v e_{s_{c_j^v}} \partial s_{c_j^v} / \partial w` (Eqs. 24, 26, 28). With
``per_step`` (the default; the paper's online learning) they are added to the weights at once, at
every step with a target, and the stored derivatives carry on across the change, as in RTRL;
without it they are summed over the sequence and added at its end, which is the autograd
gradient of the truncated torch cell (the test of this module). For the adding and
temporal-order tasks, whose only target is at the end, the two are the same; on the Reber
grammar (a target at every step) the end-of-sequence sum did not learn the long-lag part in our
runs, and the per-step rule did. Eq. 19's :math:`e_k = f'(net_k)(t^k - y^k)` is the gradient of
:math:`\tfrac12 \sum_k (t^k - y^k)^2`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from shared.data.hochreiter1997 import SequenceBatch

if TYPE_CHECKING:
    from papers.lstm.model import LSTM1997Net


#: The fraction of the training window reported beside the paper's all-correct criterion: on the
#: adding problem at T=100 most of the wait for "all correct" is for a window without extreme sums.
MOSTLY_CORRECT = 0.9


@njit(cache=True, inline="always")
def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@njit(cache=True)
def _run_sequence(
    hidden, output, hidden_bias, output_bias, blocks, size, x, targets, target_mask, length, lr, per_step, outputs
):
    """Forward one sequence; with ``lr > 0`` learn by the truncated-gradient rule, adding the
    contributions to the weights at every target step (``per_step``) or at the sequence end.

    Writes the output units' activations of every target step into ``outputs`` and returns
    (sum over target steps of sum_k (t_k - y_k)^2, max abs error over target steps and units).
    """
    n_hidden, n_src = hidden.shape
    n_in = n_src - n_hidden - 1
    cells = blocks * size
    n_out = output.shape[0]
    learn = lr > 0.0
    src = np.zeros(n_src)
    src[n_src - 1] = 1.0
    net = np.zeros(n_hidden)
    state = np.zeros(cells)
    h_state = np.zeros(cells)
    y_cell = np.zeros(cells)
    y_in = np.zeros(blocks)
    y_out = np.zeros(blocks)
    back = np.zeros(cells)
    d_in = np.zeros((cells, n_src))  # d s_c / d w_{in_j(c), m}
    d_cell = np.zeros((cells, n_src))  # d s_c / d w_{c, m}
    delta_hidden = np.zeros((n_hidden, n_src))
    delta_output = np.zeros((n_out, cells + 1))
    squared, worst = 0.0, 0.0
    for t in range(length):
        for m in range(n_in):
            src[m] = x[t, m]
        for u in range(n_hidden):
            acc = hidden[u, n_src - 1] * hidden_bias[u]
            for m in range(n_src - 1):
                acc += hidden[u, m] * src[m]
            net[u] = acc
        for j in range(blocks):
            y_in[j] = _sigmoid(net[cells + j])
            y_out[j] = _sigmoid(net[cells + blocks + j])
        for c in range(cells):
            j = c // size
            sig_c = _sigmoid(net[c])
            g = 4.0 * sig_c - 2.0  # Eq. 5
            state[c] += y_in[j] * g
            if learn:
                a = g * y_in[j] * (1.0 - y_in[j])  # Eq. 25
                b = 4.0 * sig_c * (1.0 - sig_c) * y_in[j]  # Eq. 27
                for m in range(n_src):
                    d_in[c, m] += a * src[m]
                    d_cell[c, m] += b * src[m]
            h_state[c] = 2.0 * _sigmoid(state[c]) - 1.0  # Eq. 4
            y_cell[c] = y_out[j] * h_state[c]
        if target_mask[t]:
            for c in range(cells):
                back[c] = 0.0
            for k in range(n_out):
                acc = output[k, cells] * output_bias[k]
                for c in range(cells):
                    acc += output[k, c] * y_cell[c]
                y = _sigmoid(acc)
                outputs[t, k] = y
                err = targets[t, k] - y
                squared += err * err
                worst = max(worst, abs(err))
                if learn:
                    e_k = y * (1.0 - y) * err  # Eq. 19
                    for c in range(cells):
                        delta_output[k, c] += e_k * y_cell[c]
                        back[c] += output[k, c] * e_k
                    delta_output[k, cells] += e_k * output_bias[k]
            if learn:
                for j in range(blocks):
                    acc = 0.0
                    for v in range(j * size, (j + 1) * size):
                        acc += h_state[v] * back[v]
                    e_out = y_out[j] * (1.0 - y_out[j]) * acc  # Eq. 21
                    row = cells + blocks + j
                    for m in range(n_src):
                        delta_hidden[row, m] += e_out * src[m]  # Eq. 22
                for c in range(cells):
                    j = c // size
                    sig_s = 0.5 * (h_state[c] + 1.0)
                    e_s = y_out[j] * 2.0 * sig_s * (1.0 - sig_s) * back[c]  # Eq. 23
                    for m in range(n_src):
                        delta_hidden[cells + j, m] += e_s * d_in[c, m]  # Eq. 26
                        delta_hidden[c, m] += e_s * d_cell[c, m]  # Eq. 28
            if learn and per_step:
                _apply(hidden, output, hidden_bias, delta_hidden, delta_output, lr)
        # The next step's sources: every hidden unit's activation (cells, input, output gates).
        for c in range(cells):
            src[n_in + c] = y_cell[c]
        for j in range(blocks):
            src[n_in + cells + j] = y_in[j]
            src[n_in + cells + blocks + j] = y_out[j]
    if learn and not per_step:
        _apply(hidden, output, hidden_bias, delta_hidden, delta_output, lr)
    return squared, worst


@njit(cache=True)
def _apply(hidden, output, hidden_bias, delta_hidden, delta_output, lr):
    """Add ``lr`` times the accumulated contributions to the weights and clear them."""
    n_hidden, n_src = hidden.shape
    for u in range(n_hidden):
        for m in range(n_src - 1):
            hidden[u, m] += lr * delta_hidden[u, m]
        hidden[u, n_src - 1] += lr * delta_hidden[u, n_src - 1] * hidden_bias[u]
    output += lr * delta_output
    delta_hidden[:] = 0.0
    delta_output[:] = 0.0


@njit(cache=True)
def _train_until(
    hidden,
    output,
    hidden_bias,
    output_bias,
    blocks,
    size,
    inputs,
    targets,
    target_mask,
    lengths,
    lr,
    per_step,
    tolerance,
    stop_error,
    window_errors,
    window_correct,
    seen,
    mark_fraction,
    first_mark,
):
    """Train on the sequences of one chunk in order; stop after the first sequence at which the
    ST3 criterion holds (Table 11: the mean error of the last ``window`` sequences is below
    ``stop_error`` and all of them were processed correctly). The window is a ring buffer indexed
    by ``seen`` (the sequences trained on before this chunk). Returns how many sequences of the
    chunk were used and whether the criterion was met (``stop_error < 0`` never stops).

    ``first_mark[0]`` (when still -1) is set to the number of sequences after which a full window
    first held at least ``mark_fraction`` of correctly processed sequences: how soon the net is
    mostly right, beside the all-correct criterion."""
    window = window_errors.shape[0]
    scratch = np.zeros((inputs.shape[1], output.shape[0]))
    n_correct = 0
    for w in range(window):
        n_correct += int(window_correct[w])
    for i in range(inputs.shape[0]):
        squared, worst = _run_sequence(
            hidden,
            output,
            hidden_bias,
            output_bias,
            blocks,
            size,
            inputs[i],
            targets[i],
            target_mask[i],
            lengths[i],
            lr,
            per_step,
            scratch,
        )
        slot = (seen + i) % window
        correct = worst < tolerance
        n_correct += int(correct) - int(window_correct[slot])
        window_errors[slot] = squared
        window_correct[slot] = correct
        if first_mark[0] < 0 and seen + i + 1 >= window and n_correct >= mark_fraction * window:
            first_mark[0] = seen + i + 1
        if stop_error >= 0.0 and seen + i + 1 >= window:
            if window_correct.all() and window_errors.mean() < stop_error:
                return i + 1, True
    return inputs.shape[0], False


@njit(cache=True)
def _forward_all(hidden, output, hidden_bias, output_bias, blocks, size, inputs, target_mask, lengths):
    outputs = np.zeros((inputs.shape[0], inputs.shape[1], output.shape[0]))
    dummy = np.zeros((inputs.shape[1], output.shape[0]))
    for i in range(inputs.shape[0]):
        _run_sequence(
            hidden,
            output,
            hidden_bias,
            output_bias,
            blocks,
            size,
            inputs[i],
            dummy,
            target_mask[i],
            lengths[i],
            0.0,
            False,
            outputs[i],
        )
    return outputs


class OnlineLSTM:
    """The weights of an :class:`~papers.lstm.model.LSTM1997Net` as float64 arrays, with the
    paper's learning rule (see the module docstring).

    ``from_net`` copies a torch net's weights; ``copy_into`` writes them back into one (the trials
    save the trained net as a torch ``state_dict``).
    """

    def __init__(
        self,
        hidden: np.ndarray,
        output: np.ndarray,
        hidden_bias: np.ndarray,
        output_bias: np.ndarray,
        blocks: int,
        block_size: int,
    ) -> None:
        self.hidden = np.ascontiguousarray(hidden, dtype=np.float64)
        self.output = np.ascontiguousarray(output, dtype=np.float64)
        self.hidden_bias = np.ascontiguousarray(hidden_bias, dtype=np.float64)
        self.output_bias = np.ascontiguousarray(output_bias, dtype=np.float64)
        self.blocks = blocks
        self.block_size = block_size

    @classmethod
    def from_net(cls, net: LSTM1997Net) -> OnlineLSTM:
        cell = net.hidden
        hidden = np.concatenate(
            [
                cell.weight_ih.detach().double().numpy(),
                cell.weight_hh.detach().double().numpy(),
                (cell.bias * cell.bias_mask).detach().double().numpy()[:, None],
            ],
            axis=1,
        )
        weight = net.output.weight.detach().double().numpy()
        has_bias = net.output.bias is not None
        bias = net.output.bias.detach().double().numpy() if has_bias else np.zeros(weight.shape[0])
        output = np.concatenate([weight, bias[:, None]], axis=1)
        output_bias = np.full(weight.shape[0], 1.0 if has_bias else 0.0)
        return cls(hidden, output, cell.bias_mask.double().numpy(), output_bias, cell.blocks, cell.block_size)

    def copy_into(self, net: LSTM1997Net) -> None:
        """Write these weights into a torch :class:`~papers.lstm.model.LSTM1997Net`."""
        import torch

        cell = net.hidden
        n_in = cell.input_size
        with torch.no_grad():
            cell.weight_ih.copy_(torch.from_numpy(self.hidden[:, :n_in]))
            cell.weight_hh.copy_(torch.from_numpy(self.hidden[:, n_in:-1]))
            cell.bias.copy_(torch.from_numpy(self.hidden[:, -1]))
            net.output.weight.copy_(torch.from_numpy(self.output[:, :-1]))
            if net.output.bias is not None:
                net.output.bias.copy_(torch.from_numpy(self.output[:, -1]))

    def train_sequence(
        self, inputs: np.ndarray, targets: np.ndarray, target_mask: np.ndarray, lr: float, per_step: bool = False
    ) -> float:
        """One sequence ``(L, I)``: forward and learn; returns its summed squared error."""
        scratch = np.zeros((len(inputs), self.output.shape[0]))
        squared, _ = _run_sequence(
            self.hidden,
            self.output,
            self.hidden_bias,
            self.output_bias,
            self.blocks,
            self.block_size,
            np.ascontiguousarray(inputs, dtype=np.float64),
            np.ascontiguousarray(targets, dtype=np.float64),
            np.ascontiguousarray(target_mask),
            len(inputs),
            lr,
            per_step,
            scratch,
        )
        return squared

    def train_until(
        self,
        batch: SequenceBatch,
        lr: float,
        per_step: bool,
        tolerance: float,
        stop_error: float | None,
        window_errors: np.ndarray,
        window_correct: np.ndarray,
        seen: int,
        mark_fraction: float = MOSTLY_CORRECT,
        first_mark: np.ndarray | None = None,
    ) -> tuple[int, bool]:
        """Train on a :class:`~shared.data.hochreiter1997.SequenceBatch` in order, stopping at the
        ST3 criterion (see :func:`_train_until`, also for ``first_mark``, an int64 array of one
        element, -1 until the window is ``mark_fraction`` correct); returns (sequences used, stopped)."""
        used, stopped = _train_until(
            self.hidden,
            self.output,
            self.hidden_bias,
            self.output_bias,
            self.blocks,
            self.block_size,
            batch.inputs,
            batch.targets,
            batch.target_mask,
            batch.lengths,
            lr,
            per_step,
            tolerance,
            -1.0 if stop_error is None else stop_error,
            window_errors,
            window_correct,
            seen,
            mark_fraction,
            np.full(1, -1, dtype=np.int64) if first_mark is None else first_mark,
        )
        return int(used), bool(stopped)

    def predict(self, batch: SequenceBatch) -> np.ndarray:
        """Output activations ``(n, L_max, K)`` at every target step of a batch (0 elsewhere)."""
        return _forward_all(
            self.hidden,
            self.output,
            self.hidden_bias,
            self.output_bias,
            self.blocks,
            self.block_size,
            batch.inputs,
            batch.target_mask,
            batch.lengths,
        )
