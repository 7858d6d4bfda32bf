import os
import subprocess
import sys

import pytest

from course import ASSIGNMENTS, ROOT
from course.gradebook import nbgrader_api
from course.release import release

SITE = ROOT / "_build" / "html"


@pytest.fixture(scope="session")
def course_root(tmp_path_factory):
    """A scratch nbgrader course with all six assignments generated from solutions/."""
    root = tmp_path_factory.mktemp("course")
    api = nbgrader_api(root)
    for aid in ASSIGNMENTS:
        release(aid, api, chapters=root / "chapters")
    return root


def released_notebook(root, aid):
    return root / "release" / aid / f"{aid}.ipynb"


def build_book():
    """`make book`'s build command; returns the finished process."""
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "jupyter-book"), "build", str(ROOT),
         "--warningiserror", "--keep-going"],
        capture_output=True, text=True, cwd=ROOT,
    )


@pytest.fixture(scope="session")
def site():
    """The site as `make book` builds it (cached execution makes a rebuild cheap)."""
    build = build_book()
    assert build.returncode == 0, build.stdout[-5000:] + build.stderr[-5000:]
    return SITE


# --- nbval: device switch and per-notebook execution times -------------------------

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
