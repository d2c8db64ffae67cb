"""``python -m papers.gru train <task> [--profile smoke|cpu|paper]``; ``python -m papers.gru tasks``."""

from pathlib import Path

from papers.gru.config import TaskConfig
from papers.gru.tasks import build_task
from shared.experiment import Paper, main

PAPER = Paper(key="gru", folder=Path(__file__).resolve().parent, schema=TaskConfig, build_task=build_task)

if __name__ == "__main__":
    raise SystemExit(main(PAPER))
