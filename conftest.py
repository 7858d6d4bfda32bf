"""pytest hooks for every notebook nbval collects (solutions/ and chapters/ as well as tests/),
so they live at the root: a conftest in tests/ would not see the notebooks' items."""
import os

import pytest


def pytest_collection_modifyitems(config, items):
    """COURSE_DEVICE=cuda runs the notebooks on a GPU; without one, skip them loudly."""
    if os.environ.get("COURSE_DEVICE") == "cuda":
        import torch

        if not torch.cuda.is_available():
            skip = pytest.mark.skip(reason="COURSE_DEVICE=cuda but torch.cuda.is_available() is False on this machine")
            for item in items:
                if item.nodeid.endswith(".ipynb") or ".ipynb::" in item.nodeid:
                    item.add_marker(skip)


_notebook_seconds = {}


def pytest_runtest_logreport(report):
    if ".ipynb::" in report.nodeid:
        notebook = report.nodeid.split("::")[0]
        _notebook_seconds[notebook] = _notebook_seconds.get(notebook, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    if _notebook_seconds:
        terminalreporter.section("notebook execution times (nbval, all cells)")
        for notebook, seconds in sorted(_notebook_seconds.items()):
            terminalreporter.write_line(f"{seconds:6.1f}s  {notebook}")


STOPPED = "This cell stopped with"  # course/notebook/setup_cell.py's one line for a cell that crashed


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A reference solution (solutions/) whose own check cell prints a FAIL line, or is not
    started, fails its nbval item: check cells catch every exception, so nbval alone would pass.
    A demo that crashed (the setup cell's guard says so in one line and carries on) fails its
    item in solutions/ and in chapters/ (where a stub raises NotImplementedError, nothing else)."""
    result = yield
    if item.nodeid.startswith(("solutions/", "chapters/")) and ".ipynb::" in item.nodeid:
        stderr = "".join(o.get("text", "") for o in getattr(item, "test_outputs", None) or []
                         if o.get("output_type") == "stream" and o.get("name") == "stderr")
        crashed = [line.strip() for line in stderr.splitlines() if line.startswith(STOPPED)]
        if crashed:
            raise AssertionError("a cell crashed (nbval sees no error: the guard reported it):\n" + "\n".join(crashed))
        failed = [line.strip() for line in stderr.splitlines() if line.startswith("  FAIL  ") or "not started" in line]
        if failed and item.nodeid.startswith("solutions/"):
            raise AssertionError("the reference solution fails its own checks:\n" + "\n".join(failed[:10]))
    return result
