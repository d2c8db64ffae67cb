"""Task families: everything between a dataset and a model's loss. A family implements the
:class:`shared.tasks.base.Task` protocol once (batches drawn from a generator for exact resume, the
training loss, evaluation on ``valid``/``test``) and is configured, never re-implemented, by the
papers that use it. Metrics shared by families live in :mod:`shared.tasks.metrics`."""
