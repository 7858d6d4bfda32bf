"""Benchmark the grading command against plain nbgrader, and time the site's builds.

    python scripts/benchmark_grading.py [--assignment 05-nn-module] [--n 40] [--workers N] [--no-book]
    make bench

Builds a scratch course in a temporary folder, generates one assignment, and writes N
synthetic submissions cycled from tests/submissions.py's simulated students (right, partly
right, wrong, broken). Then it grades them, each time on a fresh copy of the course:
  - baseline: `nbgrader autograde <aid> --force` (the CLI, with the course's nbgrader config
    minus the sandbox: nbgrader's own way of running one fresh kernel per notebook);
  - ours: course.grading.batch.grade_batch(..., feedback=False, workers=N), sandbox on, three
    ways: as root (or as the user running the bench), as an ordinary user (a throwaway one,
    created and removed as tests/unix_users.py does; root only), and sent to a Dask
    LocalCluster of N single-threaded workers on this machine (its start not counted).
It checks that every gradebook gives the same score to every submission (a submission plain
nbgrader failed to grade and ours reported "not graded" count as equal), prints the seconds
per submission and the throughput ratio of each way side by side, one line per planted
broken student (why it was not graded), and exits 1 if any score differs. What nbgrader and
the graders print (a dying kernel's traceback) goes to logs in the scratch folder.
It then adds 5 new submissions to the graded ones and grades again (only those 5 run: the
others are unchanged since graded), and grades the same 5 alone in a fresh course, to show
the incremental case costs a small constant over grading 5. Finally it grades a sample in
this process with timers around each stage (per-stage breakdown, seconds per submission),
and times the similar-submissions step (course/instructor/similarity.py) on the batch and on a synthetic
class of 500 submissions (124,750 pairs).
With --book (the default) it also times a clean build of the site, a no-op rebuild and a
one-chapter rebuild, on a copy of the repository.
"""
import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient.util import run_sync
from nbgrader.api import Gradebook, MissingEntry

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from course import AUTOGRADERS  # noqa: E402
from course.grading.batch import grade_batch  # noqa: E402
from course.grading.gradebook import nbgrader_api  # noqa: E402
from course.authoring.release import release  # noqa: E402
from course.instructor import similarity  # noqa: E402
from submissions import other_assignment, reference_sources, students, variants  # noqa: E402

BIN = Path(sys.executable).parent
BOOK_TARGETS = {"clean build": 90, "no-op rebuild": 5, "one-chapter rebuild": 20}


def make_course(root, aid, n):
    """Generate `aid` into `root` and write n submissions; return {student: expected score}."""
    root.mkdir()
    release(aid, nbgrader_api(root), chapters=root / "chapters")
    released = nbformat.read(root / "release" / aid / f"{aid}.ipynb", as_version=4)
    kinds = itertools.cycle(students(aid, released, other_assignment(aid)).items())
    expected = {}
    for k, (kind, (content, score)) in zip(range(1, n + 1), kinds):
        student = f"s{k:04d}"
        path = root / "submitted" / student / aid / f"{aid}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(content if isinstance(content, str) else nbformat.writes(content))
        expected[student] = (kind, score)
    return expected


def run_baseline(root, aid, work):
    """Plain `nbgrader autograde`, run from a folder whose config loads the course's config."""
    config = work / "baseline-config"
    config.mkdir()
    (config / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"load_subconfig({str(AUTOGRADERS / 'nbgrader_config.py')!r})\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.db_url = {f'sqlite:///{root}/gradebook.db?timeout=60'!r}\n"
        "c.SandboxedExecute.sandbox = False\n")  # plain nbgrader: one ordinary kernel per notebook
    with open(work / "baseline.log", "w") as log:
        start = time.monotonic()
        subprocess.run([str(BIN / "nbgrader"), "autograde", aid, "--force"], cwd=config,
                       stdout=log, stderr=subprocess.STDOUT)
        return time.monotonic() - start


