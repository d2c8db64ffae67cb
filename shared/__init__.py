"""The library every paper imports, in layers; a layer imports only the layers listed before it.

1. ``core``: typed YAML configuration, atomic file writes, the repository root.
2. ``models``: the model library: recurrent cells and stacks, regularizers, weight noise.
3. ``data``: datasets (raw ``data/`` -> ``prepared/``), synthetic generators, checksums.
4. ``tasks``: task families (data, batching, loss, metric behind one ``Task`` protocol).
5. ``train``: the one training loop: optimizers, schedules, hooks, checkpoints, determinism.
6. ``results``: the paper cards (reported numbers) and the results files (our numbers).
7. ``track``: MLflow tracking.
8. ``run``: running experiments: run specs, seeds and lr search, provenance, the command line.
9. ``report``: the generated tables of RESULTS.md and every paper README.

Paper folders import from here and never copy it (DESIGN.md, convention 1); ``tests/shared/
test_layers.py`` checks the import order.
"""

#: The layers, lowest first: a module of ``shared.<LAYERS[i]>`` imports no ``shared.<LAYERS[j]>``, j > i.
LAYERS = ("core", "models", "data", "tasks", "train", "results", "track", "run", "report")
