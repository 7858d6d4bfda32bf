"""The warm sandbox's start: from a relative interpreter path it starts; when it cannot start,
the batch stops before its first submission with bwrap's own words and the fallback."""
import os
import shutil
import subprocess
import sys

import nbformat
import pytest

from course import ROOT
from conftest import released_notebook

pytestmark = pytest.mark.sandbox

AID = "01-gradient-descent"
START = """
from course.grading.gradebook import nbgrader_config
from course.grading.sandbox.kernel import shared_warm_sandbox
from course.grading.sandbox.warm import Zygote, interpreter
shared_warm_sandbox(nbgrader_config(), 1)
Zygote._instance.ready()
print("ready:", interpreter())
"""
BROKEN = """
import multiprocessing.spawn, sys  # multiprocessing keeps the interpreter it saw: the real one
sys.executable = sys.prefix + "/bin/no-such-python"  # what the sandbox runs: a path it cannot execute
from course.grading.batch import main
sys.exit(main(sys.argv[1:]))
"""


def test_the_warm_sandbox_starts_from_a_relative_interpreter_path():
    """`../.venv/bin/python -m course grade` from autograders/: sys.executable keeps the `..`,
    through a folder the sandbox does not have."""
    cwd = ROOT / "autograders"
    relative = os.path.relpath(sys.executable, cwd)
    assert relative.startswith(".."), relative
    run = subprocess.run([relative, "-c", START], cwd=cwd, capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert run.returncode == 0, run.stderr[-3000:]
    started = run.stdout.split("ready: ", 1)[1].strip()
    assert ".." not in started and os.path.isabs(started) and os.path.samefile(started, sys.executable)


def test_a_warm_sandbox_that_cannot_start_stops_the_batch_at_once_with_its_cause(course_root, tmp_path):
    root = tmp_path / "course"
    shutil.copytree(course_root / "release" / AID, root / "release" / AID)  # the session's release, not a new one
    shutil.copyfile(course_root / "gradebook.db", root / "gradebook.db")
    submitted = root / "submitted" / "ada" / AID / f"{AID}.ipynb"
    submitted.parent.mkdir(parents=True)
    nbformat.write(nbformat.read(released_notebook(root, AID), as_version=4), submitted)
    # The deadline: a start that waits for a sandbox that never answers would run out of it.
    run = subprocess.run([sys.executable, "-c", BROKEN, "--root", str(root), "--workers", "1", AID],
                         capture_output=True, text=True, timeout=30, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    cause = f"bwrap: execvp {sys.prefix}/bin/no-such-python: No such file or directory"
    assert run.returncode != 0 and cause in run.stderr and "--cold-sandbox" in run.stderr, run.stderr[-3000:]
    log = (root / "grading.log").read_text()
    assert cause in log and "--cold-sandbox" in log
    assert "ada" not in run.stdout  # stopped before any submission: none was reported (or recorded)
    assert not (root / "autograded").exists()
