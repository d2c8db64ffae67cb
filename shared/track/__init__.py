"""Experiment tracking: MLflow runs that sit next to the number each paper reports."""
