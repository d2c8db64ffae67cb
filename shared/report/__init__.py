"""Reporting: RESULTS.md and each paper README's results table, generated from the paper cards and
the committed results files (``python -m shared.report``; ``--check`` fails when they are stale)."""
