"""Notebooks as students hand them in: graded around what copy, paste and delete did to them.

`RepairCells` runs first among nbgrader's sanitize steps (course/grading/gradebook.py), before
nbgrader looks at any cell's grader markings (`metadata.nbgrader`):

- a cell whose markings name no cell of this notebook in the gradebook (pasted from another
  assignment), or name none at all, or repeat a cell already seen (a copied check or
  solution cell) loses its markings and runs as an ordinary cell; the first cell of each
  name keeps them, so grading follows the notebook's order as the student ran it;
- a locked cell the student deleted (the setup cell, say) is put back from the gradebook,
  after the cell that came before it in the release; deleted check cells are put back by
  nbgrader itself (`OverwriteCells.add_missing_cells`) and noted here;
- whatever was restored or ignored is said in a markdown cell at the top of the graded
  notebook, which the feedback shows, and listed in that cell's `metadata.course.repairs`
  (course/grading/batch.py puts it in report.csv).

Without this, nbgrader stops on a cell with markings but no grade_id ("KeyError: 'grade_id'",
from its own deduplication or from restoring missing cells), and a deleted setup cell leaves
every check failing for want of `Checks`.
"""
import uuid

from nbformat.notebooknode import from_dict
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor

NOTE_TITLE = "**Grader's note on this notebook.**"


def repairs_of(nb):
    """The notes RepairCells left in a graded notebook (an empty list when none)."""
    if nb.cells and nb.cells[0].cell_type == "markdown":
        return list(nb.cells[0].metadata.get("course", {}).get("repairs", []))
    return []


def _marks(cell):
    return cell.metadata.get("nbgrader")


def _claims_something(marks):
    return any(marks.get(flag) for flag in ("grade", "solution", "locked", "task"))


def _describe(name, grade_cells):
    if name == "setup":
        return "The setup cell"
    return f"The check cell `{name}`" if name in grade_cells else f"The locked cell `{name}`"


def _new_id(nb, used):
    if (nb.nbformat, nb.nbformat_minor) < (4, 5):  # cell ids exist from nbformat 4.5 on
        return None
    while (candidate := uuid.uuid4().hex[:8]) in used:
        pass
    used.add(candidate)
    return candidate


def _with_id(nb, cell, used):
    cell_id = _new_id(nb, used)
    if cell_id:
        cell["id"] = cell_id
    return from_dict(cell)


class RepairCells(NbGraderPreprocessor):
    """Drop unknown and repeated grader markings, put back deleted locked cells, say so."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            source = gb.find_notebook(info["notebook"], info["assignment"])
            order = [(c.name, c.cell_type, c.source, c.checksum, c.locked) for c in source.source_cells]
            grade_cells = {c.name for c in source.grade_cells}
            task_cells = {c.name for c in source.task_cells}
        notes = self.ignore_foreign_marks(nb, {name for name, *_ in order})
        notes += self.restore_locked_cells(nb, order, grade_cells, task_cells)
        if notes:
            used = {c.get("id") for c in nb.cells}
            text = "\n".join([NOTE_TITLE, ""] + [f"- {note}" for note in notes])
            note = {"cell_type": "markdown", "metadata": {"course": {"repairs": notes}}, "source": text}
            nb.cells.insert(0, _with_id(nb, note, used))
            self.log.info("repaired %s: %s", info["notebook"], "; ".join(notes))
        return nb, resources

    @staticmethod
    def ignore_foreign_marks(nb, known):
        notes, seen = [], set()
        for number, cell in enumerate(nb.cells, 1):
            marks = _marks(cell)
            if marks is None:
                continue
            name = marks.get("grade_id")
            if name in known and name not in seen:
                seen.add(name)
                continue
            del cell.metadata["nbgrader"]
            if name in known:
                notes.append(f"Cell {number} is another copy of `{name}`: only its first copy was graded, "
                             "this one ran as an ordinary cell.")
            elif name or _claims_something(marks):
                what = f"`{name}`" if name else "no name"
                notes.append(f"Cell {number} carries grader markings ({what}) of no cell of this assignment "
                             "(pasted from another notebook?): it ran as an ordinary cell and earns nothing.")
        return notes

    @staticmethod
    def restore_locked_cells(nb, order, grade_cells, task_cells):
        """Deleted locked cells back in place; deleted check cells are only noted (nbgrader restores them)."""
        notes, used = [], {c.get("id") for c in nb.cells}
        present = {_marks(c).get("grade_id"): c for c in nb.cells if _marks(c)}
        for position, (name, cell_type, text, checksum, locked) in enumerate(order):
            if name in present:
                continue
            if name in grade_cells:
                notes.append(f"{_describe(name, grade_cells)} was missing: it was put back and graded.")
                continue
            if not locked or name in task_cells:
                continue
            cell = {"cell_type": cell_type, "source": text,
                    "metadata": {"deletable": False, "editable": False,
                                 "nbgrader": {"grade": False, "solution": False, "locked": True, "task": False,
                                              "grade_id": name, "checksum": checksum, "schema_version": 3}}}
            if cell_type == "code":
                cell.update(execution_count=None, outputs=[])
            cell = _with_id(nb, cell, used)
            earlier = [present[n] for n, *_ in order[:position] if n in present]
            at = next(i for i, c in enumerate(nb.cells) if c is earlier[-1]) + 1 if earlier else 0
            nb.cells.insert(at, cell)
            present[name] = cell
            notes.append(f"{_describe(name, grade_cells)} was missing: it was put back "
                         "as released before grading.")
        return notes
