"""Generate everything students and readers get from the chapter sources.

    course release ASSIGNMENT_ID ...   # release these assignments to the course
    course release                     # `make release`: regenerate every page only

For each assignment: refresh the source's setup cell from course/notebook/setup_cell.py, run
`nbgrader generate_assignment` (stubs, no hidden tests), execute the reference solution
once, and write the student notebook = the nbgrader release plus the reference run's
output under every demo that needs an exercise. That notebook is both the chapter page
(chapters/<id>.ipynb) and what `nbgrader release_assignment` hands out. The reference
run's outputs of cells tagged nbval-check-output are stored in the source for nbval, printed
pieces joined (join_streams), so a second release writes the same bytes.

Released means: generated into the course folder's gradebook and release/ folder, which only
naming the assignment does. `course grade` and every output it writes list released
assignments only; `make release` regenerates pages and sources without releasing anything.
"""
import argparse
import base64
import concurrent.futures
import os
import re
import shutil
import sys
import tempfile

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from course import ASSIGNMENTS, AUTOGRADERS, CHAPTERS, ROOT, source_notebook
from course.contract import EXERCISES
from course.grading.gradebook import nbgrader_api

# The setup cell: device and seeding (setup_cell.py), then the checks (checks.py), whose
# comparison the grader imports too, so a visible check gives the same verdict in both.
SETUP_CELL = "\n\n\n".join((ROOT / "course" / "notebook" / name).read_text().strip("\n") for name in ("setup_cell.py", "checks.py"))


def setup_cell(assignment_id):
    """The chapter's setup cell: SETUP_CELL, then the guard that keeps Run All going past a
    cell that needs one of this chapter's exercises (course/contract.py)."""
    return f"{SETUP_CELL}\n\n\nguard_exercise_cells({list(EXERCISES[assignment_id])!r})"
REFERENCE_TAG = "reference-output"
CHECKED_TAG = "nbval-check-output"  # nbval compares these cells' stored outputs with a fresh run
SUMMARY_TAG = "course-summary"  # the student notebook's last cell: the table of visible checks


def grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def tags(cell):
    return cell.metadata.get("tags", [])


def refresh_setup_cell(assignment_id):
    """Keep every source's setup cell as setup_cell() writes it."""
    path = source_notebook(assignment_id)
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if grade_id(c) == "setup"]
    if len(cells) != 1:
        raise SystemExit(f"{path}: expected one cell with grade_id 'setup', found {len(cells)}")
    if cells[0].source != setup_cell(assignment_id):
        cells[0].source = setup_cell(assignment_id)
        nbformat.write(nb, path)


def execute(path, timeout=300):
    """Execute a notebook in its own folder on the CPU; return it with outputs. The kernel gets
    its environment as an argument (two may start at once: os.environ is not changed)."""
    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ, COURSE_DEVICE="cpu", MPLBACKEND="module://matplotlib_inline.backend_inline")
    with tempfile.TemporaryDirectory(prefix="release-ipc-") as sockets:
        km = AsyncKernelManager(transport="ipc", ip=os.path.join(sockets, "kernel"))  # not TCP: no warning
        NotebookClient(nb, km=km, timeout=timeout, resources={"metadata": {"path": str(path.parent)}}).execute(
            env=env, cleanup_kc=True)  # a kernel manager passed in is not stopped by nbclient unless told
    refuse_crashed_cells(nb, path)
    return nb


def refuse_crashed_cells(nb, path):
    """The setup cell's guard turns a crash in a cell that uses an exercise into one line and
    lets the run go on: in the reference run that line is an error of the chapter."""
    from course.notebook.setup_cell import STOPPED

    for n, cell in enumerate(nb.cells):
        said = [line for out in cell.get("outputs", []) if out.output_type == "stream"
                for line in out.text.splitlines() if line.startswith(STOPPED)]
        if said:
            raise RuntimeError(f"{path}: the reference solution's cell {n} crashed: {said[0]}")


