"""Grade a folder of submissions and write everything an instructor hands back.

    course grade [ASSIGNMENT ...] [--root autograders] [--db URL]
                           [--roster roster.csv] [--missing blank|zero]

Reads nbgrader's layout <root>/submitted/<student_id>/<assignment_id>/<assignment_id>.ipynb
and writes, under <root>:
  - the gradebook (SQLite <root>/gradebook.db, or any SQLAlchemy URL given by --db or
    COURSE_GRADEBOOK_URL),
  - autograded/ and feedback/<student_id>/<assignment_id>/<assignment_id>.html,
  - grades.csv (nbgrader's export's columns and a status: a row per student per assignment),
  - tests.csv (a row per student per assignment, a column per graded test),
  - report.csv (what happened to every submission, with the reason when it was not graded,
    and its late penalty: due dates, extensions and the policy are in <root>/deadlines.toml),
  - report.html (course/instructor/report.py: score histograms, pass rates of exercises and checks, the
    most common failure messages, the submissions that could not be graded),
  - canvas_grades.csv and moodle_grades.csv when there is a roster (course/instructor/lms.py),
  - grading.log (everything, debug level: course/grading/logs.py); the terminal shows progress, the
    summary and real problems only.
A broken submission is reported and skipped; it never stops the batch and leaves no
half-written grades. Grading again gives the same grades.
"""
import argparse
import concurrent.futures
import csv
import dataclasses
import functools
import json
import multiprocessing
import multiprocessing.forkserver
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from course import ASSIGNMENTS, AUTOGRADERS
from course.checkout import refuse_another_checkout
from course.grading import deadlines, ledger, logs
from course.grading.gradebook import nbgrader_api
from course.grading.preprocessors import restore
from course.grading.sandbox.base import SandboxUnavailable, check_available
from course.grading.sandbox.kernel import shared_warm_sandbox
from course.grading.sandbox.warm import Zygote
from course.instructor import lms, report, similarity

MAX_NOTEBOOK_BYTES = 20 * 2**20  # a course notebook with its figures is well under 1 MB


@dataclass
class Outcome:
    student: str
    assignment: str
    status: str  # graded | not graded | missing
    score: float = 0.0
    max_score: float = 0.0
    message: str = ""
    seconds: float = 0.0
    unchanged: bool = False  # graded before under the same key (course/grading/ledger.py): not run again
    penalty: float = 0.0  # late penalty in points, already taken off `score` (course/grading/deadlines.py)
    seconds_late: float = 0.0  # after the student's due date (its extension included)


def grade_ids_by_assignment(gb):
    return {a.name: {c.name for nb in a.notebooks for c in nb.grade_cells + nb.solution_cells}
            for a in gb.assignments}


def cell_names(raw):
    """The grader's cell names (nbgrader grade_ids) in a notebook file's bytes; None if it is no notebook."""
    try:
        cells = json.loads(raw).get("cells", [])
        return {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in cells} - {None}
    except (ValueError, AttributeError, TypeError):
        return None


def renamed_notebooks(folder, assignment, known_ids):
    """The folder's notebooks under another name than the assignment's that hold cells of it
    (Colab's "Copy of ...", a browser's "... (1)", "...-1"): recognised by their cells, not their name."""
    found = []
    for path in sorted(Path(folder).glob("*.ipynb")):
        if path.name == f"{assignment}.ipynb" or path.is_symlink() or not path.is_file() \
                or path.stat().st_size > MAX_NOTEBOOK_BYTES:
            continue
        if (cell_names(path.read_bytes()) or set()) & known_ids[assignment]:
            found.append(path)
    return found


