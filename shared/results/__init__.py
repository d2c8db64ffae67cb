"""What a reproduction claims: the paper card of reported numbers (:mod:`shared.results.paper_card`)
and the results file of our numbers (:mod:`shared.results.record`, re-exported here), which DVC
tracks as metrics and the report turns into tables."""

from shared.results.record import (
    Provenance,
    ResultsFileError,
    SeedRun,
    TaskResult,
    read,
    summarize,
    write,
    write_curves,
)

__all__ = ["Provenance", "ResultsFileError", "SeedRun", "TaskResult", "read", "summarize", "write", "write_curves"]
