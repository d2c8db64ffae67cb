"""The one training loop, its configuration, schedules and checkpoints."""
