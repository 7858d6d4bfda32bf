"""The student's own check (course/student/check.py, released beside every notebook as check.py) and the
summary table at the end of every student notebook tell the same story as the grader's
visible checks: for the untouched release, a finished notebook with scratch cells (one raising),
and a notebook where every exercise holds one of its known-wrong variants, in every chapter."""
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from conftest import released_notebook
from course import ASSIGNMENTS, ROOT
from course.student import check as student_check
from course.contract import EXERCISES
from course.authoring.release import SUMMARY_TAG
from submissions import reference_sources, variants, with_solutions

KINDS = ("untouched", "finished-with-scratch", "every-exercise-wrong", "last-exercise-wrong")


def first_wrong(aid):
    found = {}
    for v in variants(aid):
        if v["expect"] == "loses":
            found.setdefault(v["exercise"], v)
    return found


def scratch_cells():
    """What a student leaves behind: a cell that raises, one that prints, at the top."""
    return [nbformat.v4.new_code_cell("trial = 1 / 0  # trying something"),
            nbformat.v4.new_code_cell("print('scratch')")]


def notebook(released, aid, kind):
    reference = reference_sources(aid)
    if kind == "untouched":
        return released
    if kind == "finished-with-scratch":
        nb = with_solutions(released, reference)
        nb.cells[2:2] = scratch_cells()
        for cell in nb.cells:  # what an earlier run left in the file: the check must not read it
            if cell.cell_type == "code":
                cell.outputs = [nbformat.v4.new_output("error", ename="NotImplementedError", evalue="", traceback=[]),
                                nbformat.v4.new_output("stream", name="stderr", text="This cell needs x: finish it\n")]
        return nb
    wrong = {name: v["source"] for name, v in first_wrong(aid).items()}
    if kind == "last-exercise-wrong":
        last = list(EXERCISES[aid])[-1]
        wrong = {last: wrong[last]}
    return with_solutions(released, {**reference, **wrong})


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def checked(request, course_root, tmp_path_factory):
    """Every kind of notebook of one chapter, checked: {kind: (rows, notes, executed notebook)}."""
    aid = request.param
    released = nbformat.read(released_notebook(course_root, aid), as_version=4)
    folder = tmp_path_factory.mktemp(aid)
    paths = {}
    for kind in KINDS:
        paths[kind] = folder / kind / f"{aid}.ipynb"
        paths[kind].parent.mkdir()
        nbformat.write(notebook(released, aid, kind), paths[kind])
    with concurrent.futures.ThreadPoolExecutor(2) as pool:  # one kernel per core
        results = dict(zip(KINDS, pool.map(lambda kind: student_check.check(str(paths[kind])), KINDS)))
    return aid, results


def headers(rows, notes):
    lines = []
    student_check.report("nb.ipynb", rows, notes, out=type("Out", (), {"write": lambda self, s: lines.append(s)})())
    return "".join(lines)


def summary_text(executed):
    """The text of the summary table, as the notebook's last cell shows it."""
    cell = next(c for c in executed.cells if SUMMARY_TAG in c.metadata.get("tags", []))
    return "".join(o["data"]["text/plain"] for o in cell.outputs if o.output_type == "display_data")


def first_fail_line(executed, exercise):
    """The first FAIL line the exercise's check cell printed (stderr, unwrapped)."""
    cell = next(c for c in executed.cells if c.cell_type == "code"
                and re.search(rf"""^checks = Checks\(["']{exercise}["']""", c.source, re.M))
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stderr")
    fails = re.split(r"\n(?=  FAIL  |\S)", text)
    first = next(f for f in fails if f.startswith("  FAIL  "))
    return " ".join(first.split())[len("FAIL "):]


def test_untouched_release_lists_every_exercise_as_not_started(checked):
    aid, results = checked
    rows, notes, executed = results["untouched"]
    assert [r["exercise"] for r in rows] == list(EXERCISES[aid])
    assert all(r["status"] == "not started" for r in rows), rows
    assert student_check.exit_status(rows) == 1
    text = headers(rows, notes)
    for name in EXERCISES[aid]:
        assert f"--- {name}: not started" in text
    assert not [n for n in notes if "raised" in n or "stopped" in n], notes  # demos say "finish the exercise"
    assert all(f"{name}" in summary_text(executed) for name in EXERCISES[aid])
    assert "not started" in summary_text(executed) and "points" not in summary_text(executed)


