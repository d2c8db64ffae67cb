"""Datasets: checksum verification of the raw files, preparation into ``prepared/``, loaders.

Raw files live in ``data/<dataset>/`` (fetched by ``dvc pull``, described by its ``SOURCE.md``).
``python -m shared.data.prepare <dataset>`` (the DVC stage ``prepare@<dataset>``) verifies them
and writes ``prepared/<dataset>/<name>.pt``; each dataset module has a ``load`` function that
reads the prepared file back. :mod:`shared.data.synthetic` generates the synthetic tasks.
"""
