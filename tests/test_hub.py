"""A hub's term with real Unix users: two students and a grader, none of them root.

The students fetch and submit through the real exchange with their own permissions and the
students' config that `course hub student-config` prints (no --student override);
the grader releases, collects, grades with `course grade` (sandbox on) and releases
feedback; the students fetch their feedback. Only creating the users needs root.
"""
import csv
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from course import ROOT
from course.grading.gradebook import nbgrader_config
from course.instructor import hub
from submissions import reference_sources, with_solutions
from unix_users import ordinary_users

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

AID = "01-gradient-descent"
COURSE_ID = nbgrader_config().CourseDirectory.course_id  # the course's own: a fork renames it
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


def shell_python(code):
    """Python for `User.python`: the course's helpers on the path, arguments as sys.argv[1:]."""
    return "import sys\nfrom pathlib import Path\n" + code


RELEASE = shell_python("""
from course.grading.gradebook import nbgrader_api
from course.authoring.release import release
root = Path(sys.argv[1])
api = nbgrader_api(root)
release(sys.argv[2], api, chapters=root / "chapters")
result = api.release_assignment(sys.argv[2])
assert result["success"], result
""")
COLLECT = shell_python("""
from course.grading.gradebook import nbgrader_api
result = nbgrader_api(Path(sys.argv[1])).collect(sys.argv[2])
assert result["success"], result
""")
RELEASE_FEEDBACK = shell_python("""
from course.grading.gradebook import nbgrader_api
api = nbgrader_api(Path(sys.argv[1]))
for student in sys.argv[3:]:
    result = api.release_feedback(sys.argv[2], student)
    assert result["success"], result
""")
WRITE = shell_python("Path(sys.argv[1]).write_text(sys.stdin.read())")
TRY_TO_READ = shell_python("""
for path in sys.argv[1:]:
    try:
        found = sorted(p.name for p in Path(path).iterdir()) if Path(path).is_dir() else Path(path).read_bytes()[:20]
        print(path, "READ", found)
    except OSError as error:
        print(path, "blocked:", type(error).__name__)
""")


@pytest.fixture(scope="module")
def term():
    with ordinary_users("course-student1", "course-student2", "course-grader") as (one, two, grader):
        shared = []  # what the grader made outside their home, removed at the end
        try:
            # The grader makes the exchange (0777, as nbgrader wants) and the folder of the students'
            # config (on a hub: /etc/jupyter), both in /var/tmp for the test.
            exchange, config = (Path(grader.python(shell_python(
                f"import os, tempfile; e = tempfile.mkdtemp(prefix='course-{name}-', dir='/var/tmp'); os.chmod(e, {mode}); print(e)"
            )).stdout.strip()) for name, mode in (("exchange", 0o777), ("student-config", 0o755)))
            shared += [exchange, config]
            printed = grader.run(VENV_PYTHON, "-m", "course", "hub", "student-config", "--exchange", exchange).stdout
            grader.python(WRITE, config / "nbgrader_config.py", stdin=printed)
            students_env = {"JUPYTER_CONFIG_PATH": str(config)}
            course = grader.home / "course"
            grader.run("mkdir", "-m", "700", course)  # the gradebook and every submission: the grader's only
            grader.python(RELEASE, course, AID, env={"COURSE_EXCHANGE": str(exchange)})

            released = nbformat.read(course / "release" / AID / f"{AID}.ipynb", as_version=4)
            work = {one.name: with_solutions(released, reference_sources(AID)), two.name: released}
            for student in (one, two):
                student.run("nbgrader", "fetch_assignment", AID, env=students_env)
                mine = student.home / AID / f"{AID}.ipynb"
                student.python(WRITE, mine, stdin=nbformat.writes(work[student.name]))
                student.run("nbgrader", "submit", AID, env=students_env)

            grader.python(COLLECT, course, AID, env={"COURSE_EXCHANGE": str(exchange)})
            graded = grader.run(VENV_PYTHON, "-m", "course", "grade", AID, "--root", course, cwd=course,
                                env={"COURSE_EXCHANGE": str(exchange)})
            grader.python(RELEASE_FEEDBACK, course, AID, one.name, two.name, env={"COURSE_EXCHANGE": str(exchange)})
            for student in (one, two):
                student.run("nbgrader", "fetch_feedback", AID, env=students_env)
            yield dict(one=one, two=two, grader=grader, exchange=exchange, course=course, graded=graded, printed=printed)
        finally:
            subprocess.run(["rm", "-rf", "--", *map(str, shared)], check=False)


def feedback_score(student):
    """(score, max score) in the header of the one feedback page the student fetched."""
    pages = sorted((student.home / AID / "feedback").glob(f"*/{AID}.html"))
    assert len(pages) == 1, pages
    found = re.search(r"\(Score: ([0-9.]+) / ([0-9.]+)\)", pages[0].read_text())
    return float(found[1]), float(found[2])


def test_the_student_config_names_the_course_and_the_exchange(term, capsys):
    assert f"c.CourseDirectory.course_id = {COURSE_ID!r}" in term["printed"]
    assert f"c.Exchange.root = {str(term['exchange'])!r}" in term["printed"]
    with pytest.raises(SystemExit) as refused:
        hub.main(["student-config", "--exchange", "relative/path"])
    assert refused.value.code == 2 and "absolute path" in capsys.readouterr().err


def test_submissions_went_through_the_exchange_as_each_student(term):
    inbound = term["exchange"] / COURSE_ID / "inbound"
    owners = {path.name.split("+")[0]: path.stat().st_uid for path in inbound.iterdir()}
    assert owners == {term["one"].name: term["one"].uid, term["two"].name: term["two"].uid}
    for student in ("one", "two"):
        assert (term["course"] / "submitted" / term[student].name / AID / f"{AID}.ipynb").is_file()


def test_the_grader_grades_as_an_ordinary_user_in_the_sandbox(term):
    out = term["graded"].stdout
    assert "without the sandbox" not in out and "refusing" not in out, out
    with open(term["course"] / "report.csv") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert {name: row["status"] for name, row in rows.items()} == {term["one"].name: "graded", term["two"].name: "graded"}
    assert float(rows[term["one"].name]["score"]) == float(rows[term["one"].name]["max_score"]) > 0
    assert float(rows[term["two"].name]["score"]) == 0
    assert (term["course"] / "gradebook.db").stat().st_uid == term["grader"].uid


def test_each_student_fetches_their_own_feedback(term):
    # The reference earns every point, the untouched notebook none.
    (one, top), (two, _) = feedback_score(term["one"]), feedback_score(term["two"])
    assert one == top > 0 and two == 0


def test_no_student_can_read_another_s_work_or_feedback(term):
    one, two, exchange = term["one"], term["two"], term["exchange"] / COURSE_ID
    seen = one.python(TRY_TO_READ, exchange / "feedback", exchange / "inbound", two.home, two.home / AID,
                      term["course"]).stdout
    assert seen.count("blocked:") == 5, seen
    # nbgrader's feedback page names are keyed by the submission's secret: fetching as student
    # one finds only their own page, whatever is in the exchange.
    assert len(list((one.home / AID / "feedback").glob("*/*.html"))) == 1
