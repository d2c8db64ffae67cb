"""Independently Recurrent Neural Network (Li, Li, Cook, Zhu & Gao, CVPR 2018): the adding problem
against one-layer tanh-RNN and LSTM baselines, deep IndRNNs with batch normalisation on sequential
and permuted pixel MNIST, and the char-level PTB language model."""