@contextlib.contextmanager
def quiet(log_path):
    """Point this process's stdout and stderr (fds 1 and 2, so also what its libraries and the
    processes it starts print) at `log_path`: the bench prints figures, not nbgrader's tracebacks."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "a") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def run_ours(root, aid, work, workers, scheduler=None, log_name="ours.log"):
    """(seconds, {student: Outcome}) of grade_batch on `root`, feedback off, sandbox on."""
    with quiet(work / log_name), open(work / log_name, "a") as log:
        start = time.monotonic()
        outcomes = grade_batch(root, [aid], feedback=False, workers=workers, out=log, scheduler=scheduler)
        return time.monotonic() - start, {o.student: o for o in outcomes}


def run_on_dask(root, aid, work, workers):
    """grade_batch sent to a Dask LocalCluster of `workers` single-threaded worker processes on
    this machine (the cluster's start is not counted: a course keeps its cluster running)."""
    from distributed import LocalCluster

    with quiet(work / "dask.log"):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.CRITICAL)
    try:
        return run_ours(root, aid, work, workers, scheduler=cluster.scheduler_address, log_name="dask.log")
    finally:
        with quiet(work / "dask.log"):
            cluster.close()


AS_USER = """
import json, sys, time
from pathlib import Path
from course.grading.batch import grade_batch
root, aid, workers = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
with open(root.parent / "ours-user.log", "w") as log:
    start = time.monotonic()
    outcomes = grade_batch(root, [aid], feedback=False, workers=workers, out=log)
    seconds = time.monotonic() - start
print(json.dumps({"seconds": seconds, "outcomes": [dataclasses.asdict(o) for o in outcomes]}))
""".replace("import json,", "import dataclasses, json,")


def run_as_ordinary_user(course, aid, workers):
    """The same grading as an ordinary user (a throwaway one, tests/unix_users.py: created here and
    removed with all it left), whose kernels the sandbox confines by user namespaces. Returns
    (seconds, {student: Outcome}, the course copy's scores) or None when users cannot be made."""
    from course.grading.batch import Outcome
    from unix_users import ordinary_users

    if os.geteuid() != 0 or not shutil.which("useradd"):
        return None
    with ordinary_users("course-bench") as (user,):
        root = user.home / "course"
        shutil.copytree(course, root)
        user.give(root)
        done = json.loads(user.python(AS_USER, root, aid, workers).stdout.strip().splitlines()[-1])
        outcomes = {o["student"]: Outcome(**o) for o in done["outcomes"]}
        return done["seconds"], outcomes, scores(root, aid, outcomes)


def scores(root, aid, students_):
    """{student: score, or None when the submission was not graded}, read from the gradebook."""
    result = {}
    with Gradebook(f"sqlite:///{root}/gradebook.db") as gb:
        for student in students_:
            graded = (root / "autograded" / student / aid / f"{aid}.ipynb").is_file()
            try:  # nbgrader may keep a record of a submission it failed to grade: not a score
                result[student] = gb.find_submission(aid, student).score if graded else None
            except MissingEntry:
                result[student] = None
    return result


def add_submissions(root, aid, n, start):
    """n more submissions, cycled from the simulated students, as students s{start}..."""
    released = nbformat.read(root / "release" / aid / f"{aid}.ipynb", as_version=4)
    kinds = itertools.cycle(students(aid, released, other_assignment(aid)).items())
    added = []
    for k, (kind, (content, score)) in zip(range(start, start + n), kinds):
        student = f"s{k:04d}"
        path = root / "submitted" / student / aid / f"{aid}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(content if isinstance(content, str) else nbformat.writes(content))
        added.append(student)
    return added


