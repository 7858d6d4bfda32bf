"""The student's side: check.py, released beside each notebook, needing only Jupyter."""
