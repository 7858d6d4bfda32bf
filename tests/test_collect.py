"""LMS downloads as they come, and notebooks as students really hand them in.

Canvas's "Download Submissions" and Moodle's "Download all submissions", in their own
layouts (zip and unpacked folder), collected with course.instructor.collect through the LMS's own
rosters (Canvas's gradebook export, Moodle's grading worksheet); then one grading batch of
every case: late, resubmitted, renamed (Colab's "Copy of"), unmatched, a deleted setup cell,
a copied check cell, a cell pasted from another assignment, two candidate notebooks.
"""
import copy
import csv
import io
import re
import uuid
import zipfile

import nbformat
import pytest

from course import source_notebook
from course.instructor import collect, lms
from course.grading.gradebook import nbgrader_api
from course.grading.batch import grade_batch
from course.authoring.release import release
from nbgrader.api import Gradebook
from submissions import meta, points, reference_sources, with_solutions

pytestmark = pytest.mark.sandbox

AID = "01-gradient-descent"
WANTED = f"{AID}.ipynb"
CANVAS_EXPORT = """Student,ID,SIS User ID,SIS Login ID,Section,01 Gradient descent (4411),Current Score
    Points Possible,,,,,6,
"Lovelace, Ada",1001,S0001,alovelace,Tuesday lab,,
"Hopper, Grace",1002,S0002,ghopper,Tuesday lab,,
"Turing, Alan",1003,S0003,,Thursday lab,,
"""
MOODLE_WORKSHEET = """Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,Last modified (submission),Last modified (grade),Feedback comments
Participant 201,Katherine Johnson,kjohnson@example.edu,Submitted for grading,,6.00,Yes,"Monday, 2 March 2026, 10:00 AM",-,
Participant 202,Dorothy Vaughan,dvaughan@example.edu,Submitted for grading,,6.00,Yes,"Monday, 2 March 2026, 11:00 AM",-,
Participant 203,Mary Jackson,mjackson@example.edu,Submitted for grading,,6.00,Yes,"Monday, 2 March 2026, 11:30 AM",-,
Participant 204,Annie Easley,aeasley@example.edu,Submitted for grading,,6.00,Yes,"Monday, 2 March 2026, 11:45 AM",-,
Participant 205,Mae Jemison,mjemison@example.edu,No submission,,6.00,Yes,-,-,
"""


def colab(nb, name):
    """The notebook as Colab saves it: nbformat 4.0, ids in cell metadata, outputIds, Colab's metadata."""
    nb = copy.deepcopy(nb)
    nb.nbformat_minor = 0
    nb.metadata = nbformat.from_dict({"colab": {"provenance": [], "name": name, "toc_visible": True},
                                      "kernelspec": {"name": "python3", "display_name": "Python 3"},
                                      "language_info": {"name": "python"}})
    for cell in nb.cells:
        cell.metadata["id"] = cell.pop("id", None) or uuid.uuid4().hex[:12]
        for output in cell.get("outputs", []):
            output.setdefault("metadata", {})["outputId"] = str(uuid.uuid4())
    return nb


def text(nb):
    return nbformat.writes(nb).encode()


