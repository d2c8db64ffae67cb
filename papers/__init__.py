"""One package per reproduced paper; each follows the folder skeleton of DESIGN.md."""
