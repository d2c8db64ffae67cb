"""Hochreiter & Schmidhuber (1997), Long Short-Term Memory; with Zaremba et al. (2014) as the
LSTM language-model reference."""