def zipped(path, files, stamp=(2026, 3, 2, 10, 0, 0)):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, stamp), data)
    return path


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A released assignment, its notebooks as students hand them in, and the LMS downloads."""
    root = tmp_path_factory.mktemp("course")
    release(AID, nbgrader_api(root), chapters=root / "chapters")
    released = nbformat.read(root / "release" / AID / WANTED, as_version=4)
    right = with_solutions(released, reference_sources(AID))
    first_only = with_solutions(released, {"fun_dz": reference_sources(AID)["fun_dz"]})
    no_setup = copy.deepcopy(right)
    no_setup.cells = [c for c in no_setup.cells if meta(c).get("grade_id") != "setup"]
    copied_check = copy.deepcopy(right)
    check = next(c for c in copied_check.cells if meta(c).get("grade_id") == "test_fun_dz")
    copied_check.cells.append(copy.deepcopy(check))
    copied_check.cells[-1].id = "pasted-copy"
    pasted = copy.deepcopy(right)
    foreign = next(c for c in nbformat.read(source_notebook("02-linear-regression"), as_version=4).cells
                   if meta(c).get("grade_id") == "test_mse")
    foreign = nbformat.v4.new_code_cell("checks = Checks('mse')\nchecks.score()", metadata=foreign.metadata)
    unnamed = nbformat.v4.new_code_cell("print('a cell the nbgrader toolbar marked')",
                                        metadata={"nbgrader": {"grade": False, "solution": False, "locked": True}})
    pasted.cells[12:12] = [foreign, unnamed]
    canvas = {
        "lovelaceada_1001_55501_01-gradient-descent.ipynb": text(right),
        "lovelaceada_1001_55501_notes.pdf": b"%PDF-1.4 not a notebook",
        "hoppergrace_LATE_1002_55502_01-gradient-descent-1.ipynb": text(released),
        "hoppergrace_LATE_1002_55502_01-gradient-descent-2.ipynb": text(first_only),
        "turingalan_1003_55503_Copy of 01-gradient-descent.ipynb": text(colab(right, "Copy of " + WANTED)),
        "nobodyx_9999_55599_01-gradient-descent.ipynb": text(right),
    }
    moodle_folders = {
        f"Katherine Johnson_201_assignsubmission_file_/{WANTED}": text(colab(no_setup, WANTED)),
        f"Dorothy Vaughan_202_assignsubmission_file_/{WANTED}": text(copied_check),
        "Ghost Writer_299_assignsubmission_file_/" + WANTED: text(right),
    }
    moodle_flat = {
        f"Mary Jackson_203_assignsubmission_file_{WANTED}": text(pasted),
        f"Annie Easley_204_assignsubmission_file_Copy of {WANTED}": text(colab(right, "Copy of " + WANTED)),
        f"Annie Easley_204_assignsubmission_file_{AID} (1).ipynb": text(first_only),
        "Annie Easley_204_assignsubmission_onlinetext_onlinetext.html": b"<p>see my notebook</p>",
    }
    downloads = tmp_path_factory.mktemp("downloads")
    (downloads / "canvas-export.csv").write_text(CANVAS_EXPORT)
    (downloads / "moodle-worksheet.csv").write_text(MOODLE_WORKSHEET)
    zipped(downloads / "submissions.zip", canvas)
    folder = downloads / "moodle-folders"
    for name, data in moodle_folders.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    zipped(downloads / "moodle-flat.zip", moodle_flat)
    # A hub submission renamed in the student's folder: course.grading.batch recognises it by its cells.
    hub = root / "submitted" / "hub-renamed" / AID
    hub.mkdir(parents=True)
    (hub / f"{AID}-1.ipynb").write_bytes(text(right))
    full = sum(points(released).values())
    return {"root": root, "downloads": downloads, "released": released, "right": right, "full": full,
            "first": sum(p for name, p in points(released).items() if name.startswith("test_fun_dz"))}


@pytest.fixture(scope="module")
def collected(course):
    d, root = course["downloads"], course["root"]
    out = io.StringIO()
    found = collect.collect(d / "submissions.zip", AID, d / "canvas-export.csv", root, out)
    found += collect.collect(d / "moodle-folders", AID, d / "moodle-worksheet.csv", root, out)
    found += collect.collect(d / "moodle-flat.zip", AID, d / "moodle-worksheet.csv", root, out)
    print(out.getvalue())
    return {f.file: f for f in found}


@pytest.fixture(scope="module")
def graded(course, collected):
    """One batch grades every case (no sandbox: these notebooks are the test's own)."""
    out = io.StringIO()
    outcomes = grade_batch(course["root"], [AID], workers=2, sandbox=False, out=out,
                           roster=course["downloads"] / "moodle-worksheet.csv")
    print(out.getvalue())
    return {o.student: o for o in outcomes}


def submitted(root, student):
    return root / "submitted" / student / AID


def test_canvas_files_go_to_their_students(course, collected):
    root = course["root"]
    ada = collected["lovelaceada_1001_55501_01-gradient-descent.ipynb"]
    assert (ada.student, ada.status, ada.late) == ("alovelace", "collected", False)
    assert (submitted(root, "alovelace") / WANTED).read_bytes() == text(course["right"])
    pdf = collected["lovelaceada_1001_55501_notes.pdf"]
    assert (pdf.status, pdf.reason) == ("skipped", "not a notebook (notes.pdf)")
    older, newer = (collected[f"hoppergrace_LATE_1002_55502_01-gradient-descent-{n}.ipynb"] for n in (1, 2))
    assert (newer.student, newer.status, newer.late) == ("ghopper", "collected", True)
    assert older.status == "superseded" and newer.file in older.reason
    assert (submitted(root, "ghopper") / WANTED).read_bytes() == newer.data
    alan = collected["turingalan_1003_55503_Copy of 01-gradient-descent.ipynb"]
    assert (alan.student, alan.status) == ("1003", "collected"), "no SIS Login ID: Canvas's user id"
    assert "renamed" in alan.reason and [p.name for p in submitted(root, "1003").glob("*.ipynb")] == [WANTED]
    stranger = collected["nobodyx_9999_55599_01-gradient-descent.ipynb"]
    assert (stranger.status, stranger.reason) == ("skipped", "Canvas user 9999 (nobodyx) is not in the roster")
    assert not (root / "submitted" / "nobodyx").exists()


def test_timestamps_are_nbgraders_and_the_report_lists_every_file(course, collected):
    root = course["root"]
    stamp = (submitted(root, "alovelace") / "timestamp.txt").read_text()
    assert stamp == "2026-03-02 10:00:00.000000 UTC"
    with open(root / "downloaded" / AID / "collect.csv") as handle:
        rows = list(csv.DictReader(handle))
    # The report holds the last download collected (Moodle's flat zip), every file of it.
    assert sorted(r["file"] for r in rows) == sorted(f for f in collected if "assignsubmission" in f and "_/" not in f)
    assert all(r["status"] and (r["status"] in ("collected", "unchanged") or r["reason"]) for r in rows)


def test_moodle_files_go_to_their_students(course, collected):
    root = course["root"]
    katherine = collected[f"Katherine Johnson_201_assignsubmission_file_/{WANTED}"]
    assert (katherine.student, katherine.status) == ("kjohnson@example.edu", "collected")
    mary = collected[f"Mary Jackson_203_assignsubmission_file_{WANTED}"]
    assert (mary.student, mary.status) == ("mjackson@example.edu", "collected")
    annie = [f for name, f in collected.items() if name.startswith("Annie Easley") and name.endswith(".ipynb")]
    assert {f.status for f in annie} == {"collected"} and all("2 notebooks" in f.reason for f in annie)
    assert sorted(p.name for p in submitted(root, "aeasley@example.edu").glob("*.ipynb")) == \
        sorted([f"Copy of {WANTED}", f"{AID} (1).ipynb"])
    text_entry = collected["Annie Easley_204_assignsubmission_onlinetext_onlinetext.html"]
    assert text_entry.status == "skipped" and "not a notebook" in text_entry.reason
    ghost = collected[f"Ghost Writer_299_assignsubmission_file_/{WANTED}"]
    assert (ghost.status, ghost.reason) == ("skipped", "Moodle participant 299 (Ghost Writer) is not in the roster")


def test_every_case_is_graded_or_says_why(course, graded):
    full, first = course["full"], course["first"]
    expected = {"alovelace": full, "ghopper": first, "1003": full, "kjohnson@example.edu": full,
                "dvaughan@example.edu": full, "mjackson@example.edu": full, "hub-renamed": full}
    assert {s: (o.status, o.score) for s, o in graded.items() if s in expected} == \
        {s: ("graded", score) for s, score in expected.items()}
    annie = graded["aeasley@example.edu"]
    assert annie.status == "not graded"
    assert f"Copy of {WANTED}" in annie.message and f"{AID} (1).ipynb" in annie.message, annie.message


def test_what_was_restored_or_ignored_is_said(course, graded):
    assert "setup cell was missing" in graded["kjohnson@example.edu"].message
    assert "another copy of `test_fun_dz`" in graded["dvaughan@example.edu"].message
    mary = graded["mjackson@example.edu"].message
    assert "(`test_mse`) of no cell of this assignment" in mary and "(no name)" in mary, mary
    assert graded["hub-renamed"].message == f"graded {AID}-1.ipynb, a renamed copy of {WANTED}"
    assert graded["alovelace"].message == ""
    page = (course["root"] / "feedback" / "kjohnson@example.edu" / AID / f"{AID}.html").read_text()
    assert "Grader&#39;s note" in page or "Grader's note" in page
    with open(course["root"] / "report.csv") as handle:
        report = {row["student_id"]: row["message"] for row in csv.DictReader(handle)}
    assert "setup cell was missing" in report["kjohnson@example.edu"]


def test_the_moodle_worksheet_comes_back_filled_in(course, graded):
    with open(course["root"] / f"moodle_worksheet_{AID}.csv", newline="") as handle:
        rows = {row["Identifier"]: row for row in csv.DictReader(handle)}
    assert rows["Participant 201"]["Grade"] == f"{course['full']:g}"
    assert rows["Participant 204"]["Grade"] == "" and rows["Participant 205"]["Grade"] == ""
    assert rows["Participant 202"]["Last modified (submission)"] == "Monday, 2 March 2026, 11:00 AM"


def test_the_canvas_export_is_a_roster(course, graded):
    with Gradebook(f"sqlite:///{course['root']}/gradebook.db") as gb:
        lms.export(gb, course["root"], course["downloads"] / "canvas-export.csv", [AID], list(graded.values()))
    with open(course["root"] / lms.CANVAS_FILE, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["Student"].strip() == "Points Possible"
    assert {r["ID"]: r[AID] for r in rows[1:]} == {"1001": f"{course['full']:g}", "1002": f"{course['first']:g}",
                                                   "1003": f"{course['full']:g}"}


def test_a_second_download_grades_only_what_changed(course, graded, tmp_path):
    root, d = course["root"], course["downloads"]
    stamp = (submitted(root, "alovelace") / "timestamp.txt").read_text()
    unpacked = tmp_path / "submissions"
    with zipfile.ZipFile(d / "submissions.zip") as archive:
        archive.extractall(unpacked)  # file times: now, not the zip's
    again = {f.file: f for f in collect.collect(unpacked, AID, d / "canvas-export.csv", root, io.StringIO())}
    assert again["lovelaceada_1001_55501_01-gradient-descent.ipynb"].status == "unchanged"
    assert (submitted(root, "alovelace") / "timestamp.txt").read_text() == stamp
    right = text(course["right"])
    (unpacked / "hoppergrace_LATE_1002_55502_01-gradient-descent-3.ipynb").write_bytes(right)
    later = {f.file: f for f in collect.collect(unpacked, AID, d / "canvas-export.csv", root, io.StringIO())}
    assert later["hoppergrace_LATE_1002_55502_01-gradient-descent-3.ipynb"].status == "collected"
    assert [f.file for f in later.values() if f.status == "collected"] == \
        ["hoppergrace_LATE_1002_55502_01-gradient-descent-3.ipynb"]
    outcomes = {o.student: o for o in grade_batch(root, [AID], workers=2, sandbox=False, out=io.StringIO())}
    assert [s for s, o in outcomes.items() if o.status != "missing" and not o.unchanged] == ["ghopper"]
    assert outcomes["ghopper"].score == course["full"]


def test_roster_formats_are_told_apart(course, tmp_path):
    d = course["downloads"]
    canvas = lms.read_roster(d / "canvas-export.csv")
    assert list(canvas) == ["alovelace", "ghopper", "1003"]
    assert canvas["alovelace"]["canvas_id"] == "1001" and canvas["alovelace"]["name"] == "Lovelace, Ada"
    moodle = lms.read_roster(d / "moodle-worksheet.csv")
    assert moodle["kjohnson@example.edu"]["moodle_id"] == "201"
    bad = tmp_path / "bad.csv"
    bad.write_text("Identifier,Full name\nStudent 7,Someone\n")
    with pytest.raises(lms.RosterError, match="line 2: Identifier 'Student 7' is not 'Participant <number>'"):
        lms.read_roster(bad)


def test_no_roster_and_not_a_download_say_why(course, tmp_path):
    found = collect.collect(course["downloads"] / "submissions.zip", AID, None, course["root"], io.StringIO())
    assert {f.reason for f in found if f.file.endswith(".ipynb")} == {
        "no roster to find Canvas's lovelaceada (1001): pass --roster",
        "no roster to find Canvas's hoppergrace (1002): pass --roster",
        "no roster to find Canvas's turingalan (1003): pass --roster",
        "no roster to find Canvas's nobodyx (9999): pass --roster"}
    (tmp_path / "plain.txt").write_text("hello")
    with pytest.raises(collect.CollectError, match="neither a zip file nor a folder"):
        collect.collect(tmp_path / "plain.txt", AID, None, course["root"], io.StringIO())


def test_the_command_line(course, tmp_path, capsys):
    d = course["downloads"]
    assert collect.main([str(d / "moodle-folders"), "--assignment", AID, "--roster", str(d / "moodle-worksheet.csv"),
                         "--root", str(course["root"])]) == 0
    printed = capsys.readouterr().out
    assert re.search(f"(COLLECTED|UNCHANGED) +Katherine Johnson_201_assignsubmission_file_/{WANTED} "
                     "-> kjohnson@example.edu", printed), printed
    assert "SKIPPED     Ghost Writer_299_assignsubmission_file_/" in printed
    with pytest.raises(SystemExit, match="has no gradebook: release it first"):
        collect.main([str(d / "moodle-folders"), "--assignment", AID, "--root", str(tmp_path / "elsewhere")])