def adopt_renamed(folder, assignment, known_ids):
    """When the assignment's notebook is there only under another name, copy it (beside the student's
    file, which stays as it is) to the name nbgrader grades. Returns the renamed file's name or None."""
    target = Path(folder) / f"{assignment}.ipynb"
    if target.exists() and not any(p.suffix == ".ipynb" and p != target for p in Path(folder).iterdir()):
        return None  # the usual case: nothing else to look at
    found = renamed_notebooks(folder, assignment, known_ids)
    if not target.exists():
        if len(found) != 1:
            return None
        shutil.copyfile(found[0], target)
        return found[0].name
    same = [p for p in found if p.read_bytes() == target.read_bytes()]  # adopted by an earlier run
    return same[0].name if len(same) == 1 else None


def problem_with(path, assignment, known_ids):
    """Why `path` cannot be graded as `assignment`, or None when it can be."""
    if not path.is_file():
        several = renamed_notebooks(path.parent, assignment, known_ids) if path.parent.is_dir() else []
        if len(several) > 1:
            return (f"{len(several)} notebooks of {assignment} and none named {path.name}: "
                    f"{' and '.join(p.name for p in several)}; submit only one of them")
        found = sorted(p.name for p in path.parent.iterdir()) if path.parent.is_dir() else []
        return f"no {path.name} in {path.parent.name}/ (found: {', '.join(found) or 'nothing'})"
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        return (f"the notebook is {size / 2**20:.0f} MB, over the {MAX_NOTEBOOK_BYTES // 2**20} MB limit: "
                "clear its outputs (Kernel > Restart & Clear Output) and submit again")
    raw = path.read_bytes()
    if not raw.strip():
        return "the notebook file is empty"
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return f"not a notebook: the file is not valid JSON ({error})"
    except Exception as error:
        return f"not a notebook: {error}"
    ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells} - {None}
    if ids & known_ids[assignment]:
        return None
    other = [name for name, names in known_ids.items() if ids & names]
    if other:
        return f"this is the notebook of {other[0]}, not {assignment}"
    return f"no cell of {assignment} found: was the notebook replaced by another file?"


_worker = {}


