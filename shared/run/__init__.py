"""Running experiments: one (paper, task, profile) over its seeds and learning-rate candidates
(:mod:`shared.run.experiment`), with provenance (commit, versions, machine), tracked in MLflow and
written to the results file; the ``python -m papers.<p>`` command line; what guards a run while it
runs (:mod:`shared.run.guard`: one process per run directory, SIGTERM ended like Ctrl-C)."""
