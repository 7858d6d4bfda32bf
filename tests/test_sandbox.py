"""The sandbox's settings: refusal when it cannot start, per-cell timeouts, output budget."""
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from course import sandbox
from course.grade import grade_batch


def test_grading_refuses_loudly_without_bubblewrap(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    sandbox.check_available.cache_clear()  # an earlier success in this process is remembered
    with pytest.raises(SystemExit, match="(?s)refusing to grade.*bubblewrap.*--no-sandbox"):
        grade_batch(tmp_path, ["01-gradient-descent"])


def test_a_cell_may_ask_for_more_time_up_to_the_cap():
    execute = sandbox.SandboxedExecute(timeout=30, max_cell_timeout=100)
    cell = new_code_cell("pass")
    assert execute.cell_timeout(cell) == 30
    cell.metadata["course"] = {"timeout": 60}
    assert execute.cell_timeout(cell) == 60
    cell.metadata["course"] = {"timeout": 10**6}
    assert execute.cell_timeout(cell) == 100
    cell.metadata["course"] = {"timeout": "forever"}
    assert execute.cell_timeout(cell) == 30


def test_kernel_runs_confined_and_output_is_cut(tmp_path):
    (tmp_path / "data.txt").write_text("the student's own file")
    nb = new_notebook(cells=[new_code_cell(code) for code in [
        "import os; print(os.getuid() != 0, open('data.txt').read(), os.path.exists(%r))" % str(sandbox.__file__),
        "for _ in range(5000): print('y' * 1000)",
        "import tempfile; tempfile.NamedTemporaryFile().close(); print('temporary files work')",
    ]])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    execute = sandbox.SandboxedExecute(timeout=60, max_output_bytes=100_000)
    nb, _ = execute.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    assert nb.cells[0].outputs[0].text == "True the student's own file False\n"
    flood = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert len(flood) < 200_000 and "output cut" in flood
    assert nb.cells[2].outputs[0].text == "temporary files work\n"
    assert nbformat.validate(nb) is None
