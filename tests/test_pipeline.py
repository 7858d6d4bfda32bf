"""A whole term through the real pipeline: release → submit (nbgrader exchange and an LMS
zip) → collect → autograde → feedback → export, for every assignment."""
import csv
import os
import subprocess
import sys
import zipfile
from unittest import mock

import nbformat
import numpy as np
import pytest
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.default import ExchangeFetchAssignment, ExchangeSubmit

from course import ASSIGNMENTS, AUTOGRADERS, source_notebook
from course.grading.batch import grade_batch
from course.grading.gradebook import nbgrader_config
from leaks import REGIONS, secret_lines, student_text
from conftest import released_notebook
from submissions import (hidden_expected_values, number_tokens, numbers_in, other_assignment, page_text, points, renderings,
                         source_checks, students, variant_students, without_answers)

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

# Students whose id sorts odd go through the exchange, the others through an LMS zip.
VIA_EXCHANGE = {"s01", "s02", "s04", "s06", "s08", "s09", "s13", "v01", "v03", "v05", "v07"}


def exchange_api(root, exchange):
    config = nbgrader_config(root)
    config.Exchange.root = str(exchange)
    return NbGraderAPI(CourseDirectory(config=config), config=config), config


def submit_through_exchange(config, exchange, home, aid, student, content):
    """What a student does on JupyterHub: fetch, work, submit (as that user)."""
    student_config = config.copy()
    student_config.CourseDirectory.root = str(home)
    student_config.CourseDirectory.assignment_id = aid
    student_config.Exchange.assignment_dir = str(home)
    coursedir = CourseDirectory(config=student_config)
    auth = Authenticator(config=student_config)
    ExchangeFetchAssignment(coursedir=coursedir, authenticator=auth, config=student_config).start()
    write(home / aid / f"{aid}.ipynb", content)
    # On a hub each student is a login; here one process plays them all.
    with mock.patch("nbgrader.exchange.default.submit.get_username", return_value=short(student)):
        ExchangeSubmit(coursedir=coursedir, authenticator=auth, config=student_config).start()


def write(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content)
    else:
        nbformat.write(content, path)


@pytest.fixture(scope="module")
def term(course_root, tmp_path_factory):
    exchange = tmp_path_factory.mktemp("exchange")
    api, config = exchange_api(course_root, exchange)
    expected, variant_expect = {}, {}
    for aid in ASSIGNMENTS:
        result = api.release_assignment(aid)
        assert result["success"], result["log"]
        released = nbformat.read(released_notebook(course_root, aid), as_version=4)
        population = students(aid, released, other_assignment(aid))
        submissions = {sid: content for sid, (content, _) in population.items()}
        expected.update({(sid, aid): score for sid, (_, score) in population.items()})
        for sid, (content, expect) in variant_students(aid, released).items():
            submissions[sid] = content
            variant_expect[(sid, aid)] = expect
        archive = course_root / "downloaded" / aid / "archive" / "lms-download.zip"
        archive.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(archive, "w") as lms:
            for sid, content in submissions.items():
                if short(sid) in VIA_EXCHANGE:
                    submit_through_exchange(config, exchange, tmp_path_factory.mktemp(short(sid)), aid, sid, content)
                else:
                    text = content if isinstance(content, str) else nbformat.writes(content)
                    lms.writestr(f"{short(sid)}__{aid}.ipynb", text)
        assert api.collect(aid, update=True)["success"]
        zip_collect = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), "nbgrader"), "zip_collect", aid, "--force",
             f"--CourseDirectory.root={course_root}", f"--CourseDirectory.db_url={api.coursedir.db_url}"],
            cwd=AUTOGRADERS, capture_output=True, text=True)
        assert zip_collect.returncode == 0, zip_collect.stdout + zip_collect.stderr
    # s14 submitted only the first assignment: every other one is reported missing.
    write(course_root / "submitted" / "s14" / ASSIGNMENTS[0] / f"{ASSIGNMENTS[0]}.ipynb",
          nbformat.read(source_notebook(ASSIGNMENTS[0]), as_version=4))
    outcomes = grade_batch(course_root, ASSIGNMENTS, workers=2)
    return course_root, {(o.student, o.assignment): o for o in outcomes}, expected, variant_expect


