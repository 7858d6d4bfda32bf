"""The exercise contract: each chapter's exercises and their exact signatures (solutions/catalog.toml).

Each exercise is one solution cell whose grade_id is its name, followed by one graded check
cell `test_<name>` with visible and hidden checks; its points are the catalog's.
"""
from course import catalog

EXERCISES = {c.id: {e.name: e.signature for e in c.exercises} for c in catalog.read()}
