r"""The Deep Speech 2 acoustic model (Amodei et al. 2016, Sec. 3): convolution over the spectrogram,
bidirectional recurrent layers, a fully connected layer and a softmax over characters plus blank,
trained with CTC (:mod:`shared.tasks.speech`).

Equations (numbered by section; the equation numbers of the two versions of the paper could not
be checked here, see ``paper.yaml``):

* Recurrent layers (Sec. 3.1), bidirectional, of a simple RNN with the clipped ReLU
  :math:`f(x) = \min(\max(x, 0), 20)`:

  .. math::

      \overrightarrow{h}^l_t = f(W^l h^{l-1}_t + \overrightarrow{U}^l \overrightarrow{h}^l_{t-1} + b^l),
      \qquad
      \overleftarrow{h}^l_t = f(W^l h^{l-1}_t + \overleftarrow{U}^l \overleftarrow{h}^l_{t+1} + b^l),

  or of a GRU (Sec. 3.4; the reset gate scales the recurrent product, torch's form):
  :math:`z_t = \sigma(W_z x_t + U_z h_{t-1} + b_z)`, :math:`r_t = \sigma(W_r x_t + U_r h_{t-1} + b_r)`,
  :math:`\tilde h_t = \tanh(W_h x_t + r_t \odot U_h h_{t-1} + b_h)`,
  :math:`h_t = (1 - z_t) h_{t-1} + z_t \tilde h_t` (torch writes :math:`z` for :math:`1 - z`).
* Sequence-wise batch normalisation (Sec. 3.2) on the input-to-hidden (vertical) term only:

  .. math:: h^l_t = f\bigl(\mathcal{B}(W^l h^{l-1}_t) + U^l h^l_{t-1}\bigr),

  with :math:`\mathcal{B}` normalising each feature over the minibatch and time
  (:class:`shared.models.normalization.SequenceBatchNorm`, padding excluded, running averages at
  evaluation). :math:`\mathcal{B}`'s shift replaces the bias :math:`b^l` of the input term (a
  bias before a normalisation is removed by it); the recurrent bias stays (the GRU's candidate
  needs it inside the reset product).
* Convolution (Sec. 3.5): 1 to 3 layers over time and frequency (2D) or over time with the
  frequency bins as channels (1D), striding in time, each followed by the clipped ReLU (and by
  sequence-wise batch normalisation over batch, frequency and valid time when ``batch_norm``).
* Output (Sec. 3.1): one fully connected layer with the clipped ReLU, then a softmax over the
  29 characters (blank, space, apostrophe, a-z):
  :math:`p(\ell_t = k \mid x) = \mathrm{softmax}_k(W^{out} h^{fc}_t + b^{out})`.

Padding never reaches a valid output: the convolutions' outputs past each utterance's end are
zeroed before the next layer (so a layer sees what a lone utterance's zero padding would be), the
recurrent layers run on packed sequences (the reverse direction starts at each utterance's own
end) and every normalisation excludes padding. In evaluation mode an utterance's outputs are the
same whatever it is batched with.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from shared.models.cells import GRU, RNN
from shared.models.cells.base import State, Weights
from shared.models.cells.rnn import RELU_CLIP
from shared.models.normalization import SequenceBatchNorm

CELLS = ("rnn", "gru")


def clipped_relu(x: Tensor) -> Tensor:
    r""":math:`\min(\max(x, 0), 20)`, the paper's nonlinearity (Sec. 3.1)."""
    return x.clamp(0.0, RELU_CLIP)


