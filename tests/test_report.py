"""The instructor's view of a batch: report.html, the LMS exports, a clean terminal.

One small batch of 01-gradient-descent is graded once, through `course grade` as an
instructor runs it, with a known mix of answers: the reference, the untouched stub, only the
first exercise done (and the second check cell deleted, which nbgrader puts back), a broken
file, and a student missing from the roster; the roster also lists a student who submitted
nothing. Every test below reads that one batch. The expected numbers come from how the
answers were built and from the check cells' source, never from the code under test.
"""
import base64
import csv
import html.parser
import os
import re
import shutil
import struct
import subprocess
import sys
from types import SimpleNamespace as NS

import nbformat
import pytest

from course import ROOT
from course.instructor import lms, report
from course.grading.gradebook import nbgrader_api
from course.grading.batch import Outcome
from course.authoring.release import release
from course.grading.preprocessors.verdict import split_check_cell
from nbgrader.api import Gradebook
from submissions import meta, points, reference_sources, with_solutions

pytestmark = pytest.mark.sandbox

AID = "01-gradient-descent"
FIRST, SECOND = "fun_dz", "gradient_descent"  # the assignment's exercises, in order
ROSTER = [  # student_id, name, email, login, sis_id
    ("s-ref", "Ada Reference", "ada@example.edu", "aref", "S001"),
    ("s-stub", "Bo Stub", "bo@example.edu", "bstub", "S002"),
    ("s-one", "Cy One", "cy@example.edu", "cone", "S003"),
    ("s-broken", "Di Broken", "di@example.edu", "dbroken", "S004"),
    ("s-absent", "Ed Absent", "ed@example.edu", "eabsent", "S005"),  # submits nothing
]
NOISE = ["SAWarning", "MissingIDFieldWarning", "without encryption", "Ctrl-C will not work",
         "not in session, add operation", "Cell is missing an id field", "Unwritable directory",
         "not recognized"]


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("report-course")
    release(AID, nbgrader_api(root), chapters=root / "chapters")
    released = nbformat.read(root / "release" / AID / f"{AID}.ipynb", as_version=4)
    reference = reference_sources(AID)
    one = with_solutions(released, {FIRST: reference[FIRST]})
    one.cells = [c for c in one.cells if meta(c).get("grade_id") != f"test_{SECOND}"]  # nbgrader puts it back
    submissions = {"s-ref": with_solutions(released, reference), "s-stub": released, "s-one": one,
                   "s-broken": '{"cells": [', "x-unlisted": with_solutions(released, reference)}
    for sid, content in submissions.items():
        path = root / "submitted" / sid / AID / f"{AID}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(content) if isinstance(content, str) else nbformat.write(content, path)
    roster = root / "class-list.csv"
    with open(roster, "w", newline="") as handle:
        csv.writer(handle).writerows([("student_id", "name", "email", "login", "sis_id")] + ROSTER)
    run = subprocess.run([sys.executable, "-m", "course", "grade", AID, "--root", str(root), "--workers", "2",
                          "--roster", str(roster)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stdout + run.stderr  # 1: s-broken could not be graded
    return NS(root=root, run=run, released=released, roster=roster)


def verdicts(root, student):
    nb = nbformat.read(root / "autograded" / student / AID / f"{AID}.ipynb", as_version=4)
    return [(meta(c)["grade_id"], c.metadata["course"]["verdict"]) for c in nb.cells if meta(c).get("grade")]


def test_plain_nbgrader_autograde_with_the_course_config_grades_the_same(batch, tmp_path):
    """autograders/nbgrader_config.py declares the whole grading pipeline: `nbgrader autograde`,
    run where the config is, gives the scores and verdicts `course grade` gave (a restored
    check cell included: s-one deleted one)."""
    students = ["s-ref", "s-stub", "s-one"]
    copy = tmp_path / "course"
    for student in students:
        shutil.copytree(batch.root / "submitted" / student, copy / "submitted" / student)
    shutil.copytree(batch.root / "release", copy / "release")
    shutil.copy(batch.root / "gradebook.db", copy / "gradebook.db")  # the assignment as released
    with Gradebook(f"sqlite:///{copy / 'gradebook.db'}") as gb:
        for submission in list(gb.find_assignment(AID).submissions):
            gb.remove_submission(AID, submission.student.id)  # nothing graded in the copy
    # A cell pasted from another notebook, markings without a grade_id: nbgrader alone stops on it.
    pasted = nbformat.read(copy / "submitted" / "s-ref" / AID / f"{AID}.ipynb", as_version=4)
    pasted.cells.append(nbformat.v4.new_code_cell("print('pasted')", metadata={"nbgrader": {"solution": True}}))
    (copy / "submitted" / "s-pasted" / AID).mkdir(parents=True)
    nbformat.write(pasted, copy / "submitted" / "s-pasted" / AID / f"{AID}.ipynb")
    deadlines = copy / "deadlines.toml"
    deadlines.write_text("")
    nbgrader = os.path.join(os.path.dirname(sys.executable), "nbgrader")
    run = subprocess.run([nbgrader, "autograde", AID, f"--CourseDirectory.root={copy}",
                          f"--CourseDirectory.db_url=sqlite:///{copy / 'gradebook.db'}",
                          f"--LatePenalty.deadlines_file={deadlines}", f"--SyncDeadlines.deadlines_file={deadlines}"],
                         cwd=ROOT / "autograders", capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    with Gradebook(f"sqlite:///{copy / 'gradebook.db'}") as plain, \
            Gradebook(f"sqlite:///{batch.root / 'gradebook.db'}") as ours:
        for student in students:
            assert plain.find_submission(AID, student).score == ours.find_submission(AID, student).score, student
    for student in students:
        assert verdicts(copy, student) == verdicts(batch.root, student), student
    assert verdicts(copy, "s-pasted") == verdicts(copy, "s-ref")
    full = points(batch.released)
    assert [(name, v["score"]) for name, v in verdicts(copy, "s-ref")] == [(name, full[name]) for name in full]



def test_the_course_config_is_the_config_file_with_only_paths_and_sandbox_mode_moved():
    """`course grade` runs exactly the steps autograders/nbgrader_config.py declares."""
    from traitlets.config.loader import PyFileConfigLoader

    from course.grading.gradebook import nbgrader_config

    declared = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT / "autograders")).load_config()
    used = nbgrader_config(root="/elsewhere")
    for section in ("Autograde", "GenerateFeedback", "Execute", "SandboxedExecute", "JudgeChecks", "AssignLatePenalties"):
        assert used[section] == declared[section], section
    assert used.CourseDirectory.root == "/elsewhere" and used.LatePenalty.deadlines_file == "/elsewhere/deadlines.toml"


class Page(html.parser.HTMLParser):
    """Every element's attributes, and each failure message (<li data-count>) under its check row."""

    def __init__(self, text):
        super().__init__()
        self.elements, self.messages, self.row, self.li = [], {}, None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs))
        if tag == "tr" and attrs.get("class") == "check":
            self.row = (attrs["data-cell"], attrs["data-label"])
        elif tag == "li" and "data-count" in attrs and self.row:
            self.li = [int(attrs["data-count"]), ""]

    def handle_data(self, data):
        if self.li is not None:
            self.li[1] += data

    def handle_endtag(self, tag):
        if tag == "li" and self.li is not None:
            count, text = self.li
            self.messages.setdefault(self.row, {})[text.split("×", 1)[1].strip()] = count
            self.li = None

    def rows(self, tag="tr", **data):
        return [a for t, a in self.elements if t == tag
                and all(a.get(f"data-{k.replace('_', '-')}") == v for k, v in data.items())]


