"""Run All never dead-ends (issue 27): every known-right and known-wrong variant of
tests/variants/ in its released notebook, run as JupyterLab's Run All runs it (the kernel stops
the queue at the first error reply; nbclient with allow_errors=False stops at the same place,
sparing cells tagged raises-exception), reaches the summary table, which says pass for a right
exercise and FAIL for a wrong one. A right answer runs every demo; the chapter's deliberate
errors still show.

Cost: one kernel per chapter (not per notebook): the notebooks of submissions.variant_students
(the k-th variant of every exercise together) run one after the other in it, the namespace reset
(%reset -f) and figures closed between them; the modules stay imported, which is what a fresh
kernel per notebook would spend its time on."""
import os
import re
import subprocess
import tempfile
import time

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError

from course import ASSIGNMENTS, CHAPTERS
from course.authoring.release import SUMMARY_TAG
from course.contract import EXERCISES
from course.notebook.setup_cell import STOPPED
from submissions import variant_students

RESET = "%reset -f\nimport matplotlib.pyplot as _plt\n_plt.close('all')"


def exercise_of(test_id):
    return next(name for name in EXERCISES_BY_LENGTH if test_id.startswith(f"test_{name}"))


EXERCISES_BY_LENGTH = sorted({name for names in EXERCISES.values() for name in names}, key=len, reverse=True)


def run_all(nb, km, folder):
    """(the cell Run All stopped at or None, the executed notebook)."""
    nb.cells.insert(0, nbformat.v4.new_code_cell(RESET))
    client = NotebookClient(nb, km=km, timeout=300, allow_errors=False, resources={"metadata": {"path": folder}})
    try:
        client.execute(cleanup_kc=False)
        return None, nb
    except CellExecutionError as error:
        return str(error)[-1500:], nb
    finally:
        if client.kc is not None:
            client.kc.stop_channels()


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def ran(request):
    """{student id: (expected verdicts, where Run All stopped or None, executed notebook)}."""
    aid = request.param
    released = nbformat.read(CHAPTERS / f"{aid}.ipynb", as_version=4)
    students = variant_students(aid, released)
    results, started = {}, time.monotonic()
    km = KernelManager(kernel_name="python3")
    env = dict(os.environ, MPLBACKEND="Agg", COURSE_DEVICE="cpu", PYTHONWARNINGS="ignore")
    with tempfile.TemporaryDirectory(prefix="run-all-") as folder:
        km.start_kernel(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for sid, (nb, expect) in students.items():
                try:
                    stopped, executed = run_all(nb, km, folder)
                except DeadKernelError as error:  # the notebook is reported; the next one gets a new kernel
                    stopped, executed = f"the kernel died: {error}", nb
                    km.restart_kernel(now=True)
                results[sid] = (expect, stopped, executed)
        finally:
            km.shutdown_kernel(now=True)
    print(f"{aid}: {len(students)} notebooks, Run All in one kernel: {time.monotonic() - started:.0f} s")
    return aid, results


def summary_rows(executed):
    """{exercise: status} from the summary table's text, as the student reads it."""
    cell = next(c for c in executed.cells if SUMMARY_TAG in c.metadata.get("tags", []))
    text = "".join(o["data"]["text/plain"] for o in cell.get("outputs", []) if o.output_type == "display_data")
    return dict(re.findall(r"^\s+(\w+)\s+(pass|FAIL|not started|not run)\b", text, re.M))


def printed(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")


def test_run_all_reaches_the_summary_and_it_tells_right_from_wrong(ran):
    aid, results = ran
    for sid, (expect, stopped, executed) in results.items():
        names = sorted({name for _, name in expect.values()})
        assert stopped is None, f"{aid} {sid} ({names}): Run All stopped before the summary:\n{stopped}"
        rows = summary_rows(executed)
        for test_id, (kind, name) in expect.items():
            exercise = exercise_of(test_id)
            assert rows.get(exercise) == ("pass" if kind == "full" else "FAIL"), \
                f"{aid} {sid}: {name!r} ({kind}): the summary says {rows.get(exercise)!r}"


def test_a_right_answer_runs_every_demo(ran):
    aid, results = ran
    for sid, (expect, stopped, executed) in results.items():
        if stopped is None and all(kind == "full" for kind, _ in expect.values()):
            said = [line for c in executed.cells if c.cell_type == "code" for line in printed(c).splitlines()
                    if line.startswith((STOPPED, "This cell needs"))]
            names = sorted({name for _, name in expect.values()})
            assert not said, f"{aid} {sid} ({names}): a demo does not run with right answers: {said}"


def test_wrong_answers_are_said_in_one_line_and_deliberate_errors_still_show(ran):
    aid, results = ran
    for sid, (expect, stopped, executed) in results.items():
        for cell in executed.cells:
            if cell.cell_type != "code":
                continue
            errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
            if "raises-exception" in cell.metadata.get("tags", []):
                assert errors, f"{aid} {sid}: the deliberate error of this cell no longer shows:\n{cell.source[:300]}"
            said = [line for line in printed(cell).splitlines() if line.startswith(STOPPED)]
            assert len(said) <= 1, f"{aid} {sid}: more than one line for one cell: {said}"
