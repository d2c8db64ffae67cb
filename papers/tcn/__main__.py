"""``python -m papers.tcn train <task> [--profile smoke|cpu|paper]``; ``python -m papers.tcn tasks``."""

from pathlib import Path

from papers.tcn.config import TaskConfig
from papers.tcn.tasks import build_task
from shared.experiment import Paper, main

PAPER = Paper(key="tcn", folder=Path(__file__).resolve().parent, schema=TaskConfig, build_task=build_task)

if __name__ == "__main__":
    raise SystemExit(main(PAPER))