class _InputBatchNorm:
    """What :class:`BatchNormRNN` and :class:`BatchNormGRU` add to the shared stacks: with
    ``batch_norm``, each layer-direction's input projection :math:`W x` (no bias) is normalised by
    its own :class:`SequenceBatchNorm` before the recurrence (the loop path: no torch kernel
    normalises inside the recurrence)."""

    batch_norm: bool
    input_norms: nn.ModuleList

    def _init_norms(self) -> None:
        rows = self.num_gates * self.hidden_size
        self.input_norms = nn.ModuleList(
            SequenceBatchNorm(rows) for _ in range(self.num_layers * self.num_directions) if self.batch_norm
        )

    def _parameter_shapes(self, input_size: int) -> dict[str, tuple[int, ...]]:
        shapes = super()._parameter_shapes(input_size)
        if self.batch_norm:
            del shapes["bias_ih"]
        return shapes

    def _make_torch_kernel(self) -> nn.RNNBase | None:
        return None if self.batch_norm else super()._make_torch_kernel()

    def _run_layer(
        self, x: Tensor, state: State, weights: Weights, mask: Tensor | None, index: int
    ) -> tuple[Tensor, State]:
        if not self.batch_norm:
            return super()._run_layer(x, state, weights, mask, index)
        gates_x = self.input_norms[index](F.linear(x, weights["weight_ih"]), mask)
        return self._scan(gates_x, state, weights, mask)


class BatchNormRNN(_InputBatchNorm, RNN):
    """The shared :class:`~shared.models.cells.RNN` (clipped ReLU) with the keyword ``batch_norm``:
    :math:`h_t = f(\\mathcal{B}(W x_t) + U h_{t-1} + b)` (Sec. 3.2)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *, batch_norm: bool = False) -> None:
        self.batch_norm = batch_norm
        super().__init__(input_size, hidden_size, num_layers, nonlinearity="clipped_relu", bidirectional=True)
        self._init_norms()


class BatchNormGRU(_InputBatchNorm, GRU):
    """The shared :class:`~shared.models.cells.GRU` with the keyword ``batch_norm``: every gate's
    input term :math:`W_{\\{r,z,h\\}} x_t` normalised (Sec. 3.2, 3.4)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *, batch_norm: bool = False) -> None:
        self.batch_norm = batch_norm
        super().__init__(input_size, hidden_size, num_layers, bidirectional=True)
        self._init_norms()


@dataclass(frozen=True)
class ConvLayer:
    """One convolution: ``channels`` outputs, ``kernel`` and ``stride`` as (frequency, time) for
    2D, (time,) for 1D."""

    channels: int
    kernel: tuple[int, ...]
    stride: tuple[int, ...]


