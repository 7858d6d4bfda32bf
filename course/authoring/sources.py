"""Build the notebook nbgrader generates from, out of a chapter's text source.

A chapter's single source is solutions/<id>/<id>.md: MyST markdown that jupytext reads as a
notebook, nbgrader's cell metadata (grade_id, solution, locked, tags) in each cell's options,
no outputs. The build, into <folder>/<id>/<id>.ipynb (a course folder's source/, where nbgrader
generates from; _build/sources/ for nbval and the tests):

- puts the setup cell's code (course/notebook/setup_cell.py + checks.py, then the guard of this
  chapter's exercises) into the source's cell with grade_id `setup`, whose text in the source is
  only a placeholder;
- gives each check cell `test_<name>` the points solutions/catalog.toml declares for
  <name>, and writes them into the prose where it says {{ points:<name> }};
- numbers the cells: a cell's id is its grade_id, or its chapter and position;

so two builds of one source give the same bytes, and nothing is written into solutions/.
"""
import os
import re
import tempfile

import jupytext
import nbformat

from course import BUILT_SOURCES, ROOT, catalog, source_text

SETUP_CELL = "\n\n\n".join((ROOT / "course" / "notebook" / name).read_text().strip("\n")
                           for name in ("setup_cell.py", "checks.py"))
SETUP_PLACEHOLDER = "# The setup cell: course/notebook/setup_cell.py and checks.py, put here by the build."
POINTS = re.compile(r"\{\{\s*points:(\w+)\s*\}\}")
FORMAT = "md:myst"


def setup_cell(assignment_id, chapters=None):
    """The chapter's setup cell: SETUP_CELL, then the guard that keeps Run All going past a cell
    that needs one of this chapter's exercises (course/notebook/setup_cell.py)."""
    exercises = [e.name for c in chapters or catalog.read() if c.id == assignment_id for e in c.exercises]
    return f"{SETUP_CELL}\n\n\nguard_exercise_cells({exercises!r})"


class SourceError(ValueError):
    pass


def grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _points_text(points):
    return f"{points:g} point" + ("" if points == 1 else "s")


def notebook(assignment_id, text=None, points=None):
    """The built notebook of one source (its text: `text`, else the file)."""
    path = source_text(assignment_id)
    if text is None:
        if not path.is_file():
            raise SourceError(f"{path.relative_to(ROOT)} is missing: every chapter of solutions/catalog.toml "
                              "needs its source (course new-chapter makes one)")
        text = path.read_text()
    chapters = catalog.read()
    points = catalog.points(chapters) if points is None else points
    nb = jupytext.reads(text, fmt=FORMAT)
    nb.metadata.pop("jupytext", None)
    nb.metadata["language_info"] = {"name": "python"}
    setup = [c for c in nb.cells if grade_id(c) == "setup"]
    if len(setup) != 1:
        raise SourceError(f"{path.name}: expected one cell with grade_id 'setup', found {len(setup)}")
    setup[0].source = setup_cell(assignment_id, chapters)
    used = set()
    for n, cell in enumerate(nb.cells):
        name = grade_id(cell)
        cell.id = name or f"{assignment_id[:2]}-{n:03d}"
        if cell.id in used:
            raise SourceError(f"{path.name}: two cells are called {cell.id!r}")
        used.add(cell.id)
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            exercise = name[len("test_"):] if name.startswith("test_") else None
            if exercise not in points:
                raise SourceError(f"{path.name}: check cell {name!r} names no exercise of solutions/catalog.toml "
                                  f"(a check cell's grade_id is test_<exercise>)")
            meta["points"] = points[exercise]
        if cell.cell_type == "markdown":
            def substitute(match):
                if match.group(1) not in points:
                    raise SourceError(f"{path.name}: {match.group(0)} names no exercise of solutions/catalog.toml")
                return _points_text(points[match.group(1)])
            cell.source = POINTS.sub(substitute, cell.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def write_if_changed(path, text):
    """Replace `path` atomically, and only when its bytes change (builds may run side by side)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.read_text() == text:
        return path
    fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(scratch, path)
    return path


def build(assignment_id, out=BUILT_SOURCES):
    """Build one source into out/<id>/<id>.ipynb; returns that path."""
    nb = notebook(assignment_id)
    return write_if_changed(out / assignment_id / f"{assignment_id}.ipynb", nbformat.writes(nb) + "\n")


def text_of(nb):
    """A notebook as source text (what `course new-chapter` and `new-exercise` write)."""
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)  # a copy
    for cell in nb.cells:
        cell.pop("id", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("language_info", None)
    return jupytext.writes(nb, fmt=FORMAT)
