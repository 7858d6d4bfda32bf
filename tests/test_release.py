"""Generated files (chapter pages = student notebooks) match their sources."""
import nbformat
import pytest

from course import ASSIGNMENTS, CHAPTERS, source_notebook
from course.release import REFERENCE_TAG, SETUP_CELL, grade_id
from conftest import released_notebook


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_setup_cell_is_the_shared_one(aid):
    cells = nbformat.read(source_notebook(aid), as_version=4).cells
    assert [c.source for c in cells if grade_id(c) == "setup"] == [SETUP_CELL], \
        "run `make release` to copy course/setup_cell.py into every source"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_committed_chapter_is_not_stale(course_root, aid):
    fresh = (course_root / "chapters" / f"{aid}.ipynb").read_text()
    committed = CHAPTERS / f"{aid}.ipynb"
    assert committed.is_file(), f"{committed} is missing: run `make release`"
    assert committed.read_text() == fresh, f"{committed} is stale against {source_notebook(aid)}: run `make release`"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_release_is_the_chapter_notebook(course_root, aid):
    assert released_notebook(course_root, aid).read_text() == (course_root / "chapters" / f"{aid}.ipynb").read_text()


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_every_demo_that_needs_an_exercise_shows_the_reference_output(course_root, aid):
    cells = nbformat.read(released_notebook(course_root, aid), as_version=4).cells
    for cell, after in zip(cells, cells[1:] + [None]):
        if "uses-exercise" in cell.metadata.get("tags", []):
            assert "remove-output" in cell.metadata["tags"]
            assert after is not None and REFERENCE_TAG in after.metadata.get("tags", [])
            assert "Reference output" in after.source and len(after.source) > 100
