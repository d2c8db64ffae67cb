"""Cho et al. (2014): the RNN Encoder-Decoder and its gated hidden unit (the GRU); Chung et al.
(2014): GRU vs LSTM vs tanh RNN on polyphonic music. See README.md for what is reproduced."""