def test_finished_notebook_with_scratch_cells_passes(checked):
    aid, results = checked
    rows, notes, executed = results["finished-with-scratch"]
    assert all(r["status"] == "pass" and r["passed"] == r["checks"] > 0 for r in rows), rows
    assert student_check.exit_status(rows) == 0
    text = headers(rows, notes)
    for name in EXERCISES[aid]:
        assert f"--- {name}: pass" in text
    # The scratch cell's error is a note; the chapter's deliberate teaching errors are not mentioned.
    raised = [n for n in notes if "raised" in n]
    assert len(raised) == 1 and "ZeroDivisionError" in raised[0], notes
    assert not [n for n in notes if "needs" in n], notes  # the file's saved outputs are not judged
    table = summary_text(executed)
    for name in EXERCISES[aid]:
        assert re.search(rf"^\s*{name}\s+pass\b", table, re.M), table
    assert "hidden checks" in table and "points" not in table


def test_every_wrong_exercise_fails_with_its_checks_message(checked):
    aid, results = checked
    rows, notes, executed = results["every-exercise-wrong"]
    assert student_check.exit_status(rows) == 1
    text, table = headers(rows, notes), summary_text(executed)
    for row in rows:
        assert row["status"] == "FAIL", (first_wrong(aid)[row["exercise"]]["name"], row)
        assert f"--- {row['exercise']}: FAIL" in text
        assert re.search(rf"^\s*{row['exercise']}\s+FAIL\b", table, re.M), table
        assert " ".join(row["first_failure"].split()) == first_fail_line(executed, row["exercise"])


def test_one_wrong_exercise_fails_alone(checked):
    aid, results = checked
    rows, notes, _ = results["last-exercise-wrong"]
    last = list(EXERCISES[aid])[-1]
    assert {r["exercise"]: r["status"] for r in rows} == {name: "FAIL" if name == last else "pass"
                                                          for name in EXERCISES[aid]}
    assert student_check.exit_status(rows) == 1
    assert f"--- {last}: FAIL" in headers(rows, notes)


AID = "04-computational-graphs"


def test_the_released_check_py_runs_alone_beside_the_notebook(course_root, tmp_path):
    """What a hub student gets after fetching: check.py beside the notebook, run with any Python
    that has Jupyter, outside the course repository (no `course` package on the path)."""
    folder = tmp_path / "home"
    shutil.copytree(course_root / "release" / AID, folder)
    assert (folder / "check.py").read_bytes() == (ROOT / "course" / "student" / "check.py").read_bytes()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    stub = subprocess.run([sys.executable, "-I", "check.py", f"{AID}.ipynb"], capture_output=True, text=True,
                          cwd=folder, env=env)
    assert stub.returncode == 1, stub.stdout + stub.stderr
    assert "--- SimpleGraph: not started" in stub.stdout
    assert stub.stderr == "" and "TCP" not in stub.stdout and "WARNING" not in stub.stdout
    done = folder / "done.ipynb"
    nbformat.write(with_solutions(nbformat.read(folder / f"{AID}.ipynb", as_version=4), reference_sources(AID)), done)
    finished = subprocess.run([sys.executable, "-I", "check.py", done.name], capture_output=True, text=True,
                              cwd=folder, env=env)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert finished.stdout.count(": pass (") == len(EXERCISES[AID])
    broken = folder / "broken.ipynb"
    broken.write_text("{")
    unreadable = subprocess.run([sys.executable, "-I", "check.py", broken.name], capture_output=True, text=True,
                                cwd=folder, env=env)
    assert unreadable.returncode == 2 and "cannot check" in unreadable.stderr


def test_nbgrader_validate_names_the_failing_checks(course_root, tmp_path):
    """The hub's Validate button runs `nbgrader validate`: it shows the FAIL lines with their
    messages, uncut, and never 'Partial credit' for a notebook worth nothing."""
    released = nbformat.read(released_notebook(course_root, AID), as_version=4)
    path = tmp_path / f"{AID}.ipynb"
    nbformat.write(notebook(released, AID, "every-exercise-wrong"), path)
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "nbgrader"), "validate", path.name],
                            capture_output=True, text=True, cwd=tmp_path)
    out = result.stdout + result.stderr
    assert "Partial credit" not in out
    assert out.count("FAIL  ") >= len(EXERCISES[AID]), out
    errors = [part.split("=" * 20)[0] for part in out.split("The error was:")[1:]]
    assert len(errors) == len(EXERCISES[AID]) and all("  FAIL  " in e for e in errors), out
    assert not [line for e in errors for line in e.splitlines() if line.endswith("...")], "a FAIL line was cut"
