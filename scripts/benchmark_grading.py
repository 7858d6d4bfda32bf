"""Benchmark the grading command against plain nbgrader, and time the site's builds.

    python scripts/benchmark_grading.py [--assignment 05-nn-module] [--n 40] [--workers N] [--no-book]
    make bench

Builds a scratch course in a temporary folder, generates one assignment, and writes N
synthetic submissions cycled from tests/submissions.py's simulated students (right, partly
right, wrong, broken). Then it grades them twice, each time on a fresh copy of the course:
  - baseline: `nbgrader autograde <aid> --force` (the CLI, with the course's nbgrader config
    minus the sandbox: nbgrader's own way of running one fresh kernel per notebook);
  - ours: course.grading.batch.grade_batch(..., feedback=False, workers=N), sandbox on.
It checks that both gradebooks give the same score to every submission (a submission plain
nbgrader failed to grade and ours reported "not graded" count as equal), prints the seconds
per submission and the throughput ratio, and exits 1 if any score differs.
It then adds 5 new submissions to the graded 40 and grades again (only those 5 run: the
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
import itertools
import json
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


def run_ours(root, aid, work, workers):
    with open(work / "ours.log", "w") as log:
        start = time.monotonic()
        grade_batch(root, [aid], feedback=False, workers=workers, out=log)
        return time.monotonic() - start


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
    from course.grading.sandbox.kernel import SandboxedExecute

    timer = StageTimer()
    timer.wrap(NbGraderAPI, "autograde", "nbgrader autograde (all of it)")
    timer.wrap(NbGraderAPI, "generate_feedback", "feedback HTML")
    timer.wrap(NotebookClient, "async_start_new_kernel", "kernel start (fork from the warm sandbox)",
               "start_new_kernel")
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
        base_root, ours_root = work / "baseline", work / "ours"
        shutil.copytree(course, base_root)
        shutil.copytree(course, ours_root)
        print(f"grading {args.n} submissions of {aid} with plain nbgrader ...", flush=True)
        base_s = run_baseline(base_root, aid, work)
        print(f"grading them with grade_batch(workers={args.workers}) ...", flush=True)
        ours_s = run_ours(ours_root, aid, work, args.workers)
        print("adding 5 submissions to the 40 graded ones and grading again ...", flush=True)
        alone_root = work / "alone"
        shutil.copytree(course, alone_root, ignore=lambda folder, names: {"submitted"} & set(names))
        added = add_submissions(ours_root, aid, 5, args.n + 1)
        add_submissions(alone_root, aid, 5, args.n + 1)
        incremental_s = run_ours(ours_root, aid, work, args.workers)
        print("grading the same 5 alone ...", flush=True)
        alone_s = run_ours(alone_root, aid, work, args.workers)
        print("per-stage breakdown ...", flush=True)
        sample_root = work / "sample"
        shutil.copytree(course, sample_root)
        stages = breakdown(sample_root, aid, sorted(expected)[:14])
        print("similar submissions: the batch and a synthetic class of 500 ...", flush=True)
        similar_rows = similarity_times(course, aid, work)
        base, ours = scores(base_root, aid, expected), scores(ours_root, aid, expected)
        differ = [s for s in expected if base[s] != ours[s]]
        for s in differ:
            print(f"DIFFERENT {s} ({expected[s][0]}): nbgrader {base[s]}, ours {ours[s]}")
        off = [s for s in expected if ours[s] != expected[s][1]]
        for s in off:
            print(f"unexpected {s} ({expected[s][0]}): ours {ours[s]}, tests/submissions.py expects {expected[s][1]}")
        rows = [("plain nbgrader autograde (s/submission)", base_s / args.n, ""),
                (f"grade_batch, {args.workers} workers (s/submission)", ours_s / args.n, ""),
                ("throughput ratio (baseline / ours)", base_s / ours_s, "x"),
                (f"incremental: {len(added)} new beside {args.n} graded (s, total)", incremental_s, ""),
                (f"the same {len(added)} graded alone (s, total)", alone_s, ""),
                ("incremental minus alone (s)", incremental_s - alone_s, "")]
        rows += [(f"stage: {name}", seconds, " s/submission") for name, seconds in stages.items()]
        rows += similar_rows
        if args.book:
            print("timing the site's builds ...", flush=True)
            rows += [(f"book: {name} (s, target {BOOK_TARGETS[name]})", s, " OK" if s <= BOOK_TARGETS[name] else " SLOW")
                     for name, s in book_times(work).items()]
        print(f"\n{args.n} submissions of {aid}; total: nbgrader {base_s:.1f}s, ours {ours_s:.1f}s; "
              f"same scores: {args.n - len(differ)}/{args.n}; load average {os.getloadavg()}")
        for label, value, unit in rows:
            print(f"  {label:<52} {value:8.2f}{unit}")
        return 1 if differ else 0
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
