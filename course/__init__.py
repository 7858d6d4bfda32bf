"""Shared code of the course: the release pipeline and nbgrader preprocessors."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
CHAPTERS = ROOT / "chapters"
AUTOGRADERS = ROOT / "autograders"

# The assignment ids, in syllabus order; each is a folder of solutions/.
ASSIGNMENTS = [
    "01-gradient-descent",
    "02-linear-regression",
    "03-autograd",
    "04-computational-graphs",
    "05-nn-module",
    "06-optimizers-schedulers",
    "07-minibatches",
]


def source_notebook(assignment_id):
    return SOLUTIONS / assignment_id / f"{assignment_id}.ipynb"
