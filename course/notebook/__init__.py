"""Code that runs inside every course notebook: the setup cell (setup_cell.py, then checks.py)."""