def check_labels(released, cell):
    """The labels of a check cell's checks, read from its source (hidden ones from solutions/)."""
    from course import source_notebook
    source = next(c.source for c in nbformat.read(source_notebook(AID), as_version=4).cells
                  if meta(c).get("grade_id") == cell)
    return [check["label"] for check in split_check_cell(source)[0]["checks"]]


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


# --- report.html on the real batch ---------------------------------------------------------

def test_report_is_written_and_named_in_the_summary(batch):
    assert (batch.root / "report.html").is_file()
    assert f"report: {batch.root / 'report.html'}" in batch.run.stdout


def test_report_numbers(batch):
    page = Page((batch.root / "report.html").read_text())
    pts = points(batch.released)
    top = sum(pts.values())
    [section] = page.rows("section", assignment=AID)
    # s-absent, on the roster with no submission, is missing here as in the printed summary
    assert (section["data-graded"], section["data-not-graded"], section["data-missing"]) == ("4", "1", "1")
    assert "4 graded, 1 not graded, 1 missing" in batch.run.stdout
    # total scores: two full marks (s-ref, x-unlisted), one zero (s-stub), one first exercise only
    expected = {f"{top:g}": "2", "0": "1", f"{pts[f'test_{FIRST}']:g}": "1"}
    assert {a["data-score"]: a["data-count"] for a in page.rows("tr") if "data-score" in a} == expected
    # exercises: full marks for FIRST from s-ref, s-one, x-unlisted; for SECOND from s-ref, x-unlisted
    for cell, full in ((f"test_{FIRST}", "3"), (f"test_{SECOND}", "2")):
        [row] = [a for a in page.rows(cell=cell, exercise=cell.removeprefix("test_")) if a.get("class") == "exercise"]
        assert (row["data-full"], row["data-graded"], row["data-unknown"]) == (full, "4", "0"), row
    # checks: every check of the cell, in the cell's order, passed by exactly the right answers
    for cell, passed in ((f"test_{FIRST}", 3), (f"test_{SECOND}", 2)):
        rows = [a for a in page.rows("tr") if a.get("class") == "check" and a["data-cell"] == cell]
        assert [a["data-label"] for a in rows] == check_labels(batch.released, cell)
        for a in rows:
            assert (int(a["data-passed"]), int(a["data-failed"]), a["data-unknown"]) == (passed, 4 - passed, "0"), a
            # every failure is a stub's, so one message (the checks' own for an unfinished
            # exercise, perhaps with a hint after it) counted once per stub
            [(message, count)] = page.messages[(cell, a["data-label"])].items()
            assert message.startswith("not implemented yet") and count == 4 - passed, (message, count)
    [broken] = page.rows(student="s-broken")
    text = (batch.root / "report.html").read_text()
    assert "not valid JSON" in text or "does not appear to be JSON" in text


