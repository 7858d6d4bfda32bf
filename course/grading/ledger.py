"""What was graded, so that a batch grades only what changed and a killed batch resumes.

One small JSON file per submission, <root>/ledger/<assignment>/<student>.json, replaced
atomically once that submission's grades and feedback are complete. It holds the key the
submission was graded under and the outcome. A submission is graded again when its key
differs: other files in its folder, another version of the assignment (the gradebook's
cells), another grader (the nbgrader config, the course's grading code, the sandbox
mode), or another deadline for that student (course/grading/deadlines.py: the key's "deadline").
A batch killed at any moment leaves each submission either recorded with complete
grades or not recorded, so running it again grades exactly the unfinished ones.
"""
import functools
import hashlib
import json
import os
from pathlib import Path

from course import AUTOGRADERS

# The code a grade depends on: a change to any of these regrades.
GRADER_FILES = [AUTOGRADERS / "nbgrader_config.py"] + [
    Path(__file__).parent.parent / name for name in (
        "notebook/checks.py", "notebook/setup_cell.py", "grading/preprocessors/verdict.py", "grading/batch.py",
        "grading/sandbox/base.py", "grading/sandbox/kernel.py", "grading/sandbox/warm.py", "grading/sandbox/zygote.py",
        "grading/preprocessors/execute.py", "grading/preprocessors/cells.py", "grading/feedback.py",
        "grading/gradebook.py", "grading/preprocessors/restore.py", "grading/deadlines.py")]


def _digest(parts):
    digest = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode()
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def submission_hash(folder):
    """Every file of the submission folder: names and contents."""
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    return _digest(part for path in files for part in (path.relative_to(folder).as_posix(), path.read_bytes()))


def assignment_version(gb, assignment):
    """The assignment as the gradebook knows it: every source and grade cell of its notebooks."""
    parts = []
    for notebook in sorted(gb.find_assignment(assignment).notebooks, key=lambda n: n.name):
        parts.append(notebook.name)
        parts += [f"{c.name}|{c.cell_type}|{c.locked}|{c.checksum}|{c.source}"
                  for c in sorted(notebook.source_cells, key=lambda c: c.name)]
        parts += [f"{c.name}|{c.max_score}" for c in sorted(notebook.grade_cells, key=lambda c: c.name)]
    return _digest(parts)


@functools.cache  # the grader's files do not change during a batch
def _grader_files():
    return [path.read_bytes() for path in GRADER_FILES]


def grader_version(sandbox, feedback):
    # Showing hidden checks' values changes the feedback: a switch regrades.
    shown = os.environ.get("COURSE_SHOW_HIDDEN_VALUES") == "1"
    return _digest(_grader_files() + [repr(sandbox), repr(feedback), repr(shown)])


def path(root, assignment, student):
    return Path(root) / "ledger" / assignment / f"{student}.json"


def read(root, assignment, student):
    try:
        record = json.loads(path(root, assignment, student).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write(root, assignment, student, record):
    """Replace the record atomically: a kill leaves the old record or the new one, never half."""
    target = path(root, assignment, student)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with open(temporary, "w") as handle:
        json.dump(record, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)


def forget(root, assignment, student):
    path(root, assignment, student).unlink(missing_ok=True)
