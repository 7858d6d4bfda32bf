"""Run All never dead-ends (issue 27): every known-right and known-wrong variant of
tests/variants/ in its released notebook, run as JupyterLab's Run All runs it (run_all.py),
reaches the summary table, which says pass for a right exercise and FAIL for a wrong one. A
right answer runs every demo; the chapter's deliberate errors still show, and a reference
solution whose demo crashes still fails under nbval.

Cost: two kernels per chapter (one per core), not one per notebook: the notebooks of
submissions.variant_students (the k-th variant of every exercise together, right and wrong
ones apart: 110 notebooks for the 197 variants) run one after the other in them. Measured in
one kernel on a loaded 2-core machine: 10.7 minutes, most of it chapters 05 and 07's
training demos (199 s and 213 s)."""
import concurrent.futures
import os
import re
import subprocess
import sys
import time

import nbformat
import pytest

from course import ASSIGNMENTS, CHAPTERS, ROOT
from course.authoring.release import SUMMARY_TAG
from course.authoring.sources import setup_cell
from course.contract import EXERCISES
from course.notebook.setup_cell import STOPPED
from run_all import kernel, run_all
from submissions import variant_students

pytestmark = pytest.mark.slow

EXERCISES_BY_LENGTH = sorted({name for names in EXERCISES.values() for name in names}, key=len, reverse=True)


def exercise_of(test_id):
    return next(name for name in EXERCISES_BY_LENGTH if test_id.startswith(f"test_{name}"))


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def ran(request):
    """{student id: (expected verdicts, where Run All stopped or None, executed notebook)}."""
    aid = request.param
    students = variant_students(aid, nbformat.read(CHAPTERS / f"{aid}.ipynb", as_version=4))
    started = time.monotonic()

    def run_share(ids):  # one kernel runs its share of the notebooks, one after the other
        with kernel() as km:
            return {sid: (students[sid][1], *run_all(students[sid][0], km)) for sid in ids}

    ids = list(students)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:  # two kernels, one per core
        results = {k: v for share in pool.map(run_share, (ids[0::2], ids[1::2])) for k, v in share.items()}
    print(f"{aid}: {len(students)} notebooks, Run All in two kernels: {time.monotonic() - started:.0f} s")
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


def test_a_reference_solution_whose_demo_crashes_still_fails_under_nbval(tmp_path):
    """The guard replies "ok" for a demo that crashed, so nbval sees no error: the root
    conftest.py's hook fails the item from the guard's line (and only then), for a chapter page as
    for a reference solution."""
    right = "def fun_dz(x, y):\n    c = np.cos(x**2 + y**2)\n    return 2 * x * c, 2 * y * c"
    for name, demo in (("crashes", "next(v for v in value if v > 10)"), ("runs", "print(max(value) > 0)")):
        (tmp_path / "chapters" / name).mkdir(parents=True)
        cells = [setup_cell("01-gradient-descent"), right, f"value = fun_dz(1.0, 2.0)\n{demo}"]
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]),
                       tmp_path / "chapters" / name / f"{name}.ipynb")
    (tmp_path / "conftest.py").write_bytes((ROOT / "conftest.py").read_bytes())
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "--nbval-lax",
                             "--nbval-current-env", "chapters"], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "MPLBACKEND": "Agg"}, timeout=300)
    verdicts = {item: verdict for verdict, item in re.findall(r"^(PASSED|FAILED) (chapters/\S+::Cell \d+)",
                                                                result.stdout, re.M)}
    assert verdicts == {**{f"chapters/runs/runs.ipynb::Cell {n}": "PASSED" for n in range(3)},
                        **{f"chapters/crashes/crashes.ipynb::Cell {n}": "PASSED" for n in range(2)},
                        "chapters/crashes/crashes.ipynb::Cell 2": "FAILED"}, result.stdout[-3000:]
    assert f"{STOPPED} StopIteration at line 2" in result.stdout


CHECKS_CALL = re.compile(r"""^checks = Checks\(\s*["']([^"']+)["']""", re.M)


def test_a_failing_check_cell_names_the_exercises_that_pass_so_far(ran):
    """nbgrader's Validate shows only the failing check cells' stderr: their last line names the rest."""
    aid, results = ran
    for sid, (expect, stopped, executed) in results.items():
        verdicts = {}  # exercise -> did its latest check cell pass
        for cell in executed.cells:
            found = CHECKS_CALL.search(cell.source) if cell.cell_type == "code" else None
            if not found:
                continue
            text = " ".join(printed(cell).split())
            if "visible checks FAIL" in text:
                named = text.split("Passing so far: ")[1].rstrip(".").split(", ") if "Passing so far: " in text else []
                assert named == [n for n, ok in verdicts.items() if ok and n != found[1]], f"{aid} {sid}: {text}"
            verdicts[found[1]] = "visible checks pass" in text
