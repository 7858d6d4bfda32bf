"""The student's pre-submission check exits non-zero when a check fails."""
import shutil
import subprocess
import sys

from course import source_notebook
from conftest import released_notebook

AID = "04-computational-graphs"


def check(path):
    return subprocess.run([sys.executable, "-m", "course.check", str(path)], capture_output=True, text=True)


def test_finished_notebook_passes(course_root, tmp_path):
    done = tmp_path / f"{AID}.ipynb"
    shutil.copyfile(source_notebook(AID), done)
    result = check(done)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every check passes" in result.stdout


def test_unfinished_notebook_fails_and_says_which_checks(course_root, tmp_path):
    stub = tmp_path / f"{AID}.ipynb"
    shutil.copyfile(released_notebook(course_root, AID), stub)
    result = check(stub)
    assert result.returncode == 1
    assert "FAIL" in result.stdout and "not implemented yet" in result.stdout


def test_unreadable_file_is_reported(tmp_path):
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{")
    result = check(broken)
    assert result.returncode == 2 and "cannot check" in result.stderr
