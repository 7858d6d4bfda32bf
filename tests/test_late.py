"""Late work end to end, and outputs that agree: due dates, extensions and the late policy of
autograders/deadlines.toml (course/grading/deadlines.py) through nbgrader's late-penalty plugin into
the feedback, report.html, grades.csv, report.csv and the Canvas and Moodle files; then a
changed due date and a granted extension, graded again, change exactly those penalties.

One small batch of 01-gradient-descent, every graded student handing in the reference
solution (so the raw score is the assignment's maximum and any loss is the penalty), graded
twice through `course grade` with no assignment named (so: every released one, and
only 01 is released in this course folder). The same batch checks that "not graded" and
"missing" read the same everywhere and that grading.log keeps both runs and no warning for an
honest submission.
"""
import csv
import datetime as dt
import math
import subprocess
import sys
from types import SimpleNamespace as NS

import nbformat
import pytest

from course import ROOT
from course.grading import deadlines, ledger
from course.instructor import lms
from course.grading.gradebook import nbgrader_api
from course.authoring.release import release
from submissions import meta, points, reference_sources, with_solutions

pytestmark = pytest.mark.sandbox

AID = "01-gradient-descent"
UTC = dt.timezone.utc
DUE = dt.datetime(2026, 9, 14, 21, 59, tzinfo=UTC)  # 23:59 in Zurich (summer time)
HOUR = dt.timedelta(hours=1)
# student -> when the exchange (or the LMS download) says it was handed in (None: no timestamp.txt)
SUBMITTED = {
    "s-ontime": DUE - HOUR,
    "s-late": DUE + 34 * HOUR,  # 1 day 10 hours: 2 days as the policy counts
    "s-capped": DUE + 100 * HOUR,  # 5 days: 50 %, capped at 30 %
    "s-extended": DUE + 34 * HOUR,  # as late as s-late, with an extension to the 17th
    "s-hard": DUE + 180 * HOUR,  # 7.5 days: past zero_after_days, and still after the due date moves a day
    "s-tampered": None,  # edits a locked check cell (no timestamp: never late)
}
FIRST_RUN = f"""
timezone = "Europe/Zurich"
[late]
per_day = 10
cap = 30
zero_after_days = 6
[assignments.{AID}]
due = 2026-09-14T23:59:00
extensions = {{ s-extended = 2026-09-17T23:59:00 }}
"""
# A day later due date for everybody, and s-capped is granted 10 days.
SECOND_RUN = FIRST_RUN.replace("due = 2026-09-14T23:59:00", "due = 2026-09-15T23:59:00").replace(
    "{ s-extended = 2026-09-17T23:59:00 }", "{ s-extended = 2026-09-17T23:59:00, s-capped = 10 }")
ROSTER = [("student_id", "name", "email", "login", "sis_id")] + [
    (s, s.title(), f"{s}@example.edu", s, f"S{n}") for n, s in enumerate(list(SUBMITTED) + ["s-broken", "s-absent"])]


def percent_lost(late_by, zero_after_days=6, per_day=10, cap=30):
    """The policy above, written out: days or part of one, per_day each, capped, zero past the hard limit."""
    if late_by <= dt.timedelta(0):
        return 0
    if late_by > dt.timedelta(days=zero_after_days):
        return 100
    return min(cap, per_day * math.ceil(late_by / dt.timedelta(days=1)))


