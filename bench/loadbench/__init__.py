"""bench/load.py: the whole hub under load and faults (see bench/load.py)."""