def test_report_figures_are_embedded_pngs(batch):
    page = Page((batch.root / "report.html").read_text())
    images = page.rows("img")
    assert {a.get("class") for a in images} == {"histogram", "pass-rates", "similarity-histogram"}
    for a in images:
        assert a["src"].startswith("data:image/png;base64,")
        width, height = png_size(base64.b64decode(a["src"].split(",", 1)[1]))
        assert width > 100 and height > 100
    external = [a for t, a in page.elements if t in ("link", "script") or
                any(str(v).startswith(("http:", "https:", "//")) for v in a.values())]
    assert not external, f"report.html must not load anything: {external}"


@pytest.mark.browser
def test_report_opens_offline_in_chromium_with_every_image(batch):
    import browser

    with browser.serve(batch.root) as base, browser.chromium() as chrome:
        context = chrome.new_context(viewport=browser.VIEWPORT)
        page, log, status = browser.open_page(context, base + "report.html")
        assert status == 200
        assert page.locator("img").count() == 3  # scores, pass rates, pair similarities
        assert browser.check_images(page) == []
        assert log.problems() == [] and log.external == []
        context.close()


@pytest.mark.browser
def test_similar_submissions_section_in_chromium(batch):
    """s-ref and x-unlisted both submitted the reference solution: the same code, so the pair
    comes first at 1.00, shown side by side with the matching code marked; s-stub wrote nothing."""
    import browser

    rows = read_csv(batch.root / "similarity.csv")
    assert rows[0] == ["assignment", "student_a", "student_b", "similarity", "exercises"]
    assert rows[1][:4] == [AID, "s-ref", "x-unlisted", "1.000"] and SECOND in rows[1][4]
    assert not any("s-stub" in row for row in rows)
    assert "similar submissions" in batch.run.stdout
    with browser.serve(batch.root) as base, browser.chromium() as chrome:
        context = chrome.new_context(viewport=browser.VIEWPORT)
        page, log, status = browser.open_page(context, base + "report.html")
        section = page.locator("#similar-submissions")
        section.scroll_into_view_if_needed()
        shot = browser.SCREENSHOTS / "report__similar-submissions.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        section.screenshot(path=str(shot))
        width, height = png_size(shot.read_bytes())
        assert width > 400 and height > 300
        assert "plagiar" not in section.inner_text().lower() and "not a verdict" in section.inner_text()
        first = section.locator("table.similar-pairs tr.similar-pair").first
        assert [first.get_attribute(f"data-{k}") for k in ("student-a", "student-b", "similarity")] == \
            ["s-ref", "x-unlisted", "1.000"]
        assert first.locator("td").nth(3).inner_text() == "1.00"
        view = section.locator(f'.side-by-side[data-exercise="{SECOND}"]').first
        assert view.is_visible()
        left, right = (view.locator(f'pre.code[data-student="{s}"]') for s in ("s-ref", "x-unlisted"))
        a, b = left.bounding_box(), right.bounding_box()
        assert a["x"] + a["width"] <= b["x"] and abs(a["y"] - b["y"]) < 40, "side by side, not stacked"
        for code in (left, right):
            marks = code.locator("mark.match")
            assert marks.count() > 0 and marks.first.is_visible()
            assert "optimizer.step()" in " ".join(marks.all_inner_texts())  # the reference's own line
            assert "NotImplementedError" not in code.inner_text()
        assert log.problems() == [] and log.external == []
        context.close()


