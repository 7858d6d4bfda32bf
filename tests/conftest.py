import os
import subprocess
import sys

import pytest

from course import ASSIGNMENTS, ROOT
from course.grading.gradebook import nbgrader_api
from course.authoring.release import release_all

SITE = ROOT / "_build" / "html"


@pytest.fixture(scope="session")
def course_root(tmp_path_factory):
    """A scratch nbgrader course with every assignment generated from solutions/."""
    root = tmp_path_factory.mktemp("course")
    api = nbgrader_api(root)
    list(release_all(ASSIGNMENTS, api, chapters=root / "chapters"))
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


def pytest_collection_modifyitems(items):
    """What needs the whole course released or the site built is slow (`make quick` leaves it out)."""
    for item in items:
        if {"course_root", "site"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