def reference_markdown(outputs):
    """The reference run's outputs of one cell, as markdown that renders in Jupyter and on the site."""
    parts = ["**Reference output.** With a correct solution, the cell above shows:"]
    printed = ""  # consecutive stream pieces are one block: the kernel may split a print anywhere
    for out in list(outputs) + [None]:
        if out is not None and out.output_type == "stream":
            printed += out.text
            continue
        if printed:
            parts.append("```text\n" + printed.rstrip("\n") + "\n```")
            printed = ""
        if out is None:
            break
        if out.output_type in ("display_data", "execute_result"):
            data = out.get("data", {})
            if "image/png" in data:
                png = data["image/png"].replace("\n", "")
                base64.b64decode(png, validate=True)
                parts.append(f'<img src="data:image/png;base64,{png}" alt="Figure from the reference solution">')
            elif "text/plain" in data:
                parts.append("```text\n" + data["text/plain"].rstrip("\n") + "\n```")
        elif out.output_type == "error":
            raise RuntimeError(f"the reference solution raised {out.ename}: {out.evalue}")
    return "\n\n".join(parts)


def student_notebook(released, reference):
    """The nbgrader release with the reference outputs inserted after cells that need an exercise."""
    if len(released.cells) != len(reference.cells):
        raise RuntimeError("the release and the source no longer have the same cells")
    cells = []
    for n, (cell, ref) in enumerate(zip(released.cells, reference.cells)):
        cells.append(cell)
        if cell.cell_type != "code":
            continue
        if CHECKED_TAG in tags(cell):
            if "uses-exercise" in tags(cell):  # a stub prints no numbers: its reference cell shows them
                cell.metadata["tags"] = [t for t in tags(cell) if t != CHECKED_TAG]
            else:  # nbval compares the chapter's own run with the reference run's numbers
                cell.outputs, cell.execution_count = ref.outputs, ref.execution_count
        if grade_id(cell) == "setup":  # folded away: on the site, in Jupyter and in Colab
            cell.metadata["tags"] = sorted(set(tags(cell)) | {"hide-input"})
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
            cell.metadata["cellView"] = "form"
        needs_exercise = "uses-exercise" in tags(cell)
        if needs_exercise or cell.metadata.get("nbgrader", {}).get("grade"):
            # On the site an unfinished exercise's message or a 0 score is noise.
            cell.metadata["tags"] = sorted(set(tags(cell)) | {"remove-output"})
        if needs_exercise:
            note = nbformat.v4.new_markdown_cell(reference_markdown(ref.outputs))
            note.id = f"reference-{n}"
            note.metadata["tags"] = [REFERENCE_TAG]
            cells.append(note)
    released.cells = cells + [summary_cell(released)]
    return released


def summary_cell(nb):
    """The last cell of a student notebook: the table of every exercise's visible checks."""
    exercises = list(dict.fromkeys(re.findall(r"""^checks = Checks\(\s*["']([^"']+)["']""",
                                              "\n".join(c.source for c in nb.cells if c.cell_type == "code"), re.M)))
    cell = nbformat.v4.new_code_cell(
        "# Before you submit: run every cell (Run > Run All Cells), then read this table of your exercises'\n"
        f"# visible checks.\nChecks.summary({exercises!r})")
    cell.id = "course-summary"
    cell.metadata["tags"] = [SUMMARY_TAG, "remove-cell"]  # the site's readers have no exercises to check
    return cell