class StageTimer:
    """Seconds spent in each stage of grade_one, by wrapping the pieces in this process."""

    def __init__(self):
        self.seconds = {}

    def wrap(self, owner, name, stage, sync_alias=None):
        """Time owner.name; `sync_alias`: the run_sync() copy nbclient made of it, rebound too."""
        original = getattr(owner, name)
        timer = self
        if asyncio.iscoroutinefunction(original):
            async def timed(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return await original(*args, **kwargs)
                finally:
                    timer.seconds[stage] = timer.seconds.get(stage, 0.0) + time.perf_counter() - start
        else:
            def timed(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    timer.seconds[stage] = timer.seconds.get(stage, 0.0) + time.perf_counter() - start
        setattr(owner, name, timed)
        if sync_alias:
            setattr(owner, sync_alias, run_sync(timed))


def breakdown(root, aid, sample):
    """{stage: seconds per submission} over `sample` submissions graded one by one here."""
    from nbclient import NotebookClient
    from nbgrader.apps import NbGraderAPI
    from nbgrader.preprocessors import SaveAutoGrades
    from course.grading import batch as grade, ledger
    from course.grading.preprocessors import verdict
    from course.grading.preprocessors.execute import SandboxedExecute

    timer = StageTimer()
    timer.wrap(NbGraderAPI, "autograde", "nbgrader autograde (all of it)")
    timer.wrap(NbGraderAPI, "generate_feedback", "feedback HTML")
    timer.wrap(NotebookClient, "async_start_new_kernel", "kernel start (fork from the warm sandbox)", "start_new_kernel")
    timer.wrap(NotebookClient, "async_start_new_kernel_client", "kernel client connect + kernel_info",
               "start_new_kernel_client")
    timer.wrap(NotebookClient, "async_execute_cell", "cells: the notebook's code", "execute_cell")
    timer.wrap(NotebookClient, "_async_cleanup_kernel", "kernel shutdown + cleanup", "_cleanup_kernel")
    timer.wrap(SandboxedExecute, "preprocess", "execute step (kernel + cells + cleanup)")
    timer.wrap(verdict.SendValuesOnly, "preprocess", "verdict: strip expected values")
    timer.wrap(verdict.JudgeChecks, "preprocess", "verdict: judge the answers")
    timer.wrap(SaveAutoGrades, "preprocess", "SaveAutoGrades (gradebook)")
    timer.wrap(grade, "problem_with", "reading the submission")
    timer.wrap(ledger, "submission_hash", "ledger: hashes")
    timer.wrap(ledger, "assignment_version", "ledger: hashes")
    db = f"sqlite:///{root}/gradebook.db?timeout=60"
    with quiet(root / "breakdown.log"):
        grade.grade_one(str(root), db, aid, sample[0], True, True, True)  # warm the process and its sandbox
        timer.seconds.clear()
        start = time.perf_counter()
        for student in sample[1:]:
            grade.grade_one(str(root), db, aid, student, True, True, True)
        total = time.perf_counter() - start
    n = len(sample) - 1
    stages = {stage: seconds / n for stage, seconds in timer.seconds.items()}
    stages["total per submission (1 worker, feedback on)"] = total / n
    return stages


def synthetic_class(course, aid, root, n, seed=0):
    """n submissions of `aid` in a new course folder `root` (the release copied from `course`):
    each exercise answered with one of its right answers (the reference or a tests/variants
    one), a comment and 0-4 extra lines drawn from 300 (so that many pairs share a little
    code, the costly case). Students 2k and 2k+1, k < 5, hand in the same notebook, whose
    answers have 12 lines of their own besides (a right answer alone is what everybody writes)."""
    import random

    rng = random.Random(seed)
    (root / "release").mkdir(parents=True)
    shutil.copytree(course / "release" / aid, root / "release" / aid)
    released = (root / "release" / aid / f"{aid}.ipynb").read_text()
    reference = reference_sources(aid)
    right = {name: [source] + [v["source"] for v in variants(aid) if v["exercise"] == name and v["expect"] == "full"]
             for name, source in reference.items()}
    extra = [f"scratch_{j} = [{rng.randrange(1000)}, {rng.randrange(1000)}, {rng.randrange(1000)}] * {j}"
             for j in range(300)]
    for k in range(n):
        if k % 2 == 0 or k >= 10:  # else: the same notebook as student k - 1
            nb = json.loads(released)
            for cell in nb["cells"]:
                name = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                if name in right:
                    lines = rng.sample(extra, rng.randrange(5))
                    if k < 10:
                        lines += [f"own_{k}_{j} = [{rng.randrange(1000)}, {rng.randrange(1000)}] * {j}" for j in range(12)]
                    cell["source"] = (f"# student {k}\n" + rng.choice(right[name]).strip("\n") + "\n\n"
                                      + "\n".join(lines) + "\n")
        path = root / "submitted" / f"s{k:04d}" / aid / f"{aid}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(nb))


def similarity_times(course, aid, work, n=500):
    """[(label, value, unit)]: seconds of course.instructor.similarity.find_similar on the graded batch in
    `course` and on a synthetic class of n submissions (read, normalised, compared)."""
    start = time.perf_counter()
    [batch] = similarity.find_similar(course, [aid], top=10)
    batch_s = time.perf_counter() - start
    synthetic = work / f"similarity-{n}"
    synthetic_class(course, aid, synthetic, n)
    start = time.perf_counter()
    [big] = similarity.find_similar(synthetic, [aid], top=10)
    big_s = time.perf_counter() - start
    compare_s = similarity.compare(aid, similarity.read_answers(synthetic, aid)).seconds
    copied = {(f"s{2 * k:04d}", f"s{2 * k + 1:04d}") for k in range(5)}
    found = copied & {(p.student_a, p.student_b) for p in big.pairs}
    submitted = sum(1 for p in (course / "submitted").iterdir() if (p / aid).is_dir())
    return [(f"similarity: the batch, {submitted} submissions (s)", batch_s, ""),
            (f"similarity: synthetic, {n} submissions, {len(big.similarities)} pairs (s)", big_s, ""),
            ("similarity: synthetic, the comparison alone (s)", compare_s, ""),
            (f"similarity: synthetic, planted copies listed (of {len(copied)}; {len(big.pairs)} listed)", len(found), "")]


def book_times(work):
    """Seconds for a clean build, a no-op rebuild and a one-chapter rebuild of a copy of the site."""
    copy = work / "book"
    skip = {".venv", "_build", ".git", ".pytest_cache", "test-output"}
    shutil.copytree(ROOT, copy, ignore=lambda folder, names: skip & set(names) if folder == str(ROOT) else ())

    def build():
        start = time.monotonic()
        done = subprocess.run([str(BIN / "jupyter-book"), "build", str(copy), "--warningiserror"],
                              cwd=copy, capture_output=True, text=True)
        seconds = time.monotonic() - start
        if done.returncode != 0:
            print(done.stdout[-3000:] + done.stderr[-3000:], file=sys.stderr)
            raise SystemExit("jupyter-book build failed")
        return seconds

    times = {"clean build": build(), "no-op rebuild": build()}
    chapter = sorted((copy / "chapters").glob("*.ipynb"))[0]
    nb = json.loads(chapter.read_text())
    cell = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    cell["source"] = "".join(cell["source"]) + " "
    chapter.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    times["one-chapter rebuild"] = build()
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignment", default="05-nn-module")
    parser.add_argument("--n", type=int, default=40, help="number of submissions (default 40)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--book", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the site's builds (default: on)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder and print its path")
    args = parser.parse_args(argv)
    aid = args.assignment
    work = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        print(f"scratch: {work}; load average {os.getloadavg()}", flush=True)
        course = work / "course"
        expected = make_course(course, aid, args.n)
        base_root, ours_root, dask_root = work / "baseline", work / "ours", work / "dask"
        for copy in (base_root, ours_root, dask_root):
            shutil.copytree(course, copy)
        print(f"grading {args.n} submissions of {aid} with plain nbgrader ...", flush=True)
        base_s = run_baseline(base_root, aid, work)
        me = "root" if os.geteuid() == 0 else "this user"
        print(f"grading them with grade_batch(workers={args.workers}) as {me} ...", flush=True)
        modes = {me: run_ours(ours_root, aid, work, args.workers)}
        print("... as an ordinary user ...", flush=True)
        as_user = run_as_ordinary_user(course, aid, args.workers)
        if as_user is not None:
            modes["ordinary user"] = as_user[:2]
        print(f"... and on a Dask LocalCluster of {args.workers} workers ...", flush=True)
        modes["Dask, 1 machine"] = run_on_dask(dask_root, aid, work, args.workers)
        print("adding 5 submissions to the graded ones and grading again ...", flush=True)
        alone_root = work / "alone"
        shutil.copytree(course, alone_root, ignore=lambda folder, names: {"submitted"} & set(names))
        added = add_submissions(ours_root, aid, 5, args.n + 1)
        add_submissions(alone_root, aid, 5, args.n + 1)
        incremental_s, _ = run_ours(ours_root, aid, work, args.workers)
        print("grading the same 5 alone ...", flush=True)
        alone_s, _ = run_ours(alone_root, aid, work, args.workers)
        print("per-stage breakdown ...", flush=True)
        sample_root = work / "sample"
        shutil.copytree(course, sample_root)
        stages = breakdown(sample_root, aid, sorted(expected)[:14])
        print("similar submissions: the batch and a synthetic class of 500 ...", flush=True)
        similar_rows = similarity_times(course, aid, work)
        base = scores(base_root, aid, expected)
        graded_by = {me: scores(ours_root, aid, expected), "Dask, 1 machine": scores(dask_root, aid, expected)}
        if as_user is not None:
            graded_by["ordinary user"] = as_user[2]
        differ = sorted({(mode, s) for mode, got in graded_by.items() for s in expected if got[s] != base[s]})
        for mode, s in differ:
            print(f"DIFFERENT {s} ({expected[s][0]}): nbgrader {base[s]}, ours ({mode}) {graded_by[mode][s]}")
        for mode, got in graded_by.items():
            for s in expected:
                if got[s] != expected[s][1]:
                    print(f"unexpected {s} ({expected[s][0]}), {mode}: ours {got[s]}, "
                          f"tests/submissions.py expects {expected[s][1]}")
        for s in expected:  # the planted broken students: one line each, why they were not graded
            if expected[s][1] is None:
                whys = {mode: outcomes[s].message for mode, (_, outcomes) in modes.items()}
                why = (next(iter(whys.values())) if len(set(whys.values())) == 1
                       else "; ".join(f"{mode}: {message}" for mode, message in whys.items()))
                print(f"expected failure {s} ({expected[s][0]}), not graded: {why}")
        names = list(modes)
        rows = [("plain nbgrader autograde (s/submission)", base_s / args.n, "")]
        rows += [(f"grade_batch, {args.workers} workers (s/submission)", [modes[m][0] / args.n for m in names], "")]
        rows += [("throughput ratio (baseline / ours)", [base_s / modes[m][0] for m in names], "x"),
                 (f"incremental: {len(added)} new beside {args.n} graded (s, total)", incremental_s, ""),
                 (f"the same {len(added)} graded alone (s, total)", alone_s, ""),
                 ("incremental minus alone (s)", incremental_s - alone_s, "")]
        rows += [(f"stage: {name}", seconds, " s/submission") for name, seconds in stages.items()]
        rows += similar_rows
        if args.book:
            print("timing the site's builds ...", flush=True)
            rows += [(f"book: {name} (s, target {BOOK_TARGETS[name]})", s, " OK" if s <= BOOK_TARGETS[name] else " SLOW")
                     for name, s in book_times(work).items()]
        print(f"\n{args.n} submissions of {aid}; total: nbgrader {base_s:.1f}s, ours "
              + ", ".join(f"{m} {modes[m][0]:.1f}s" for m in names)
              + f"; same scores: {args.n - len({s for _, s in differ})}/{args.n}; load average {os.getloadavg()}")
        print(f"  {'':<52} " + " ".join(f"{m:>16}" for m in names))
        for label, value, unit in rows:
            if isinstance(value, list):
                print(f"  {label:<52} " + " ".join(f"{v:>15.2f}{unit or ' '}" for v in value))
            else:
                print(f"  {label:<52} {value:8.2f}{unit}")
        return 1 if differ else 0
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
