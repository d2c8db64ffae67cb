"""Dilated Recurrent Neural Networks (Chang et al., NeurIPS 2017): the 9-layer dilated stack over
vanilla RNN, LSTM and GRU cells on copy memory and pixel-by-pixel MNIST, against the plain stack
of equal size."""