def conv_length(lengths: Tensor, kernel: int, stride: int) -> Tensor:
    """Output steps of a convolution over time padded by ``kernel // 2`` on both sides."""
    return torch.div(lengths + 2 * (kernel // 2) - kernel, stride, rounding_mode="floor") + 1


def time_mask(lengths: Tensor, steps: int) -> Tensor:
    """``(steps, N)``: ``True`` at the valid steps of each sequence."""
    return torch.arange(steps, device=lengths.device).unsqueeze(1) < lengths


class ConvFrontEnd(nn.Module):
    """The convolution layers (Sec. 3.5) over ``(N, T, F)`` features: ``dims`` 2 convolves time and
    frequency (one input channel), 1 convolves time with the ``F`` bins as channels. Returns the
    time-major ``(T', N, features)`` and the lengths ``T'``."""

    def __init__(self, input_size: int, layers: list[ConvLayer], dims: int, batch_norm: bool) -> None:
        super().__init__()
        if dims not in (1, 2):
            raise ValueError(f"conv dims must be 1 or 2, got {dims}")
        if not layers:
            raise ValueError("ConvFrontEnd: at least one convolution layer")
        self.dims = dims
        self.layers = layers
        convs, norms = [], []
        channels, freq = (1, input_size) if dims == 2 else (input_size, 1)
        for layer in layers:
            if len(layer.kernel) != dims or len(layer.stride) != dims:
                raise ValueError(f"a {dims}D convolution needs {dims} kernel and stride sizes, got {layer}")
            if dims == 2:
                convs.append(
                    nn.Conv2d(
                        channels,
                        layer.channels,
                        layer.kernel,
                        layer.stride,
                        padding=(layer.kernel[0] // 2, layer.kernel[1] // 2),
                        bias=not batch_norm,
                    )
                )
                freq = (freq + 2 * (layer.kernel[0] // 2) - layer.kernel[0]) // layer.stride[0] + 1
            else:
                convs.append(
                    nn.Conv1d(
                        channels, layer.channels, layer.kernel, layer.stride, layer.kernel[0] // 2, bias=not batch_norm
                    )
                )
            channels = layer.channels
            if batch_norm:
                norms.append(SequenceBatchNorm(channels))
        self.convs = nn.ModuleList(convs)
        self.norms = nn.ModuleList(norms)
        self.output_size = channels * freq

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        # Whatever a padded batch holds past each end, the first layer sees zeros there.
        x = x * time_mask(lengths, x.size(1)).T.unsqueeze(-1)
        # (N, T, F) -> (N, 1, F, T) for 2D, (N, F, T) for 1D: time is the last dimension.
        x = x.transpose(1, 2)
        if self.dims == 2:
            x = x.unsqueeze(1)
        for k, (conv, layer) in enumerate(zip(self.convs, self.layers, strict=True)):
            x = conv(x)
            lengths = conv_length(lengths, layer.kernel[-1], layer.stride[-1])
            mask = time_mask(lengths, x.size(-1))  # (T', N)
            if self.norms:
                x = self._normalise(self.norms[k], x, mask)
            # Zero past each end: the next layer sees what a lone utterance's padding would be.
            x = clipped_relu(x) * mask.T.reshape(mask.size(1), *([1] * (x.dim() - 2)), mask.size(0))
        # -> (T', N, C * F')
        features = x.flatten(1, -2) if self.dims == 2 else x
        return features.permute(2, 0, 1), lengths

    @staticmethod
    def _normalise(norm: SequenceBatchNorm, x: Tensor, mask: Tensor) -> Tensor:
        """Per-channel batch norm over batch, frequency and valid time (``x`` ``(N, C, [F,] T)``)."""
        shape = x.shape
        grid = x.reshape(shape[0], shape[1], -1, shape[-1])  # (N, C, F or 1, T)
        steps = grid.permute(3, 0, 2, 1).reshape(shape[-1], -1, shape[1])  # (T, N * F, C)
        valid = mask.repeat_interleave(grid.size(2), dim=1)  # (T, N * F)
        out = norm(steps, valid).reshape(shape[-1], shape[0], grid.size(2), shape[1]).permute(1, 3, 2, 0)
        return out.reshape(shape)


class DeepSpeech2(nn.Module):
    """Convolutions, ``rnn_layers`` bidirectional recurrent layers of ``hidden`` units per direction
    (``cell`` ``rnn`` or ``gru``; their outputs concatenated), one fully connected layer of
    ``fc_size`` and the softmax over ``output_size`` characters.

    ``forward(features (N, T, F), lengths (N,))`` returns ``(log_probs (T', N, output_size),
    out_lengths (N,))``.
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        conv: list[ConvLayer],
        conv_dims: int,
        cell: str,
        hidden: int,
        rnn_layers: int,
        fc_size: int,
        batch_norm: bool,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell {cell!r} is not one of {CELLS}")
        self.front = ConvFrontEnd(input_size, conv, conv_dims, batch_norm)
        stack = BatchNormRNN if cell == "rnn" else BatchNormGRU
        self.rnn = stack(self.front.output_size, hidden, rnn_layers, batch_norm=batch_norm)
        self.fc = nn.Linear(2 * hidden, fc_size)
        self.out = nn.Linear(fc_size, output_size)

    def forward(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        x, lengths = self.front(features, lengths)
        packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        x, _ = pad_packed_sequence(self.rnn(packed)[0], total_length=x.size(0))
        return F.log_softmax(self.out(clipped_relu(self.fc(x))), dim=-1), lengths
