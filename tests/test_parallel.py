"""`make test`'s two processes (conftest.py's groups): every test of a file runs in one
process, and every file that grades in the sandbox in the same one, whatever pytest-xdist's
own loadgroup does."""
import json
import os
import subprocess
import sys

from course import ROOT

FILE = """
import json, os, pytest
{mark}
@pytest.mark.parametrize("n", range(6))
def test_{name}(n):
    with open("ran.jsonl", "a") as out:
        out.write(json.dumps([{name!r}, os.environ["PYTEST_XDIST_WORKER"]]) + "\\n")
"""


def test_a_file_and_the_sandbox_files_each_run_in_one_process(tmp_path):
    (tmp_path / "conftest.py").write_bytes((ROOT / "conftest.py").read_bytes())
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    sandbox: grades in the sandbox\n")
    files = {"sandboxed_a": True, "sandboxed_b": True, "plain_c": False, "plain_d": False, "plain_e": False}
    for name, sandboxed in files.items():
        (tmp_path / f"test_{name}.py").write_text(
            FILE.format(name=name, mark="pytestmark = pytest.mark.sandbox" if sandboxed else ""))
    scratch = tmp_path / "tmp"  # the workers' TMPDIR, where the groups file lives during the run
    scratch.mkdir()
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(scratch)))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    ran = [json.loads(line) for line in (tmp_path / "ran.jsonl").read_text().splitlines()]
    assert len(ran) == 6 * len(files)
    workers = {name: {worker for file, worker in ran if file == name} for name in files}
    assert all(len(used) == 1 for used in workers.values()), workers
    assert workers["sandboxed_a"] == workers["sandboxed_b"], workers
    assert len(set().union(*workers.values())) == 2, workers  # the other files did go to the other process
    assert not [p for p in scratch.iterdir() if "course-test-groups" in p.name], "the groups file is left behind"