# --- the LMS exports ----------------------------------------------------------------------

def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_canvas_export(batch):
    pts = points(batch.released)
    top, first = sum(pts.values()), pts[f"test_{FIRST}"]
    rows = read_csv(batch.root / lms.CANVAS_FILE)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", AID]
    assert rows[1][0].strip() == "Points Possible" and float(rows[1][5]) == top
    body = {row[2]: row for row in rows[2:]}  # by SIS User ID
    assert [row[2] for row in rows[2:]] == [r[4] for r in ROSTER], "the roster's students, in its order"
    assert body["S001"][:4] == ["Ada Reference", "", "S001", "aref"]
    assert [body[s][5] for s in ("S001", "S002", "S003", "S004", "S005")] == \
        [f"{top:g}", "0", f"{first:g}", "", ""]  # broken and absent: no grade, left blank
    assert "x-unlisted" not in (batch.root / lms.CANVAS_FILE).read_text()


def test_moodle_export(batch):
    pts = points(batch.released)
    rows = read_csv(batch.root / lms.MOODLE_FILE)
    assert rows[0] == ["Email address", "Full name", AID, f"{AID} feedback"]
    grades = {row[0]: row[2] for row in rows[1:]}
    notes = {row[0]: row[3] for row in rows[1:]}
    assert notes["di@example.edu"].startswith("not graded: ") and notes["ed@example.edu"] == "missing"
    assert notes["ada@example.edu"] == "", "on time: nothing to say"
    assert grades == {"ada@example.edu": f"{sum(pts.values()):g}", "bo@example.edu": "0",
                      "cy@example.edu": f"{pts[f'test_{FIRST}']:g}", "di@example.edu": "", "ed@example.edu": ""}


def test_missing_zero_and_moodle_identifiers(batch, tmp_path):
    api = nbgrader_api(batch.root)
    with open(batch.root / "report.csv") as handle:
        outcomes = [Outcome(r["student_id"], r["assignment_id"], r["status"], float(r["score"] or 0))
                    for r in csv.DictReader(handle)]
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        paths, issues = lms.export(gb, tmp_path, batch.roster, [AID], outcomes, "zero", "idnumber")
    canvas, moodle = (read_csv(p) for p in paths)
    assert [row[5] for row in canvas[2:]][3:] == ["0", "0"]
    assert moodle[0][0] == "ID number" and [row[0] for row in moodle[1:]] == [r[4] for r in ROSTER]
    assert [row[2] for row in moodle[1:]][3:] == ["0", "0"]
    assert issues.no_submission == {AID: ["s-absent"]} and issues.unknown == {AID: ["x-unlisted"]}


def test_roster_mismatches_are_listed_not_dropped(batch):
    out = batch.run.stdout
    assert f"MISSING {AID} s-absent" in out
    assert f"NOT ON ROSTER {AID} x-unlisted" in out
    page = Page((batch.root / "report.html").read_text())
    assert [a["data-student"] for a in page.rows(kind="no-submission")] == ["s-absent"]
    assert [a["data-student"] for a in page.rows(kind="unknown")] == ["x-unlisted"]


