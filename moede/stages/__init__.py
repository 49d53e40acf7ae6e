"""Pipeline stages the notebooks call; each one reads and writes the run directory and reuses what exists."""
