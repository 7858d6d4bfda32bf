"""Generate everything students and readers get from the chapter sources.

    course release ASSIGNMENT_ID ...   # release these assignments to the course
    course release                     # `make release`: regenerate every page only

For each assignment: build the notebook nbgrader generates from out of the chapter's text
source (course/authoring/sources.py: solutions/<id>/<id>.md -> <course>/source/), run
`nbgrader generate_assignment` (stubs, no hidden tests), execute the reference solution
once, and write the student notebook = the nbgrader release plus the reference run's
output under every demo that needs an exercise. That notebook is both the chapter page
(chapters/<id>.ipynb) and what `nbgrader release_assignment` hands out. Printed pieces of the
reference run are joined (join_streams), so a second release writes the same bytes. Nothing
is written into solutions/.

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
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from course import ASSIGNMENTS, AUTOGRADERS, CHAPTERS, ROOT, STEADY_KERNEL_ENV
from course.authoring import sources
from course.authoring.sources import grade_id
from course.checkout import refuse_another_checkout
from course.grading.gradebook import nbgrader_api

REFERENCE_TAG = "reference-output"
CHECKED_TAG = "nbval-check-output"  # nbval compares these cells' stored outputs with a fresh run
SUMMARY_TAG = "course-summary"  # the student notebook's last cell: the table of visible checks


def tags(cell):
    return cell.metadata.get("tags", [])


def execute(path, timeout=300):
    """Execute a notebook in its own folder on the CPU; return it with outputs. The kernel gets
    its environment as an argument (two may start at once: os.environ is not changed)."""
    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ, COURSE_DEVICE="cpu", MPLBACKEND="module://matplotlib_inline.backend_inline",
               **STEADY_KERNEL_ENV)  # the page's digits and warnings not the caller's environment's
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


def built_source(assignment_id, api):
    """The notebook nbgrader generates from, built (or found up to date) in the course folder's
    source/ (nbgrader's source folder: the grader's own, writable where the repository is not)."""
    return sources.build(assignment_id, out=Path(api.coursedir.root) / api.coursedir.source_directory)


def release_all(assignment_ids, api, chapters=CHAPTERS):
    """release() each assignment, in order; their reference runs two at a time (one kernel per
    core) while nbgrader generates them one after the other. Yields each student notebook's path."""
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(execute, built_source(aid, api)) for aid in assignment_ids]
        for assignment_id, run in zip(assignment_ids, runs):
            yield release(assignment_id, api, chapters, reference=run)


def release(assignment_id, api=None, chapters=CHAPTERS, reference=None):
    """Generate one assignment; return the path of its student notebook. reference: the
    source's run when it is already under way (a Future), else it runs here."""
    api = api or nbgrader_api()
    source = built_source(assignment_id, api)
    result = api.generate_assignment(assignment_id, force=True, create=True)
    if not result["success"]:
        raise RuntimeError(f"nbgrader generate_assignment {assignment_id} failed:\n{result.get('log', '')}{result.get('error', '')}")
    release_dir = os.path.join(api.coursedir.root, api.coursedir.release_directory, assignment_id)
    released_path = os.path.join(release_dir, f"{assignment_id}.ipynb")
    released = nbformat.read(released_path, as_version=4)
    reference = join_streams(reference.result() if reference else execute(source))
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
    refuse_another_checkout()
    unknown = sorted(set(args.assignments) - set(ASSIGNMENTS))
    if unknown:
        parser.error(f"unknown assignment id(s) {', '.join(unknown)}; known: {', '.join(ASSIGNMENTS)}")
    if args.assignments:  # released: in the course's gradebook and nbgrader's release/ folder
        api = nbgrader_api()
        for assignment_id in args.assignments:
            target = release(assignment_id, api)
            print(f"released {assignment_id}: {target.relative_to(ROOT)} and "
                  f"{AUTOGRADERS.name}/{api.coursedir.release_directory}/{assignment_id}/", flush=True)
        return 0
    # `make release`: the pages only. The gradebook generated on the way is a scratch one, so the
    # course's gradebook (and every grading output) lists only the assignments released above.
    with tempfile.TemporaryDirectory(prefix="pages-") as scratch:
        api = nbgrader_api(scratch)
        for assignment_id, target in zip(ASSIGNMENTS, release_all(ASSIGNMENTS, api)):
            print(f"page {assignment_id} -> {target.relative_to(ROOT)} (not released: "
                  f"course release {assignment_id} releases it)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