def short(sid):
    return sid.split("-")[0]


def test_every_submission_collected_and_reported(term):
    root, outcomes, expected, variant_expect = term
    for sid, aid in list(expected) + list(variant_expect):
        assert (short(sid), aid) in outcomes, f"{sid} {aid} missing from the batch report"
    assert outcomes[("s14", ASSIGNMENTS[0])].status == "graded"
    assert all(outcomes[("s14", aid)].status == "missing" for aid in ASSIGNMENTS[1:])
    with open(root / "report.csv") as handle:
        assert len(list(csv.DictReader(handle))) == len(outcomes)


def test_expected_scores(term):
    _, outcomes, expected, _ = term
    wrong = []
    for (sid, aid), score in expected.items():
        outcome = outcomes[(short(sid), aid)]
        if score is None:
            if outcome.status != "not graded" or not outcome.message:
                wrong.append(f"{sid} {aid}: should be reported as not gradable, got {outcome}")
        elif outcome.status != "graded" or abs(outcome.score - score) > 1e-9:
            wrong.append(f"{sid} {aid}: expected {score}, got {outcome.status} {outcome.score} {outcome.message}")
    assert not wrong, "\n".join(wrong)


def test_known_wrong_answers_lose_and_other_right_answers_win(term):
    root, _, _, variant_expect = term
    api, _ = exchange_api(root, root)
    wrong = []
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        for (sid, aid), expect in variant_expect.items():
            grades = {g.name: (g.score, g.max_score) for nb in gb.find_submission(aid, short(sid)).notebooks
                      for g in nb.grades}
            for test, (kind, name) in expect.items():
                score, top = grades[test]
                if (kind == "full") != (score == top):
                    wrong.append(f"{aid} {test} '{name}' ({kind}): {score}/{top}")
    assert not wrong, "\n".join(wrong)