def _start_worker(workers, root=None, environ=None, warm_sandbox=None):
    """Pool initializer. A worker is forked from a server that imported the grader once, so it
    takes this batch's environment; kernels inherit the thread limits, so N kernels do not each
    use every core. The worker logs to <root>/grading.log, and so does whatever its kernels
    print, and forks its kernels from the batch's warm sandbox."""
    if environ is not None:
        os.environ.clear()
        os.environ.update(environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(_threads(workers))
    if root is not None:
        logs.setup(root, worker=True, redirect_fds=True)
    Zygote.shared = warm_sandbox


def _worker_state(root, db_url, sandbox):
    """One nbgrader API and gradebook session per process, reused across its jobs."""
    key = (str(root), db_url, sandbox)
    if key not in _worker:
        if not logs.configured():  # a Dask worker: no pool initializer ran
            logs.setup(root, worker=True)
        api = nbgrader_api(root, db_url, sandbox)
        gb = Gradebook(api.coursedir.db_url, api.coursedir.course_id)
        _worker[key] = (api, gb, grade_ids_by_assignment(gb))
    return _worker[key]


def grade_one(root, db_url, assignment, student, feedback=True, sandbox=True, force=False):
    """Autograde one submission (and write its feedback); never raises for a bad submission.

    A submission graded before under the same key (its files, the assignment's version, the
    grader) whose grades and feedback are still in place is not graded again, unless `force`."""
    start = time.monotonic()
    api, gb, known_ids = _worker_state(root, db_url, sandbox)
    top = gb.find_assignment(assignment).max_score
    folder = Path(api.coursedir.format_path("submitted", student, assignment))
    if not folder.is_dir():
        ledger.forget(root, assignment, student)
        return Outcome(student, assignment, "missing", 0.0, top, "no submission folder")
    renamed = adopt_renamed(folder, assignment, known_ids)  # before the key: the copy is part of the folder
    due = deadlines.load(root)  # read each time: an extension granted mid-term counts at once
    key = {"submission": ledger.submission_hash(folder), "assignment": ledger.assignment_version(gb, assignment),
           "grader": ledger.grader_version(sandbox, feedback), "deadline": due.of(assignment, student).key()}
    if not force:
        earlier = _still_in_place(api, gb, ledger.read(root, assignment, student), key, feedback)
        if earlier is not None:
            return earlier
    ledger.forget(root, assignment, student)  # a kill from here on leaves no record: graded again next time
    problem = problem_with(folder / f"{assignment}.ipynb", assignment, known_ids)
    if problem is None:
        result = api.autograde(assignment, student, force=True, create=True)
        logs.log.debug("nbgrader autograde %s %s:\n%s", assignment, student, result.get("log", ""))
        if not result["success"]:
            problem = autograde_failure(result)
    gb.db.expire_all()
    if problem is not None:
        try:  # no half-written grades: an ungradable submission has no record
            gb.find_submission(assignment, student)
        except MissingEntry:
            pass
        else:
            gb.remove_submission(assignment, student)
        outcome = Outcome(student, assignment, "not graded", 0.0, top, problem, time.monotonic() - start)
    else:
        seconds_late, penalty, score = deadlines.lateness(gb.find_submission(assignment, student))
        outcome = Outcome(student, assignment, "graded", score, top, penalty=penalty, seconds_late=seconds_late)
        outcome.message = graded_notes(api, assignment, student, renamed)
        if feedback:
            result = api.generate_feedback(assignment, student, force=True)
            if not result["success"]:
                outcome.message = "feedback failed: " + autograde_failure(result)
        outcome.seconds = time.monotonic() - start
    if not outcome.message.startswith("feedback failed"):
        ledger.write(root, assignment, student, {"key": key, "outcome": dataclasses.asdict(outcome)})
    return outcome


def graded_notes(api, assignment, student, renamed):
    """What the grader changed to grade this notebook (course/grading/preprocessors/restore.py), for report.csv."""
    path = Path(api.coursedir.format_path("autograded", student, assignment)) / f"{assignment}.ipynb"
    notes = [f"graded {renamed}, a renamed copy of {assignment}.ipynb"] if renamed else []
    try:
        notes += restore.repairs_of(nbformat.read(path, as_version=4))
    except (OSError, ValueError):
        pass
    return " ".join(notes)


def _still_in_place(api, gb, record, key, feedback):
    """The recorded Outcome when `record` was made under `key` and its results are all still there."""
    if not record or record.get("key") != key:
        return None
    try:
        outcome = Outcome(**{**record["outcome"], "seconds": 0.0, "unchanged": True})
        submission = gb.find_submission(outcome.assignment, outcome.student)
    except MissingEntry:
        submission = None
    except TypeError:  # a record of another version of this file
        return None
    if outcome.status != "graded":
        return outcome if submission is None else None
    page = Path(api.coursedir.format_path("feedback", outcome.student, outcome.assignment)) / f"{outcome.assignment}.html"
    graded = Path(api.coursedir.format_path("autograded", outcome.student, outcome.assignment)) / f"{outcome.assignment}.ipynb"
    if submission is None or abs(deadlines.lateness(submission)[2] - outcome.score) > 1e-9 or not graded.is_file() \
            or (feedback and not page.is_file()):
        return None
    return outcome


def autograde_failure(result):
    """The useful line of a failed nbgrader autograde (kernel died, timeout, ...)."""
    text = f"{result.get('log', '')}\n{result.get('error', '')}"
    for needles, message in [
        (("NotebookTimeoutError",), "the notebook ran longer than its time limit (SandboxedExecute.notebook_timeout)"),
        (("DeadKernelError", "Kernel died"), "the kernel died while running the notebook (e.g. exit() or a crash in student code)"),
        (("CellTimeoutError",), "a cell ran longer than the time limit"),
        (("UnresponsiveKernelError",), "the kernel stopped responding"),
    ]:
        if any(needle in text for needle in needles):
            return message
    errors = [line.strip() for line in text.splitlines()
              if ("Error" in line or "Exception" in line) and "NbGraderException" not in line]
    lines = [line for line in text.splitlines() if line.strip()]
    return "autograde failed: " + (errors[-1] if errors else lines[-1] if lines else "no log")


def write_tests_csv(gb, path, assignments):
    """A row per student per assignment, a column per graded test (grade cell)."""
    columns = [cell.name for a in assignments for nb in gb.find_assignment(a).notebooks
               for cell in nb.grade_cells]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "assignment_id"] + columns)
        for assignment in assignments:
            for submission in gb.find_assignment(assignment).submissions:
                scores = {g.name: g.score for nb in submission.notebooks for g in nb.grades}
                writer.writerow([submission.student_id, assignment]
                                + [scores.get(name, "") for name in columns])


