"""Generated files (built sources, chapter pages = student notebooks) match their text sources."""
import configparser
import re
import subprocess
from pathlib import Path

import jupytext
import nbformat
import pytest

from course import ASSIGNMENTS, CHAPTERS, ROOT, STEADY_KERNEL_ENV, catalog, source_notebook, source_text
from course.authoring import sources
from course.authoring.release import CHECKED_TAG, REFERENCE_TAG, grade_id
from conftest import released_notebook
from facts import DERIVED

SANITIZERS = configparser.ConfigParser()
SANITIZERS.read(Path(__file__).parent / "nbval_sanitize.cfg")


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_setup_cell_is_put_in_by_the_build(aid):
    """The source holds a placeholder; the notebook nbgrader generates from holds the shared cell."""
    text = jupytext.reads(source_text(aid).read_text(), fmt=sources.FORMAT)
    assert [c.source for c in text.cells if grade_id(c) == "setup"] == [sources.SETUP_PLACEHOLDER]
    built = nbformat.read(source_notebook(aid), as_version=4)
    assert [c.source for c in built.cells if grade_id(c) == "setup"] == [sources.setup_cell(aid)]
    assert sources.setup_cell(aid).startswith(sources.SETUP_CELL)


def test_no_notebook_is_a_source():
    """Chapter sources are text: no .ipynb is tracked under solutions/, and the text stores no output."""
    tracked = subprocess.run(["git", "ls-files", "solutions"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert tracked.stdout, "git ls-files found nothing: not a checkout?"
    assert not [f for f in tracked.stdout.split() if f.endswith(".ipynb")]
    for aid in ASSIGNMENTS:
        text = jupytext.reads(source_text(aid).read_text(), fmt=sources.FORMAT)
        assert not any(c.get("outputs") for c in text.cells if c.cell_type == "code"), aid


def test_points_are_declared_once_and_the_notebooks_agree():
    """Each check cell's points (what nbgrader counts) and the prose's "(N points)" are the catalog's,
    and a check cell's code names none."""
    declared = catalog.points()
    for aid in ASSIGNMENTS:
        built = nbformat.read(source_notebook(aid), as_version=4)
        for cell in built.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade"):
                exercise = meta["grade_id"].removeprefix("test_")
                assert meta["points"] == declared[exercise], f"{aid}: {exercise}"
                assert re.search(r"^checks = Checks\(\s*[\"'][^\"']+[\"']\s*\)", cell.source, re.M), \
                    f"{aid}: {exercise}'s check cell must build Checks(name) only: its points are the catalog's"
            if cell.cell_type == "markdown":
                assert "{{" not in cell.source, f"{aid}: a placeholder was left in the prose"
        stated = re.findall(r"\((\d+(?:\.\d+)?) points?\)", source_text(aid).read_text())
        assert not stated, f"{aid}: the source states points by hand {stated}: write {{{{ points:NAME }}}}"


def test_a_changed_point_count_reaches_the_notebook_and_a_wrong_name_is_refused():
    """One edit changes an exercise's points everywhere; a source naming an unknown exercise is an error."""
    aid = "01-gradient-descent"
    changed = {**catalog.points(), "fun_dz": 7}
    built = sources.notebook(aid, points=changed)
    check = next(c for c in built.cells if grade_id(c) == "test_fun_dz")
    assert check.metadata["nbgrader"]["points"] == 7
    assert any("(7 points)" in c.source for c in built.cells if c.cell_type == "markdown")
    with pytest.raises(sources.SourceError, match="fun_dz.*names no exercise"):
        sources.notebook(aid, points={k: v for k, v in changed.items() if k != "fun_dz"})


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_building_twice_gives_the_same_bytes_and_ids(aid, tmp_path):
    first = sources.build(aid, out=tmp_path / "a").read_bytes()
    assert sources.build(aid, out=tmp_path / "b").read_bytes() == first
    built = nbformat.reads(first.decode(), as_version=4)
    for n, cell in enumerate(built.cells):
        assert cell.id == (grade_id(cell) or f"{aid[:2]}-{n:03d}")


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_committed_chapter_is_a_fresh_release(course_root, aid):
    """The committed page is what a release from the source hands out now (a release into a
    scratch course, compared with the repository's file; release() writes both from one run)."""
    committed = CHAPTERS / f"{aid}.ipynb"
    assert committed.is_file(), f"{committed} is missing: run `make release`"
    fresh = released_notebook(course_root, aid).read_text()
    assert comparable(committed.read_text()) == comparable(fresh), \
        f"{committed} is stale against {source_notebook(aid)}: run `make release`"


def comparable(page):
    """A page as another machine's release must match it. Its runs' last float digits and figure
    bytes are the CPU's (pages made on one Xeon differed on another in 05, 07 and 08, one math
    thread both times), so they are compared as nbval compares outputs: to 4 decimals, figures
    by their kind; sources, metadata, ids and everything else exactly."""
    def digits(text):  # and a figure quoted in a reference-output cell, by its kind
        text = re.sub(r"data:(image/[\w+]+);base64,[A-Za-z0-9+/=]+", r"<\1>", text)
        return re.sub(SANITIZERS["float-digits"]["regex"], SANITIZERS["float-digits"]["replace"], text)

    nb = nbformat.reads(page, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":  # a reference-output cell quotes a run
            cell.source = digits(cell.source)
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = digits(output["text"])
            for kind, value in output.get("data", {}).items():
                output["data"][kind] = f"<{kind}>" if kind.startswith("image/") else digits(str(value))
    return nbformat.writes(nb)


def printed(cell):
    """A cell's stored text outputs as nbval compares them (its sanitizers applied)."""
    text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.outputs)
    for section in SANITIZERS.sections():
        text = re.sub(SANITIZERS[section]["regex"], SANITIZERS[section]["replace"], text)
    return text


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_chapter_compares_the_reference_numbers_with_nbval(course_root, aid):
    """Every cell tagged nbval-check-output in the source is on the page with the reference run's
    outputs, which nbval compares with the page's own run (a demo that needs an exercise shows
    them in its reference-output cell instead)."""
    source = nbformat.read(source_notebook(aid), as_version=4).cells
    page = {c.id: c for c in nbformat.read(released_notebook(course_root, aid), as_version=4).cells}
    checked = [c for c in source if CHECKED_TAG in c.metadata.get("tags", [])]
    for cell in checked:
        assert cell.id in page, f"{aid}: a checked cell is not on the page\n{cell.source[:200]}"
        shown = page[cell.id]
        if "uses-exercise" in cell.metadata.get("tags", []):
            continue
        assert CHECKED_TAG in shown.metadata.get("tags", []), f"{aid}: nbval would not compare\n{cell.source[:200]}"
        assert shown.execution_count and printed(shown).strip(), f"{aid}: no reference output to compare\n{cell.source[:200]}"


@pytest.mark.parametrize("aid", sorted(DERIVED))
def test_pages_show_the_independently_derived_numbers(aid):
    """The reference run's outputs on the page (checked cells and reference-output cells) show the
    numbers facts.py derives without the chapter's code; nbval also checks a fresh run prints
    them (conftest.py)."""
    cells = nbformat.read(CHAPTERS / f"{aid}.ipynb", as_version=4).cells
    shown = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for c in cells
                    if c.cell_type == "code" and CHECKED_TAG in c.metadata.get("tags", []) for o in c.outputs)
    shown += "".join(c.source for c in cells if REFERENCE_TAG in c.metadata.get("tags", []))
    missing = [fact for fact in DERIVED[aid] if fact not in shown]
    assert not missing, f"{aid}: the page does not show {missing}"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_every_demo_that_needs_an_exercise_shows_the_reference_output(course_root, aid):
    cells = nbformat.read(released_notebook(course_root, aid), as_version=4).cells
    for cell, after in zip(cells, cells[1:] + [None]):
        if "uses-exercise" in cell.metadata.get("tags", []):
            assert "remove-output" in cell.metadata["tags"]
            assert after is not None and REFERENCE_TAG in after.metadata.get("tags", [])
            assert "Reference output" in after.source and len(after.source) > 100


def test_make_book_gives_its_kernels_the_release_s_environment():
    """The Makefile cannot import it, so it repeats course.STEADY_KERNEL_ENV: the two must agree,
    or the site's pages would differ from the release's in their last digits."""
    exported = dict(re.findall(r"^book: export (\w+) := (.*)$", (ROOT / "Makefile").read_text(), re.M))
    assert {name: value.replace("$(CURDIR)", str(ROOT)) for name, value in exported.items()} == STEADY_KERNEL_ENV


def test_a_page_is_stale_when_its_source_or_numbers_change_not_its_last_digits():
    page = nbformat.read(CHAPTERS / "08-classification.ipynb", as_version=4)
    same = comparable(nbformat.writes(page))
    outputs = [o for c in page.cells for o in c.get("outputs", []) if re.search(r"\d\.\d{6}", o.get("text", ""))]
    figures = [o for c in page.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert outputs and figures
    outputs[0]["text"] = re.sub(r"(\d\.\d{5})\d", r"\g<1>9", outputs[0]["text"], count=1)  # another CPU's rounding
    figures[0]["data"]["image/png"] = figures[0]["data"]["image/png"][::-1]
    assert comparable(nbformat.writes(page)) == same
    outputs[0]["text"] = re.sub(r"(\d\.)(\d)", lambda m: m.group(1) + str((int(m.group(2)) + 1) % 10), outputs[0]["text"], count=1)
    assert comparable(nbformat.writes(page)) != same  # a number that changed
    page = nbformat.read(CHAPTERS / "08-classification.ipynb", as_version=4)
    code = next(c for c in page.cells if c.cell_type == "code" and c.source)
    code.source += "\n# one more line"
    assert comparable(nbformat.writes(page)) != same  # a source that changed
