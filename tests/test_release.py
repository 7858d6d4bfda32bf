"""Generated files (chapter pages = student notebooks) match their sources."""
import configparser
import re
from pathlib import Path

import nbformat
import pytest

from course import ASSIGNMENTS, CHAPTERS, source_notebook
from course.authoring.release import CHECKED_TAG, REFERENCE_TAG, grade_id, setup_cell
from conftest import released_notebook
from facts import DERIVED

SANITIZERS = configparser.ConfigParser()
SANITIZERS.read(Path(__file__).parent / "nbval_sanitize.cfg")


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_setup_cell_is_the_shared_one(aid):
    cells = nbformat.read(source_notebook(aid), as_version=4).cells
    assert [c.source for c in cells if grade_id(c) == "setup"] == [setup_cell(aid)], \
        "run `make release` to copy course/notebook/setup_cell.py into every source"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_committed_chapter_is_a_fresh_release(course_root, aid):
    """The committed page is what a release from the source hands out now (a release into a
    scratch course, compared with the repository's file; release() writes both from one run)."""
    committed = CHAPTERS / f"{aid}.ipynb"
    assert committed.is_file(), f"{committed} is missing: run `make release`"
    fresh = released_notebook(course_root, aid).read_text()
    assert committed.read_text() == fresh, f"{committed} is stale against {source_notebook(aid)}: run `make release`"


def printed(cell):
    """A cell's stored text outputs as nbval compares them (its sanitizers applied)."""
    text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.outputs)
    for section in SANITIZERS.sections():
        text = re.sub(SANITIZERS[section]["regex"], SANITIZERS[section]["replace"], text)
    return text


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_chapter_compares_the_reference_numbers_with_nbval(course_root, aid):
    """Cells whose printed numbers nbval checks in the source are checked on the chapter page
    too: same tag, the source's stored outputs (a demo that needs an exercise shows them in
    its reference-output cell instead)."""
    source = {c.id: c for c in nbformat.read(source_notebook(aid), as_version=4).cells}
    page = nbformat.read(released_notebook(course_root, aid), as_version=4).cells
    checked = [c for c in source.values() if CHECKED_TAG in c.metadata.get("tags", [])]
    for cell in page:
        if cell.id not in source or CHECKED_TAG not in source[cell.id].metadata.get("tags", []):
            continue
        if "uses-exercise" in cell.metadata.get("tags", []):
            continue
        assert CHECKED_TAG in cell.metadata.get("tags", []), f"{aid}: nbval would not compare\n{cell.source[:200]}"
        assert cell.execution_count and printed(cell) == printed(source[cell.id]), \
            f"{aid}: the page stores other numbers than the source's snapshot\n{cell.source[:200]}"
    assert all(any(p.id == c.id for p in page) for c in checked), f"{aid}: a checked cell is not on the page"


@pytest.mark.parametrize("aid", sorted(DERIVED))
def test_snapshots_hold_the_independently_derived_numbers(aid):
    """What nbval compares against (outputs `make release` recorded from the source) must show
    the numbers the syllabus and facts.py derive without the chapter's code."""
    printed = "".join(o.get("text", "") for c in nbformat.read(source_notebook(aid), as_version=4).cells
                      if CHECKED_TAG in c.metadata.get("tags", []) for o in c.outputs)
    missing = [fact for fact in DERIVED[aid] if fact not in printed]
    assert not missing, f"{aid}: the recorded outputs do not show {missing}"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_every_demo_that_needs_an_exercise_shows_the_reference_output(course_root, aid):
    cells = nbformat.read(released_notebook(course_root, aid), as_version=4).cells
    for cell, after in zip(cells, cells[1:] + [None]):
        if "uses-exercise" in cell.metadata.get("tags", []):
            assert "remove-output" in cell.metadata["tags"]
            assert after is not None and REFERENCE_TAG in after.metadata.get("tags", [])
            assert "Reference output" in after.source and len(after.source) > 100