def test_exports(term):
    root, outcomes, _, _ = term
    with open(root / "grades.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["student_id"], r["assignment"]) for r in rows} == set(outcomes)
    with open(root / "tests.csv") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    released = {aid: nbformat.read(released_notebook(root, aid), as_version=4) for aid in ASSIGNMENTS}
    assert set(reader.fieldnames) == {"student_id", "assignment_id"} | {t for nb in released.values() for t in points(nb)}
    graded = {key for key, o in outcomes.items() if o.status == "graded"}
    assert {(r["student_id"], r["assignment_id"]) for r in rows} == graded


def test_feedback_explains_failures_without_hidden_tests(term):
    root, outcomes, _, _ = term
    # Hidden-test lines only: a student's own solution lines are theirs to see.
    hidden = set().union(*(secret_lines(source_notebook(aid), REGIONS[1:]) for aid in ASSIGNMENTS))
    for (student, aid), outcome in outcomes.items():
        page = root / "feedback" / student / aid / f"{aid}.html"
        assert page.is_file() == (outcome.status == "graded"), page
    for aid in ASSIGNMENTS:
        text = (root / "feedback" / "s05" / aid / f"{aid}.html").read_text()
        assert "FAIL" in text and "expected" in text, "feedback should say what was expected and got"
    for page in sorted((root / "feedback").glob("*/*/*.html")):  # every student's, as a reader sees it
        text = student_text(page)
        assert "BEGIN HIDDEN TESTS" not in text, page
        assert not [line for line in hidden if line in text], page


def test_no_feedback_shows_a_hidden_check_s_expected_value(term):
    """Every student's feedback page, right or wrong answers: a hidden check's expected value
    (read from the source's hidden test lines) appears in none. Left out of the scan: numbers
    the released notebook shows (no secret), the student's own answers ("got ...") and what
    the student's own cells printed (their kernel never holds a hidden expected value:
    test_hostile's sentinel test), and the scores."""
    root, outcomes, _, _ = term
    leaks, scanned = [], 0
    for aid in ASSIGNMENTS:
        released = nbformat.read(released_notebook(root, aid), as_version=4)
        public = printed(released, sources=True)  # a visible check's value may be a hidden one's too
        secrets = {shown: (label, value) for label, values in hidden_expected_values(aid) for value in values
                   if not near(numbers_in(public), value) for shown in renderings(value) - number_tokens(public)}
        assert secrets, f"{aid}: no hidden expected value to look for"
        for page in sorted((root / "feedback").glob(f"*/{aid}/{aid}.html")):
            student, scanned = page.parent.parent.name, scanned + 1
            own = printed(nbformat.read(root / "autograded" / student / aid / f"{aid}.ipynb", as_version=4))
            written = number_tokens(without_answers(page_text(page.read_text()))) - number_tokens(own)
            leaks += [f"{student} {aid} '{label}': {shown}" for shown, (label, value) in secrets.items()
                      if shown in written and not near(numbers_in(own), value)]
    assert scanned == sum(o.status == "graded" for o in outcomes.values())
    assert not leaks, "hidden checks' expected values in feedback:\n" + "\n".join(leaks[:40])


def printed(nb, sources=False):
    """Every cell's source and outputs, or (sources=False) what the cells other than check cells
    printed: a graded notebook's check cells carry the grader's text."""
    cells = nb.cells if sources else [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    return "\n".join((c.source if sources else "") + "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                                                            for o in c.get("outputs", [])) for c in cells)


def near(numbers, value):
    return bool(np.isclose(numbers, value, rtol=1e-6, atol=1e-9).any()) if len(numbers) else False


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_reference_passes_and_stub_fails_every_check_visible_and_hidden(term, aid):
    """Through the real grader: the reference solution (s01) passes every check of every check
    cell, hidden ones included, and earns each cell's points; the untouched release (s02) fails
    every check with "not implemented yet" and earns 0 on each. The checks expected are read
    from the source's lines, not from the grader's parser."""
    root = term[0]
    expected = source_checks(aid)
    assert any(hidden for checks in expected.values() for _, hidden in checks), f"{aid}: no hidden check"
    api, _ = exchange_api(root, root)
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        grades = {student: {g.name: (g.score, g.max_score) for nb in gb.find_submission(aid, student).notebooks
                            for g in nb.grades} for student in ("s01", "s02")}
    wrong = []
    for student, passes in (("s01", True), ("s02", False)):
        graded = nbformat.read(root / "autograded" / student / aid / f"{aid}.ipynb", as_version=4)
        verdicts = {c.metadata["nbgrader"]["grade_id"]: c.metadata.get("course", {}).get("verdict")
                    for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade")}
        assert set(verdicts) == set(expected) == set(grades[student]), (student, aid)
        for gid, checks in expected.items():
            verdict, (score, top) = verdicts[gid], grades[student][gid]
            judged = [(c["label"], c["hidden"]) for c in (verdict or {}).get("checks", [])]
            if judged != checks:
                wrong.append(f"{student} {gid}: judged {judged}, the source has {checks}")
                continue
            for check in verdict["checks"]:
                if passes and not check["passed"]:
                    wrong.append(f"{student} {gid} '{check['label']}': {check['message']}")
                if not passes and (check["passed"] or "not implemented yet" not in check["message"]):
                    wrong.append(f"{student} {gid} '{check['label']}': passed={check['passed']} {check['message']}")
            if score != (top if passes else 0.0) or verdict["score"] != score:
                wrong.append(f"{student} {gid}: {score}/{top} in the gradebook, {verdict['score']} in the verdict")
    assert not wrong, "\n".join(wrong)


def test_untouched_student_notebook_runs_without_an_error(term):
    root = term[0]
    for aid in ASSIGNMENTS:
        graded = nbformat.read(root / "autograded" / "s02" / aid / f"{aid}.ipynb", as_version=4)
        for cell in graded.cells:
            errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
            if "raises-exception" not in cell.metadata.get("tags", []):
                assert not errors, f"{aid}: the student notebook crashes in\n{cell.source[:300]}\n{errors[0].evalue}"


def test_regrading_one_assignment_gives_the_same_grades(term):
    root, outcomes, _, _ = term
    aid = "04-computational-graphs"
    again = {(o.student, o.assignment): o for o in grade_batch(root, [aid], feedback=False, workers=2)}
    for key, outcome in again.items():
        assert (outcome.status, outcome.score) == (outcomes[key].status, outcomes[key].score), key
    api, _ = exchange_api(root, root)
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        graded = [key for key, o in again.items() if o.status == "graded"]
        assert len(gb.find_assignment(aid).submissions) == len(graded)
