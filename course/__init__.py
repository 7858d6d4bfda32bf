"""Shared code of the course: the release pipeline and nbgrader preprocessors."""
import sys
from pathlib import Path

# jsonschema (under nbformat) imports rfc3987_syntax when it is installed, only to check the
# "iri" string formats, which no notebook schema uses; that import builds an Earley parser,
# 1.8 s in every grading process. Without it, jsonschema leaves those two formats unchecked.
sys.modules.setdefault("rfc3987_syntax", None)

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
CHAPTERS = ROOT / "chapters"
AUTOGRADERS = ROOT / "autograders"

# The assignment ids, in syllabus order; each is a folder of solutions/.
ASSIGNMENTS = [
    "00-tensors",
    "01-gradient-descent",
    "02-linear-regression",
    "03-autograd",
    "04-computational-graphs",
    "05-nn-module",
    "06-optimizers-schedulers",
    "07-minibatches",
    "08-classification",
]


def source_notebook(assignment_id):
    return SOLUTIONS / assignment_id / f"{assignment_id}.ipynb"