def grade(root):
    run = subprocess.run([sys.executable, "-m", "course", "grade", "--root", str(root), "--workers", "2"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stdout + run.stderr  # 1: s-broken could not be graded
    return NS(run=run, report=read_csv(root / "report.csv"), grades=read_csv(root / "grades.csv"),
              canvas=read_csv(root / lms.CANVAS_FILE, header=False), moodle=read_csv(root / lms.MOODLE_FILE),
              html=(root / "report.html").read_text())


def read_csv(path, header=True):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle)) if header else list(csv.reader(handle))


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("late-course")
    release(AID, nbgrader_api(root), chapters=root / "chapters")
    released = nbformat.read(root / "release" / AID / f"{AID}.ipynb", as_version=4)
    right = with_solutions(released, reference_sources(AID))
    tampered = with_solutions(released, reference_sources(AID))
    check = next(c for c in tampered.cells if meta(c).get("grade_id") == "test_fun_dz")
    check.source = check.source.replace("checks.score()", "print('looks fine')\nchecks.score()")
    for student, moment in SUBMITTED.items():
        folder = root / "submitted" / student / AID
        folder.mkdir(parents=True)
        nbformat.write(tampered if student == "s-tampered" else right, folder / f"{AID}.ipynb")
        if moment is not None:  # as nbgrader's exchange writes it
            (folder / "timestamp.txt").write_text(moment.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
    broken = root / "submitted" / "s-broken" / AID / f"{AID}.ipynb"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"cells": [')
    with open(root / "roster.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(ROSTER)
    (root / "deadlines.toml").write_text(FIRST_RUN)
    first = grade(root)
    log_after_first = (root / "grading.log").read_text()
    keys_after_first = {s: ledger_deadline(root, s) for s in SUBMITTED}
    (root / "deadlines.toml").write_text(SECOND_RUN)
    second = grade(root)
    return NS(root=root, top=sum(points(released).values()), first=first, second=second,
              log_after_first=log_after_first, keys_after_first=keys_after_first)


def ledger_deadline(root, student):
    return ledger.read(root, AID, student)["key"]["deadline"]


def expected_scores(top, due, extensions):
    """{student: (percent lost, score after the penalty)} for the graded students."""
    result = {}
    for student, moment in SUBMITTED.items():
        lost = 0 if moment is None else percent_lost(moment - (due + extensions.get(student, dt.timedelta(0))))
        result[student] = (lost, top * (100 - lost) / 100)
    return result


FIRST = dict(due=DUE, extensions={"s-extended": dt.timedelta(days=3)})
SECOND = dict(due=DUE + dt.timedelta(days=1), extensions={"s-extended": dt.timedelta(days=2), "s-capped": dt.timedelta(days=10)})


@pytest.mark.parametrize("run, dates", [("first", FIRST), ("second", SECOND)])
def test_penalties_in_every_csv(batch, run, dates):
    result = getattr(batch, run)
    expected = expected_scores(batch.top, **dates)
    assert {s: lost for s, (lost, _) in expected.items()} == (
        {"s-ontime": 0, "s-late": 20, "s-capped": 30, "s-extended": 0, "s-hard": 100, "s-tampered": 0} if run == "first"
        else {"s-ontime": 0, "s-late": 10, "s-capped": 0, "s-extended": 0, "s-hard": 100, "s-tampered": 0})
    report = {r["student_id"]: r for r in result.report}
    grades = {r["student_id"]: r for r in result.grades}
    canvas = {row[0]: row[5] for row in result.canvas[2:]}
    moodle = {r["Email address"]: r for r in result.moodle}
    for student, (lost, score) in expected.items():
        penalty = batch.top - score
        assert float(report[student]["score"]) == pytest.approx(score), (student, report[student])
        assert float(report[student]["late_penalty"]) == pytest.approx(penalty), report[student]
        assert float(grades[student]["score"]) == pytest.approx(score), grades[student]
        assert float(grades[student]["raw_score"]) == pytest.approx(batch.top)
        assert float(grades[student]["late_submission_penalty"]) == pytest.approx(penalty)
        assert float(canvas[student.title()]) == pytest.approx(score), student
        row = moodle[f"{student}@example.edu"]
        assert float(row[AID]) == pytest.approx(score)
        if penalty:
            assert row[f"{AID} feedback"] == deadlines.describe(
                (SUBMITTED[student] - dates["due"] - dates["extensions"].get(student, dt.timedelta(0))).total_seconds(),
                penalty) and f"-{penalty:g} points" in row[f"{AID} feedback"]
            assert f"LATE {AID} {student}: " in result.run.stdout
        else:
            assert row[f"{AID} feedback"] == "" and f"LATE {AID} {student}:" not in result.run.stdout


def test_penalties_in_report_html_and_feedback(batch):
    for result, late in ((batch.first, {"s-late": 20, "s-capped": 30, "s-hard": 100}),
                         (batch.second, {"s-late": 10, "s-hard": 100})):
        rows = [a for a in Page(result.html).rows if "data-days-late" in a]
        assert {a["data-student"]: float(a["data-penalty"]) for a in rows} == pytest.approx(
            {s: batch.top * p / 100 for s, p in late.items()})
    page = (batch.root / "feedback" / "s-late" / AID / f"{AID}.html").read_text()
    assert f"Late submission penalty (Score: -{round(batch.top * 0.1, 2)}" in page  # the second run's
    assert "Late submission penalty" not in (batch.root / "feedback" / "s-ontime" / AID / f"{AID}.html").read_text()


def test_a_changed_deadline_regrades_exactly_those_it_changes(batch):
    """The ledger's key holds each student's own deadline: it changed for every submission whose
    due date moved, not for s-extended, whose extension is to the same date, and those were
    graded again (not taken as unchanged)."""
    changed = {s for s in SUBMITTED if batch.keys_after_first[s] != ledger_deadline(batch.root, s)}
    assert changed == set(SUBMITTED) - {"s-extended"}
    progress = [line for line in batch.second.run.stdout.splitlines() if line.startswith("[")]
    for student in changed:
        [line] = [line for line in progress if f" {student}: " in line]
        assert "unchanged since graded" not in line, line


def test_not_graded_and_missing_read_the_same_everywhere(batch):
    result = batch.second
    report = {r["student_id"]: r for r in result.report}
    grades = {r["student_id"]: r for r in result.grades}
    canvas = {row[0]: row[5] for row in result.canvas[2:]}
    moodle = {r["Email address"]: r for r in result.moodle}
    for student, word in (("s-broken", "not graded"), ("s-absent", "missing")):
        assert report[student]["status"] == grades[student]["status"] == word
        assert report[student]["score"] == grades[student]["score"] == canvas[student.title()] == \
            moodle[f"{student}@example.edu"][AID] == ""
        assert moodle[f"{student}@example.edu"][f"{AID} feedback"].startswith(word)
    # the summary counts what report.html lists
    assert "6 graded, 1 not graded, 1 missing" in result.run.stdout
    section = next(a for a in Page(result.html).rows if a.get("data-assignment") == AID and "data-graded" in a)
    assert (section["data-graded"], section["data-not-graded"], section["data-missing"]) == ("6", "1", "1")
    assert f"MISSING {AID} s-absent" in result.run.stdout and f"NOT GRADED {AID} s-broken" in result.run.stdout


def test_only_released_assignments_are_listed(batch):
    for result in (batch.first, batch.second):
        assert {r["assignment"] for r in result.grades} == {AID}
        assert {r["assignment_id"] for r in result.report} == {AID}
        assert result.canvas[0][5:] == [AID]
        assert [h for h in result.moodle[0] if h not in ("Email address", "Full name")] == [AID, f"{AID} feedback"]
        assert "02-linear-regression" not in result.html


def test_grading_log_keeps_every_run_and_no_warning_for_honest_work(batch):
    log = (batch.root / "grading.log").read_text()
    assert log.startswith(batch.log_after_first), "the second run must append, not overwrite"
    headers = [line for line in log.splitlines() if " run 20" in line and "course grade" in line]
    assert len(headers) == 2 and all(f"assignments: {AID}" in h for h in headers), headers
    # only for the student who edited a locked cell, once per run (nbgrader's log of that
    # submission repeats the line)
    changed = [line for line in log.splitlines() if "WARNING traitlets: " in line and "has changed!" in line]
    assert len(changed) == 2 and all("Attribute 'checksum' for cell test_fun_dz" in line for line in changed), changed
    tampered = batch.root / "autograded" / "s-tampered" / AID / f"{AID}.ipynb"
    assert "looks fine" not in tampered.read_text(), "the edited check cell is restored"


class Page:
    """Every element's attributes of report.html, as dicts with 'tag'."""

    def __init__(self, text):
        import html.parser

        rows = self.rows = []

        class Parser(html.parser.HTMLParser):
            def handle_starttag(self, tag, attrs):
                rows.append(dict(attrs, tag=tag))

        Parser().feed(text)


# --- the policy and the file, without grading ------------------------------------------------

def test_policy_arithmetic():
    policy = deadlines.Policy(per_day=10, cap=30, zero_after_days=6)
    day = deadlines.DAY
    assert [policy.percent(s) for s in (0, 1, day, day + 1, 5 * day, 6 * day, 6 * day + 1)] == \
        [0, 10, 10, 20, 30, 30, 100]
    assert deadlines.Policy(zero_after_days=0).percent(1) == 100
    assert deadlines.Policy(per_day=15).percent(10 * day) == 100


def test_deadlines_file_errors_are_clear(tmp_path):
    cases = {
        'timezone = "Mars/Olympus"': "unknown timezone",
        "[late]\nper_day = -1": "must be a number >= 0",
        "[late]\nper_day = 150": "at most 100",
        "[assignments.A]\ndue = 2026-13-01T00:00:00": "deadlines.toml: ",  # TOML itself rejects it
        '[assignments.A]\ndue = "next monday"': "is not a date and time",
        "[assignments.A]\nextensions = { s1 = 2 }": "no due date",
        "[assignments.A]\ndue = 2026-09-14T23:59:00\nextensions = { s1 = 2026-09-01T00:00:00 }": "before the due date",
        "[assignment.A]\ndue = 2026-09-14T23:59:00": "unknown key",
    }
    for text, message in cases.items():
        (tmp_path / deadlines.FILE_NAME).write_text(text)
        with pytest.raises(deadlines.DeadlineError, match=message):
            deadlines.load(tmp_path)


def test_the_committed_deadlines_file_reads():
    table = deadlines.load(ROOT / "autograders")
    assert table.policy.per_day > 0
