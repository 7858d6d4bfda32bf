"""The instructor guide's walkthrough (docs/instructors.md), run as written on a fresh copy of the repository.

The test takes the first bash block of the guide's "Walkthrough" section and runs
it with bash (-e: any failing command fails the test), in a copy of the repository's files
(what a clone has: git's tracked and not-ignored files), with this environment's .venv linked
in. Two things are not the guide's: the exchange folder is the test's own instead of
/tmp/exchange, its deadlines are its own (AID due a week from now: the committed ones are the
course's, and a due date an instructor sets would make its submissions late the day after),
and between releasing (step 2) and collecting (step 3) one line plays the students: Ada submits through the exchange as on JupyterHub, Grace's notebook comes in a
Canvas download (`submissions.zip`, Canvas's file names); Evelyn, on the example roster,
hands in nothing. The sandbox is on, as in the guide.
"""
import csv
import datetime as dt
import os
import subprocess
import sys

import nbformat
import pytest

from course import ROOT
from course.grading import deadlines
from submissions import points

pytestmark = pytest.mark.sandbox

AID = "01-gradient-descent"

STUDENTS = '''
"""Play the students between the walkthrough's release and collect steps (cwd: autograders/)."""
import sys
import zipfile
from pathlib import Path
from unittest import mock

import nbformat
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.default import ExchangeFetchAssignment, ExchangeSubmit

sys.path.insert(0, str(Path.cwd().parent / "tests"))
from course.grading.gradebook import nbgrader_config  # noqa: E402
from submissions import reference_sources, with_solutions  # noqa: E402

aid, home = sys.argv[1], Path(sys.argv[2])
released = nbformat.read(Path("release") / aid / f"{aid}.ipynb", as_version=4)
reference = reference_sources(aid)
config = nbgrader_config(Path.cwd())
config.CourseDirectory.root = str(home)
config.CourseDirectory.assignment_id = aid
config.Exchange.assignment_dir = str(home)
coursedir, auth = CourseDirectory(config=config), Authenticator(config=config)
ExchangeFetchAssignment(coursedir=coursedir, authenticator=auth, config=config).start()
nbformat.write(with_solutions(released, reference), home / aid / f"{aid}.ipynb")
with mock.patch("nbgrader.exchange.default.submit.get_username", return_value="alovelace"):
    ExchangeSubmit(coursedir=coursedir, authenticator=auth, config=config).start()
download = Path("downloaded") / aid / "submissions.zip"
download.parent.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(download, "w") as archive:  # Canvas: <sortable name>_<user id>_<submission id>_<file>
    archive.writestr(f"hoppergrace_1002_55502_{aid}.ipynb",
                     nbformat.writes(with_solutions(released, {"fun_dz": reference["fun_dz"]})))
'''


def walkthrough_block():
    section = (ROOT / "docs" / "instructors.md").read_text().split("## Walkthrough", 1)[1]
    return section.split("```bash\n", 1)[1].split("\n```", 1)[0]


def fresh_copy(target):
    """The repository's files as a clone has them (tracked or not ignored), with this .venv."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(source.read_bytes())
    (target / ".venv").symlink_to(ROOT / ".venv")


def scratch_course(target, now):
    """A fresh copy whose deadlines.toml is the test's own: AID due a week after `now`."""
    fresh_copy(target)
    due = (now + dt.timedelta(days=7)).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    (target / "autograders" / deadlines.FILE_NAME).write_text(
        f'timezone = "UTC"\n\n[late]\nper_day = 10\ncap = 50\n\n[assignments.{AID}]\ndue = {due}\n')


def test_the_walkthrough_grades_against_deadlines_of_its_own(tmp_path):
    """Whatever the course's deadlines.toml says (a fork's past due date included), the
    walkthrough's submissions, made now, are on time, under a late policy."""
    now = dt.datetime.now(dt.timezone.utc)
    scratch_course(tmp_path, now)
    due = deadlines.load(tmp_path / "autograders")
    for student in ("alovelace", "ghopper"):
        assert due.of(AID, student).student_due > now + dt.timedelta(days=6)
    assert due.of(AID).policy.percent(86400) > 0  # late work would lose points: the walkthrough would see it


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory):
    block = walkthrough_block()
    assert "/tmp/exchange" in block and "--no-sandbox" not in block
    copy = tmp_path_factory.mktemp("clone")
    scratch_course(copy, dt.datetime.now(dt.timezone.utc))
    exchange, home = tmp_path_factory.mktemp("exchange"), tmp_path_factory.mktemp("ada-home")
    (copy / "students.py").write_text(STUDENTS)
    lines = block.replace("/tmp/exchange", str(exchange)).splitlines()
    collect = next(n for n, line in enumerate(lines) if line.startswith("nbgrader collect"))
    script = "\n".join(lines[:collect] + [f'python ../students.py {AID} "{home}"'] + lines[collect:])
    # PYTHONPATH: the copy's course package, not the one this environment has installed
    env = dict(os.environ, PYTHONPATH=str(copy), HOME=str(home))
    run = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=copy, env=env,
                         capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, f"the walkthrough failed:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    return copy / "autograders", exchange, run


def test_the_walkthrough_grades_the_hub_and_the_canvas_student(walkthrough):
    root, _, run = walkthrough
    released = nbformat.read(root / "release" / AID / f"{AID}.ipynb", as_version=4)
    pts = points(released)
    with open(root / "report.csv") as handle:
        report = {r["student_id"]: r for r in csv.DictReader(handle)}
    assert {s: (r["status"], r["score"]) for s, r in report.items()} == {
        "alovelace": ("graded", f"{sum(pts.values()):g}"),
        "ghopper": ("graded", f"{pts['test_fun_dz']:g}"),
        "ekeller": ("missing", ""),
    }, run.stdout
    with open(root / "canvas_grades.csv") as handle:
        canvas = {row[1]: row[5] for row in list(csv.reader(handle))[2:]}  # by Canvas's user id
    assert canvas == {"1001": f"{sum(pts.values()):g}", "1002": f"{pts['test_fun_dz']:g}", "1003": ""}
    assert (root / "feedback" / "ghopper" / AID / f"{AID}.html").is_file()


def test_the_walkthrough_hands_feedback_back_through_the_exchange(walkthrough):
    _, exchange, _ = walkthrough
    handed_back = list(exchange.glob("*/feedback/*.html"))
    assert len(handed_back) == 1, handed_back  # Ada's: only hub submissions carry the exchange's secret


def test_the_walkthrough_releases_only_what_it_names(walkthrough):
    root, _, run = walkthrough
    with open(root / "grades.csv") as handle:
        assert {r["assignment"] for r in csv.DictReader(handle)} == {AID}
    assert sorted(p.name for p in (root / "release").iterdir()) == [AID]
    assert "Traceback" not in run.stdout + run.stderr
