"""Gehring et al. (2017): ConvS2S, convolutional sequence-to-sequence learning with gated linear
units and multi-step attention. See README.md for what is reproduced."""