def no_grade_cell(no_grade):
    """What every output writes for a submission with no grade ("not graded" or "missing")."""
    return "0" if no_grade == "zero" else ""


def write_report(outcomes, path, no_grade="blank"):
    """report.csv: every submission's status, its grade after any late penalty, and the penalty."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "assignment_id", "status", "score", "max_score", "late_penalty",
                         "days_late", "message"])
        for o in outcomes:
            graded = o.status == "graded"
            writer.writerow([o.student, o.assignment, o.status, lms.number(o.score) if graded else no_grade_cell(no_grade),
                             lms.number(o.max_score), lms.number(o.penalty) if graded else "",
                             deadlines.days_late(o.seconds_late) if graded else "", o.message])


GRADES_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
                  "raw_score", "late_submission_penalty", "score", "max_score", "status"]


def write_grades_csv(gb, path, outcomes, no_grade="blank"):
    """grades.csv: nbgrader's export's columns (score is after the late penalty; duedate is the
    student's, its extension included) plus the status, a row per outcome of the batch, so
    only the batch's assignments; a submission with no grade gets the same cell as everywhere."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, GRADES_COLUMNS)
        writer.writeheader()
        for o in outcomes:
            row = {"assignment": o.assignment, "student_id": o.student, "status": o.status,
                   "max_score": lms.number(o.max_score)}
            try:
                student = gb.find_student(o.student)
            except MissingEntry:
                student = None
            if student is not None:
                row.update(last_name=student.last_name or "", first_name=student.first_name or "",
                           email=student.email or "")
            if o.status == "graded":
                submission = gb.find_submission(o.assignment, o.student)
                row.update(duedate=submission.duedate or "", timestamp=submission.timestamp or "",
                           raw_score=lms.number(o.score + o.penalty), late_submission_penalty=lms.number(o.penalty),
                           score=lms.number(o.score))
            else:
                row.update(duedate=gb.find_assignment(o.assignment).duedate or "", raw_score=no_grade_cell(no_grade),
                           score=no_grade_cell(no_grade))
            writer.writerow(row)


def run_jobs(jobs, workers, scheduler=None, log_root=None, warm_sandbox=None):
    """Yield Outcomes as they finish: on a local process pool, or on a Dask cluster
    when `scheduler` is its address. A grader that fails (not a submission) is reported too."""
    if scheduler:
        from distributed import Client, as_completed

        client = Client(scheduler)
        submit, finished, close = (lambda job: client.submit(grade_one, *job, pure=False)), as_completed, client.close
    else:
        pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=_forkserver(),
                                                      initializer=_start_worker,
                                                      initargs=(workers, log_root, dict(os.environ), warm_sandbox))
        submit, finished, close = (lambda job: pool.submit(grade_one, *job)), concurrent.futures.as_completed, pool.shutdown
    try:
        futures = {submit(job): job for job in jobs}
        for future in finished(list(futures)):
            job = futures[future]
            try:
                yield future.result()
            except Exception as error:  # the grading machinery itself failed for this job
                yield Outcome(job[3], job[2], "not graded", message=f"grader failed: {error!r}")
    finally:
        close()