def test_a_broken_roster_stops_the_batch_before_grading(tmp_path):
    bad = tmp_path / "roster.csv"
    bad.write_text("email,name\nada@example.edu,Ada\n")
    with pytest.raises(lms.RosterError, match="no student_id column"):
        lms.read_roster(bad)
    bad.write_text("student_id\ns1\ns1\n")
    with pytest.raises(lms.RosterError, match="appears twice"):
        lms.read_roster(bad)


# --- the terminal and the log -------------------------------------------------------------

def test_terminal_shows_progress_and_summary_only(batch):
    out, err = batch.run.stdout, batch.run.stderr
    found = [n for n in NOISE if n in out or n in err]
    assert not found, f"noise on the terminal: {found}\n--- stderr ---\n{err[-3000:]}"
    assert err == "", f"nothing went wrong in this batch, yet stderr says:\n{err[-3000:]}"
    assert [line for line in out.splitlines() if line.startswith("[")][-1].startswith("[6/6] ")
    assert f"full log: {batch.root / 'grading.log'}" in out


def test_the_log_file_keeps_everything(batch):
    text = (batch.root / "grading.log").read_text()
    assert "SAWarning" in text, "library warnings are kept in the log, not thrown away"
    assert "nbgrader autograde 01-gradient-descent s-ref" in text
    assert "Missing grade cell test_gradient_descent" in text  # nbgrader's own log of s-one
    assert "MissingIDFieldWarning" not in text, "a restored cell must get an id (course.grading.preprocessors.cells.OverwriteCellsWithIds)"
    assert "has changed!" not in text, "no tampering warning for check cells as released (course.grading.logs)"


def test_noise_filter_is_precise():
    from sqlalchemy.exc import SAWarning

    from course.grading.logs import is_library_noise
    message = ("Object of type <SubmittedAssignment> not in session, add operation along "
               "'Student.submissions' will not proceed (This warning originated ...)")
    assert is_library_noise(SAWarning, "nbgrader.api", message)
    assert not is_library_noise(SAWarning, "course.grading.batch", message)
    assert not is_library_noise(UserWarning, "nbgrader.api", message)
    assert not is_library_noise(SAWarning, "nbgrader.api", "DELETE statement on table 'notebook' expected to delete")


# --- report.collect on synthetic verdicts (no grading) --------------------------------------

def autograded(root, student, cells):
    """An autograded notebook whose check cells carry the given verdicts (None: no verdict)."""
    nb = nbformat.v4.new_notebook()
    for grade_id, verdict in cells.items():
        cell = nbformat.v4.new_code_cell("checks.score()")
        cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": grade_id,
                                     "points": 1}
        if verdict is not None:
            cell.metadata["course"] = {"verdict": verdict}
        nb.cells.append(cell)
    path = root / "autograded" / student / "A" / "nb.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)


def verdict(score, *checks, problem=None):
    return {"exercise": "ex_a", "points": 2.0, "score": score, "problem": problem,
            "checks": [{"label": label, "hidden": hidden, "passed": message is None, "message": message or ""}
                       for label, hidden, message in checks]}


