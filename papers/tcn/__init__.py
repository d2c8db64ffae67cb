"""Bai, Kolter & Koltun (2018): An Empirical Evaluation of Generic Convolutional and Recurrent
Networks for Sequence Modeling. See README.md for what is reproduced and how."""