def _order(name):
    """The syllabus order of the course's assignments, then any other by name."""
    return (ASSIGNMENTS.index(name), "") if name in ASSIGNMENTS else (len(ASSIGNMENTS), name)


def _threads(workers):
    return max(1, (os.cpu_count() or 1) // workers)


@functools.cache
def _forkserver():
    """Workers forked from a server that imported the grader's libraries once (not fork: the
    caller may have threads; not spawn: each worker would import nbgrader again). Not this
    module itself: `course grade` has each worker run it as its __main__."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["course.grading.gradebook", "course.grading.sandbox.kernel", "course.instructor.report", "course.instructor.lms",
                                    "course.grading.ledger", "course.grading.feedback", "nbgrader.plugins.export"])
    return context


def grade_batch(root=AUTOGRADERS, assignments=None, db_url=None, feedback=True, workers=1,
                out=sys.stdout, sandbox=True, scheduler=None, roster=None, no_grade="blank",
                moodle_id="email", canvas_ids=None, force=False):
    """Grade every student's submissions of `assignments` (default: every released assignment,
    those `course release ID` put in the gradebook); return their Outcomes.

    roster: CSV mapping student ids to LMS identities (default <root>/roster.csv if it exists;
    course/instructor/lms.py), for canvas_grades.csv and moodle_grades.csv; no_grade: "blank" or "zero",
    what a roster student with no graded submission gets there.

    sandbox: True (kernels forked from a warm sandbox), "cold" (a fresh sandbox per kernel)
    or False (student code unconfined: only for notebooks you trust). `scheduler`
    (a Dask scheduler address) sends the work to that cluster's workers, which must see
    `root` at the same path and a shared gradebook URL (PostgreSQL). Submissions graded
    before under the same key are not graded again (course/grading/ledger.py) unless `force`."""
    if sandbox:
        try:
            check_available()
        except SandboxUnavailable as error:
            raise SystemExit(f"refusing to grade: the sandbox cannot start ({error}).\n"
                             "Fix that, or pass --no-sandbox to run student code with your permissions.")
    else:
        print("WARNING: grading without the sandbox: student code runs with your permissions", file=out)
    api = nbgrader_api(root, db_url, sandbox)
    # One warm sandbox for the batch, started first: its imports overlap everything until a kernel is due.
    warm = shared_warm_sandbox(api.config, _threads(workers)) if sandbox is True and not scheduler else None
    root, db_url = Path(api.coursedir.root), api.coursedir.db_url
    logs.setup(root)
    try:  # a broken deadlines file stops the batch before any grading
        due = deadlines.load(root)
    except deadlines.DeadlineError as error:
        raise SystemExit(f"cannot read the deadlines: {error}")
    if roster is None and (root / "roster.csv").is_file():
        roster = root / "roster.csv"
    roster_ids = []
    if roster is not None:
        try:  # a broken roster stops the batch before any grading
            roster_ids = list(lms.read_roster(roster))
        except (lms.RosterError, OSError, UnicodeDecodeError) as error:
            raise SystemExit(f"cannot read the roster: {error}")
    submitted = root / api.coursedir.submitted_directory
    with Gradebook(db_url, api.coursedir.course_id) as gb:
        released = [a.name for a in sorted(gb.assignments, key=lambda a: _order(a.name))]
        if assignments is None:
            assignments = released
            if not assignments:
                raise SystemExit("no assignment released yet: run `course release ASSIGNMENT_ID` first")
        missing = sorted(set(assignments) - set(released))
        if missing:
            raise SystemExit(f"not released yet: {', '.join(missing)}; run `course release "
                             f"{' '.join(missing)}` first")
        logs.run_header(assignments)
        deadlines.sync_assignments(gb, due, assignments)
        folders = {p.name for p in submitted.iterdir() if p.is_dir()} if submitted.is_dir() else set()
        for student in sorted(folders):
            gb.update_or_create_student(student)
        # Roster students who submitted nothing are "missing", like anyone else with no submission.
        students = sorted(folders | {s.id for s in gb.students} | set(roster_ids))
    jobs = [(str(root), db_url, a, s, feedback, sandbox, force) for a in assignments for s in students]
    if jobs and warm is not None:
        _wait_for_the_warm_sandbox(root)
    outcomes = []
    if jobs:
        for n, outcome in enumerate(run_jobs(jobs, workers, scheduler, root, warm), 1):
            outcomes.append(outcome)
            score = f"{outcome.score:g}/{outcome.max_score:g}" if outcome.status == "graded" else outcome.status
            if outcome.seconds_late > 0:
                score += f" ({deadlines.describe(outcome.seconds_late, outcome.penalty)})"
            took = "unchanged since graded" if outcome.unchanged else f"{outcome.seconds:.1f}s"
            line = (f"[{n}/{len(jobs)}] {outcome.assignment} {outcome.student}: {score} ({took})"
                    + (f" - {outcome.message}" if outcome.message else ""))
            print(line, file=out, flush=True)
            logs.log.info(line)
    outcomes.sort(key=lambda o: (o.assignment, o.student))
    issues, written = None, []
    with Gradebook(db_url, api.coursedir.course_id) as gb:
        write_grades_csv(gb, root / "grades.csv", outcomes, no_grade)
        write_tests_csv(gb, root / "tests.csv", assignments)
        if roster is not None:
            written, issues = lms.export(gb, root, roster, assignments, outcomes, no_grade, moodle_id, canvas_ids)
        similar = similarity.find_similar(root, assignments, top=report.SHOWN_PAIRS)  # pairs of alike code
        similarity.write_csv(similar, root / similarity.CSV_NAME)
        print(similarity.summary(similar, root / similarity.CSV_NAME), file=out)
        report.write_html(report.collect(gb, root, assignments, outcomes), root / "report.html", issues, similar=similar)
    write_report(outcomes, root / "report.csv", no_grade)
    summarize(outcomes, root, out, issues, written)
    return outcomes


def _wait_for_the_warm_sandbox(root):
    """Before any submission: a warm sandbox that cannot start stops the batch at once with its
    cause, instead of each worker waiting for it and failing without one."""
    _forkserver()
    multiprocessing.forkserver.ensure_running()  # the workers' imports, meanwhile: the wait costs them nothing
    try:
        Zygote._instance.ready()
    except SandboxUnavailable as error:
        message = (f"refusing to grade: {error}\nFix that, or grade with --cold-sandbox (a fresh sandbox "
                   f"per kernel, slower); the full log: {root / logs.LOG_NAME}")
        logs.log.info(message)  # the log file only: the terminal gets it once, as the exit message
        raise SystemExit(message) from None


def summarize(outcomes, root, out, issues=None, lms_files=()):
    graded = [o for o in outcomes if o.status == "graded"]
    print(f"\n{len(graded)} graded, {sum(o.status == 'not graded' for o in outcomes)} not graded, "
          f"{sum(o.status == 'missing' for o in outcomes)} missing "
          f"({sum(o.unchanged for o in outcomes)} unchanged since graded, not run again), "
          f"{sum(o.seconds for o in outcomes):.0f}s", file=out)
    for assignment in sorted({o.assignment for o in graded}):
        scores = [o.score for o in graded if o.assignment == assignment]
        top = max(o.max_score for o in graded if o.assignment == assignment)
        print(f"  {assignment}: mean {sum(scores) / len(scores):.2f} of {top:g} over {len(scores)}", file=out)
    for o in outcomes:  # the words of report.csv and report.html
        if o.status == "not graded":
            print(f"  NOT GRADED {o.assignment} {o.student}: {o.message}", file=out)
        elif o.status == "missing":
            print(f"  MISSING {o.assignment} {o.student}: no submission", file=out)
        elif o.seconds_late > 0:
            print(f"  LATE {o.assignment} {o.student}: {deadlines.describe(o.seconds_late, o.penalty)}", file=out)
    lines = [f"wrote {root / 'grades.csv'}, {root / 'tests.csv'}, {root / 'report.csv'} and feedback/",
             f"report: {root / 'report.html'}"]
    if lms_files:
        lines.append("LMS exports: " + ", ".join(str(p) for p in lms_files))
        lines += issues.lines()
    else:
        lines.append("no LMS exports (no roster: pass --roster roster.csv)")
    lines.append(f"full log: {root / logs.LOG_NAME}")
    for line in lines:
        print(line, file=out)
        logs.log.info(line)


def main(argv=None, prog=None):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignments", nargs="*", default=None,
                        help="assignment ids (default: every assignment released with course release)")
    parser.add_argument("--root", default=None, help="nbgrader course folder (default: autograders/)")
    parser.add_argument("--db", default=None, help="gradebook SQLAlchemy URL (default: SQLite in the course folder)")
    parser.add_argument("--no-feedback", action="store_true", help="skip the feedback HTML")
    parser.add_argument("--force", action="store_true",
                        help="grade every submission again, even those unchanged since they were graded")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run student code without the sandbox (unsafe: only for notebooks you trust)")
    parser.add_argument("--cold-sandbox", action="store_true",
                        help="start a fresh sandbox per kernel (slower) instead of forking kernels from a warm one")
    parser.add_argument("--scheduler", default=None,
                        help="Dask scheduler address (tcp://host:8786): grade on that cluster's workers")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="submissions graded at once (default: one per CPU core)")
    parser.add_argument("--roster", default=None,
                        help="CSV: student_id plus name, email, login, sis_id (canvas_id, section): writes "
                             "canvas_grades.csv and moodle_grades.csv (default: <root>/roster.csv if present)")
    parser.add_argument("--missing", choices=("blank", "zero"), default="blank",
                        help="LMS exports: what a roster student with no graded submission gets (default: blank)")
    parser.add_argument("--moodle-id", choices=sorted(lms.MOODLE_IDENTIFIERS), default="email",
                        help="the identifier column of moodle_grades.csv (default: email)")
    parser.add_argument("--canvas-assignment", action="append", default=[], metavar="ID=CANVAS_ID",
                        help="Canvas's id of an assignment, so its import updates that assignment (repeatable)")
    parser.add_argument("--show-hidden-values", action="store_true",
                        help="feedback shows the hidden checks' expected values too (e.g. after the last deadline); "
                             "the same as COURSE_SHOW_HIDDEN_VALUES=1, and a switch regrades")
    args = parser.parse_args(argv)
    refuse_another_checkout(args.root)
    args.root = args.root or str(AUTOGRADERS)
    if args.show_hidden_values:  # read by the course's nbgrader config and the ledger, in every worker
        os.environ["COURSE_SHOW_HIDDEN_VALUES"] = "1"
    canvas_ids = dict(pair.split("=", 1) for pair in args.canvas_assignment if "=" in pair)
    if len(canvas_ids) != len(args.canvas_assignment):
        parser.error("--canvas-assignment takes ASSIGNMENT_ID=CANVAS_ID")
    if args.roster is not None and not Path(args.roster).is_file():
        parser.error(f"--roster {args.roster}: no such file")
    unknown = sorted(set(args.assignments or ()) - set(ASSIGNMENTS))
    if unknown:
        parser.error(f"unknown assignment id(s) {', '.join(unknown)}; known: {', '.join(ASSIGNMENTS)}")
    outcomes = grade_batch(Path(args.root).resolve(), args.assignments or None, args.db, not args.no_feedback, args.workers,
                           sandbox=False if args.no_sandbox else "cold" if args.cold_sandbox else True,
                           scheduler=args.scheduler, roster=args.roster, no_grade=args.missing,
                           moodle_id=args.moodle_id, canvas_ids=canvas_ids, force=args.force)
    return 1 if any(o.status == "not graded" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
