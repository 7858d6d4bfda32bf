"""Grade on a GPU: every assignment's simulated students and variant students (tests/submissions.py)
graded by `course grade`'s batch, the scores compared with those the CPU gives.

    COURSE_DEVICE=cuda python scripts/gpu_check.py [--workers 4] [--sandbox warm|cold] [ASSIGNMENT ...]

Simulated students must get their expected totals; a variant student's every test must get full
marks where the variant is right and lose marks where it is wrong (tests/variants/). One line per
assignment (submissions, mismatches, seconds), then each mismatch; exit 1 on any. The graded
notebooks showing a tensor on CUDA are counted (not every chapter prints one).
`scripts/gpu_check.sh` runs it with the notebooks under nbval on a machine lent with a GPU.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "scripts"), str(ROOT)]

from nbgrader.api import Gradebook, MissingEntry  # noqa: E402

from benchmark_grading import make_course, quiet, scores  # noqa: E402
from course import ASSIGNMENTS  # noqa: E402
from course.grading.batch import grade_batch  # noqa: E402
from submissions import variant_students  # noqa: E402


def add_variant_students(root, aid):
    """Write the variant students' notebooks; return {student: {test: (expect, variant)}}."""
    released = nbformat.read(root / "release" / aid / f"{aid}.ipynb", as_version=4)
    expected = {}
    for student, (notebook, expect) in variant_students(aid, released).items():
        path = root / "submitted" / student / aid / f"{aid}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(notebook, path)
        expected[student] = expect
    return expected


def variant_mismatches(root, aid, expected):
    wrong = []
    with Gradebook(f"sqlite:///{root}/gradebook.db") as gb:
        for student, tests in expected.items():
            for test, (expect, name) in tests.items():
                try:
                    grade = gb.find_grade(test, aid, aid, student)
                    score, top = grade.score, grade.max_score
                except MissingEntry:
                    score, top = None, None
                ok = score == top if expect == "full" else (score is not None and score < top)
                if not ok:
                    wrong.append(f"{aid} {student} {test}: variant {name!r} should {expect}, got {score}/{top}")
    return wrong


def on_cuda(root, aid, students):
    """How many graded notebooks show a tensor on CUDA in their outputs (device='cuda:0')."""
    paths = [root / "autograded" / s / aid / f"{aid}.ipynb" for s in students]
    return sum(1 for p in paths if p.is_file() and "device='cuda" in p.read_text())


def errors_shown(root, aid, students, most=6):
    """The distinct errors (name: first line of the value) in the graded notebooks of `students`,
    less the chapter's deliberate ones (tagged raises-exception): what a mismatch on CUDA came
    from, when a cell crashed. A check that fails raises nothing: its score says so."""
    seen = {}
    for student in students:
        path = root / "autograded" / student / aid / f"{aid}.ipynb"
        if not path.is_file():
            seen.setdefault(f"no graded notebook ({student})", student)
            continue
        for cell in nbformat.read(path, as_version=4).cells:
            if "raises-exception" in cell.metadata.get("tags", []):
                continue
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    line = f"{output.get('ename')}: {(str(output.get('evalue')).splitlines() or [''])[0]}"
                    seen.setdefault(line[:300], f"{student} {cell.metadata.get('nbgrader', {}).get('grade_id', '')}")
    return [f"{where}: {line}" for line, where in list(seen.items())[:most]]


def main(argv=None):
    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("assignments", nargs="*", default=ASSIGNMENTS)
    args.add_argument("--workers", type=int, default=4)
    args.add_argument("--sandbox", choices=["warm", "cold"], default="warm")
    opts = args.parse_args(argv)
    sandbox = True if opts.sandbox == "warm" else "cold"
    print(f"COURSE_DEVICE={os.environ.get('COURSE_DEVICE', '')!r}, sandbox {opts.sandbox}, {opts.workers} workers")
    failures = []
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
        for aid in opts.assignments:
            root = Path(scratch) / aid
            expected = make_course(root, aid, 13)
            variant_expected = add_variant_students(root, aid)
            start = time.monotonic()
            with quiet(Path(scratch) / f"{aid}.log"), open(Path(scratch) / f"{aid}.log", "a") as log:
                outcomes = grade_batch(root, [aid], feedback=True, workers=opts.workers, out=log, sandbox=sandbox)
            seconds = time.monotonic() - start
            got = scores(root, aid, {o.student for o in outcomes})
            wrong = [f"{aid} {s} ({kind}): expected {score}, got {got.get(s)}"
                     for s, (kind, score) in expected.items() if got.get(s) != score]
            wrong += variant_mismatches(root, aid, variant_expected)
            n = len(expected) + len(variant_expected)
            print(f"{aid}: {n} submissions, {len(wrong)} mismatches, {seconds:.1f} s "
                  f"({seconds / n:.2f} s each), {on_cuda(root, aid, got)} show tensors on CUDA", flush=True)
            failures += wrong
            if wrong:  # at once: a later assignment may run past the caller's timeout
                print((Path(scratch) / f"{aid}.log").read_text()[-1500:])
                for line in wrong:
                    print("  MISMATCH", line)
                for line in errors_shown(root, aid, sorted({line.split()[1] for line in wrong})):
                    print("  ERROR SHOWN", line, flush=True)
    print(f"{len(failures)} mismatches in all")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