def test_collect_counts_synthetic_verdicts(tmp_path):
    grades = {"u1": (2, 0), "u2": (0, 0), "u3": (0, 1), "u4": (0, 0)}  # (test_a, test_b) scores
    autograded(tmp_path, "u1", {"test_a": verdict(2, ("x", False, None), ("y", True, None)),
                                "test_b": {"exercise": "ex_b", "points": 1.0, "score": 0.0, "checks": [],
                                           "problem": "the check cell reported no answers"}})
    autograded(tmp_path, "u2", {"test_a": verdict(0, ("x", False, "too big"), ("y", True, None)), "test_b": None})
    autograded(tmp_path, "u3", {"test_a": verdict(0, ("x", False, "too big"), ("y", True, "wrong type")),
                                "test_b": {"exercise": "ex_b", "points": 1.0, "score": 1.0, "problem": None,
                                           "checks": [{"label": "z", "hidden": False, "passed": True, "message": ""}]}})
    # u4's autograded notebook is gone: every cell unknown
    cells = [NS(name="test_a", max_score=2), NS(name="test_b", max_score=1)]
    assignment = NS(max_score=3, notebooks=[NS(name="nb", grade_cells=cells, solution_cells=[NS(name="a")])],
                    submissions=[NS(student_id=s, score=a + b, notebooks=[
                        NS(name="nb", grades=[NS(name="test_a", score=a), NS(name="test_b", score=b)])])
                                 for s, (a, b) in grades.items()])
    outcomes = [Outcome(s, "A", "graded") for s in grades] + [
        Outcome("u5", "A", "not graded", message="the notebook file is empty"), Outcome("u6", "A", "missing")]
    [view] = report.collect(NS(find_assignment=lambda name: assignment), tmp_path, ["A"], outcomes)

    def counts(cell, label):
        c = view.checks[(cell, label)]
        return c.passed, c.failed, c.unknown, dict(c.messages)

    assert counts("test_a", "x") == (1, 2, 1, {"too big": 2})
    assert counts("test_a", "y") == (2, 1, 1, {"wrong type": 1})
    assert counts("test_b", "z") == (1, 1, 2, {"the whole cell scored 0: the check cell reported no answers": 1})
    assert view.checks[("test_a", "y")].hidden and not view.checks[("test_a", "x")].hidden
    assert (view.exercises["test_a"].name, view.exercises["test_a"].full, view.exercises["test_a"].unknown) == ("ex_a", 1, 1)
    assert dict(view.exercises["test_b"].problems) == {"the check cell reported no answers": 1}
    assert view.not_graded == [("u5", "the notebook file is empty")] and view.missing == ["u6"]

    path = report.write_html([view], tmp_path / "report.html")
    page = Page(path.read_text())
    [row] = page.rows(cell="test_a", label="x")
    assert (row["data-passed"], row["data-failed"], row["data-unknown"], row["data-hidden"]) == ("1", "2", "1", "0")
    assert page.messages[("test_a", "x")] == {"too big": 2}
    assert [a["data-student"] for a in page.rows(student="u5")] == ["u5"]
    assert len(page.rows("img")) == 2


FEEDBACK_JS = """() => ({
    cut: Array.from(document.querySelectorAll('pre'))
              .filter(p => p.offsetParent !== null && p.scrollWidth > p.clientWidth + 1)
              .map(p => p.textContent.slice(0, 80)),
    math: Array.from(document.querySelectorAll('math')).map(m => {
        const box = m.getBoundingClientRect(); return [box.width, box.height]; }),
    text: document.body.innerText,
    prose: Array.from(document.querySelectorAll('.text_cell_render')).map(e => e.innerText).join('\\n'),
})"""


@pytest.mark.browser
def test_feedback_pages_read_well_offline_in_chromium(batch):
    """Each student's feedback page on a narrow screen with the network blocked: no line is cut
    (every <pre> wraps: its scrollWidth is its clientWidth), math is typeset (MathML, laid out
    with a size) with no raw TeX left, no figure appears as its text stand-in, the setup
    cell's code is left out, nothing is loaded from outside, and axe-core finds no serious or
    critical accessibility violation."""
    import browser

    pages = sorted((batch.root / "feedback").glob(f"*/{AID}/{AID}.html"))
    assert [p.parts[-3] for p in pages] == ["s-one", "s-ref", "s-stub", "x-unlisted"], pages  # s-broken: not graded
    inaccessible = {}
    with browser.serve(batch.root) as base, browser.chromium() as chrome:
        context = chrome.new_context(viewport={"width": 760, "height": 900})
        for path in pages:
            rel = path.relative_to(batch.root).as_posix()
            page, log, status = browser.open_page(context, base + rel)
            assert status == 200
            state = page.evaluate(FEEDBACK_JS)
            assert state["cut"] == [], f"{rel}: lines cut at the box's edge: {state['cut'][:3]}"
            assert len(state["math"]) > 20 and all(w > 0 and h > 0 for w, h in state["math"]), rel
            assert state["prose"] and not re.search(r"\\[a-z]+|\$\S", state["prose"]), f"{rel}: raw TeX in the prose"
            assert "<Figure size" not in state["text"] and "def seed_everything" not in state["text"], rel
            assert log.external == [] and log.problems() == [], (log.external, log.problems())
            inaccessible[rel] = browser.check_accessibility(page)
            browser.screenshot(page, rel)  # feedback__<student>__...png
            page.close()
        context.close()
    inaccessible = {rel: found for rel, found in inaccessible.items() if found}
    assert not inaccessible, "\n".join(f"{rel}:\n  " + "\n  ".join(found) for rel, found in inaccessible.items())
