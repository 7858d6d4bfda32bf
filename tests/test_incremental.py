"""Only what changed is graded again, and a batch killed with SIGKILL resumes to the grades
of a calm run: nothing lost, nothing doubled, nothing half written."""
import csv
import os
import shutil
import signal
import subprocess
import sys
import time

import nbformat
import pytest
from nbgrader.api import Gradebook

from course import ROOT
from course.grading.gradebook import nbgrader_api
from course.grading.batch import grade_batch
from course.authoring.release import release
from submissions import reference_sources, with_solutions

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

AID = "01-gradient-descent"


def submissions(released):
    reference = reference_sources(AID)
    first = {"fun_dz": reference["fun_dz"]}
    made = {"ref-a": with_solutions(released, reference), "stub-a": released,
            "first-a": with_solutions(released, first)}
    for n in range(3):  # more of each, so a kill lands mid-batch
        made[f"ref-{n}"], made[f"stub-{n}"], made[f"first-{n}"] = made["ref-a"], made["stub-a"], made["first-a"]
    made["broken"] = "{ not a notebook"
    return made


def submit(root, student, content):
    path = root / "submitted" / student / AID / f"{AID}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else nbformat.writes(content))


def grades(root):
    """Every grade the gradebook holds, and each submission's count of grade records."""
    with Gradebook(f"sqlite:///{root}/gradebook.db") as gb:
        found = {}
        for submission in gb.find_assignment(AID).submissions:
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    key = (submission.student_id, grade.name)
                    assert key not in found, f"{key} recorded twice"
                    found[key] = grade.score
        return found


def exported_tests(root):
    with open(root / "tests.csv") as handle:
        return sorted(tuple(row.items()) for row in csv.DictReader(handle))


@pytest.fixture(scope="module")
def calm(tmp_path_factory):
    """A released course, its submissions, and one uninterrupted batch."""
    template = tmp_path_factory.mktemp("template")
    release(AID, nbgrader_api(template), chapters=template / "chapters")
    released = nbformat.read(template / "release" / AID / f"{AID}.ipynb", as_version=4)
    for student, content in submissions(released).items():
        submit(template, student, content)
    root = tmp_path_factory.mktemp("calm") / "course"
    shutil.copytree(template, root)
    outcomes = {o.student: o for o in grade_batch(root, [AID], workers=2)}
    # What the calm run recorded, kept before the tests below change its submissions.
    recorded = {"grades": grades(root), "tests": exported_tests(root)}
    return template, root, outcomes, released, recorded


def test_a_second_run_grades_nothing_again(calm):
    _, root, first, _, _ = calm
    page = root / "feedback" / "ref-a" / AID / f"{AID}.html"
    before = page.stat().st_mtime_ns
    again = {o.student: o for o in grade_batch(root, [AID], workers=2)}
    assert all(o.unchanged for o in again.values() if o.status != "missing"), again
    assert {s: (o.status, o.score) for s, o in again.items()} == {s: (o.status, o.score) for s, o in first.items()}
    assert page.stat().st_mtime_ns == before  # its feedback left in place, not written again
    assert grades(root) and all(score is not None for score in grades(root).values())


def test_changed_late_and_forced_submissions(calm):
    _, root, first, released, _ = calm
    submit(root, "stub-0", with_solutions(released, reference_sources(AID)))  # finished after all
    submit(root, "late-1", released)
    again = {o.student: o for o in grade_batch(root, [AID], workers=2)}
    regraded = {s for s, o in again.items() if not o.unchanged}
    assert regraded == {"stub-0", "late-1"}, regraded
    assert again["stub-0"].score == first["ref-a"].score > first["stub-0"].score
    forced = {o.student: o for o in grade_batch(root, [AID], workers=2, force=True)}
    assert not any(o.unchanged for o in forced.values())
    assert {s: o.score for s, o in forced.items()} == {s: o.score for s, o in again.items()}


def test_a_batch_killed_with_sigkill_resumes_to_the_calm_grades(calm, tmp_path):
    template, _, _, _, recorded = calm
    root = tmp_path / "course"
    shutil.copytree(template, root)
    command = [sys.executable, "-m", "course", "grade", AID, "--root", str(root), "--workers", "2"]
    batch = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
    deadline = time.monotonic() + 300
    ledger = root / "ledger" / AID
    while len(list(ledger.glob("*.json")) if ledger.is_dir() else []) < 4:  # mid-batch: some done, most not
        assert batch.poll() is None and time.monotonic() < deadline, batch.stdout.read().decode()[-3000:]
        time.sleep(0.05)
    # Workers, their sandboxes (bwrap) and the kernels in them, each known by its pid and its
    # start time, so a pid the kernel hands to a new process later is not taken for one of them.
    started = {pid: start_time(pid) for pid in descendants(batch.pid)}
    os.killpg(batch.pid, signal.SIGKILL)
    batch.wait()
    left = wait_until_gone(started, deadline=time.monotonic() + 60)
    assert not left, f"the killed batch left processes behind after 60 s (pid: state): {left}"
    done = {path.name: path.read_bytes() for path in ledger.glob("*.json")}  # no writer is left
    resumed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 1, resumed.stdout[-3000:] + resumed.stderr[-3000:]  # 1: "broken" is not graded
    # Every submission recorded before the kill is taken as it was (its record is byte for byte
    # the same: a regraded one gets a new record), and the others were graded now.
    assert 0 < len(done) < len(submissions_in(root)), sorted(done)
    again = sorted(name for name, record in done.items() if (ledger / name).read_bytes() != record)
    assert not again, f"graded again after the resume: {again}\n{resumed.stdout[-3000:]}"
    assert grades(root) == recorded["grades"]
    assert exported_tests(root) == recorded["tests"]
    assert not list(ledger.glob(".*.tmp")), "a half-written ledger record was left"


def parents():
    found = {}
    for stat in os.listdir("/proc"):
        if stat.isdigit():
            try:
                found[int(stat)] = int(open(f"/proc/{stat}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    return found


def descendants(pid):
    tree, found, todo = parents(), set(), [pid]
    while todo:
        parent = todo.pop()
        children = [child for child, ppid in tree.items() if ppid == parent]
        found.update(children)
        todo += children
    return found


def _stat(pid):
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def start_time(pid):
    fields = _stat(pid)
    return fields and fields[19]  # starttime, in clock ticks since boot


def process_state(pid, started=None):
    """None when the process is gone (or its pid now names a process started at another
    time), else its state letter (Z: a zombie nobody reaped)."""
    fields = _stat(pid)
    if fields is None or (started is not None and fields[19] != started):
        return None
    return fields[0]


def wait_until_gone(started, deadline):
    """{pid: state} of the processes still there at the deadline (empty as soon as none is)."""
    while True:
        left = {pid: state for pid, state in ((pid, process_state(pid, when)) for pid, when in started.items()) if state}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def submissions_in(root):
    return [p for p in (root / "submitted").iterdir() if p.is_dir()]