def join_streams(nb):
    """Each run of consecutive stream outputs of one name (stdout, stderr) as one output: the
    kernel sends printed text in pieces whose boundaries depend on timing (a loaded machine
    splits a print differently), so only the joined text is the same from run to run."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        joined = []
        for out in cell.outputs:
            if out.output_type == "stream" and joined and joined[-1].output_type == "stream" \
                    and joined[-1].name == out.name:
                joined[-1].text += out.text
            else:
                joined.append(out)
        cell.outputs = joined
    return nb


def record_checked_outputs(assignment_id, reference, path=None):
    """Store the reference run's outputs in the source cells nbval compares, and only those
    (`path`: where to write that source; default: the source itself)."""
    nb = nbformat.read(source_notebook(assignment_id), as_version=4)
    path = path or source_notebook(assignment_id)
    for cell, ref in zip(nb.cells, reference.cells):
        if cell.cell_type == "code":
            checked = CHECKED_TAG in tags(cell)
            cell.outputs = ref.outputs if checked else []
            # nbval refuses stored outputs without an execution count ("Unrun reference cell").
            cell.execution_count = ref.execution_count if checked else None
    nbformat.write(nb, path)


def release_all(assignment_ids, api, chapters=CHAPTERS, record=False):
    """release() each assignment, in order; their reference runs two at a time (one kernel per
    core) while nbgrader generates them one after the other. Yields each student notebook's path."""
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(execute, source_notebook(aid)) for aid in assignment_ids]
        for assignment_id, run in zip(assignment_ids, runs):
            yield release(assignment_id, api, chapters, record, reference=run)


def release(assignment_id, api=None, chapters=CHAPTERS, record=False, reference=None):
    """Generate one assignment; return the path of its student notebook. record: True writes
    the reference outputs nbval compares into the source, a path writes that source there.
    reference: the source's run when it is already under way (a Future), else it runs here."""
    api = api or nbgrader_api()
    result = api.generate_assignment(assignment_id, force=True, create=True)
    if not result["success"]:
        raise RuntimeError(f"nbgrader generate_assignment {assignment_id} failed:\n{result.get('log', '')}{result.get('error', '')}")
    release_dir = os.path.join(api.coursedir.root, api.coursedir.release_directory, assignment_id)
    released_path = os.path.join(release_dir, f"{assignment_id}.ipynb")
    released = nbformat.read(released_path, as_version=4)
    reference = join_streams(reference.result() if reference else execute(source_notebook(assignment_id)))
    if record:
        record_checked_outputs(assignment_id, reference, None if record is True else record)
    student = student_notebook(released, reference)
    nbformat.write(student, released_path)
    # The student's own check, a single file that needs only Jupyter: released beside the notebook.
    shutil.copyfile(ROOT / "course" / "student" / "check.py", os.path.join(release_dir, "check.py"))
    chapters.mkdir(parents=True, exist_ok=True)
    target = chapters / f"{assignment_id}.ipynb"
    shutil.copyfile(released_path, target)
    return target


def main(argv=None, prog=None):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignments", nargs="*",
                        help="assignment ids to release to the course folder (autograders/); without any, "
                             "every chapter's page is regenerated and none is released")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.assignments) - set(ASSIGNMENTS))
    if unknown:
        parser.error(f"unknown assignment id(s) {', '.join(unknown)}; known: {', '.join(ASSIGNMENTS)}")
    if args.assignments:  # released: in the course's gradebook and nbgrader's release/ folder
        api = nbgrader_api()
        for assignment_id in args.assignments:
            refresh_setup_cell(assignment_id)
            target = release(assignment_id, api, record=True)
            print(f"released {assignment_id}: {target.relative_to(ROOT)} and "
                  f"{AUTOGRADERS.name}/{api.coursedir.release_directory}/{assignment_id}/", flush=True)
        return 0
    # `make release`: the pages only. The gradebook generated on the way is a scratch one, so the
    # course's gradebook (and every grading output) lists only the assignments released above.
    with tempfile.TemporaryDirectory(prefix="pages-") as scratch:
        api = nbgrader_api(scratch)
        for assignment_id in ASSIGNMENTS:
            refresh_setup_cell(assignment_id)
        for assignment_id, target in zip(ASSIGNMENTS, release_all(ASSIGNMENTS, api, record=True)):
            print(f"page {assignment_id} -> {target.relative_to(ROOT)} (not released: "
                  f"course release {assignment_id} releases it)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
