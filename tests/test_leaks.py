"""No solution code or hidden test reaches a student: chapters/, the site, the release."""
import pytest

from course import ASSIGNMENTS, CHAPTERS, source_notebook
from leaks import find_leaks, secret_lines
from conftest import released_notebook

TEXT_SUFFIXES = {".html", ".ipynb", ".js", ".txt", ".json", ".md", ".py", ".css"}


@pytest.fixture(scope="module")
def secrets():
    found = set().union(*(secret_lines(source_notebook(aid)) for aid in ASSIGNMENTS))
    assert len(found) > 20, "the sources should hold solution and hidden-test lines to look for"
    return found


def test_scanner_finds_a_planted_leak(tmp_path, secrets):
    line = sorted(secrets)[0]
    page = tmp_path / "page.html"
    page.write_text(f"<pre><span>{line[:10]}</span>{line[10:]}</pre>".replace('"', "&quot;"))
    assert find_leaks([page], secrets) == [(page, line)]


def test_chapters_folder_has_no_leak(secrets):
    assert find_leaks(sorted(p for p in CHAPTERS.rglob("*") if p.is_file()), secrets) == []


def test_released_notebooks_have_no_leak(course_root, secrets):
    assert find_leaks([released_notebook(course_root, aid) for aid in ASSIGNMENTS], secrets) == []


def test_a_release_holds_the_notebook_and_check_py_only(course_root, secrets):
    """nbgrader copies every other file of a source folder into the release: the chapters' text
    sources (solutions/<id>/<id>.md) and anything beside them must not get there."""
    for aid in ASSIGNMENTS:
        folder = course_root / "release" / aid
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        assert {p.relative_to(folder).as_posix() for p in files} == {"check.py", f"{aid}.ipynb"}, aid
        assert find_leaks(files, secrets) == []


def test_the_scanner_reads_every_kind_of_file(tmp_path, secrets):
    """A text source copied into a release would be caught: the scan reads .md and any other file as text."""
    line = sorted(secrets)[-1]
    for name in ("leaked.md", "notes"):
        (tmp_path / name).write_text(f"some prose\n{line}\n")
    assert find_leaks(sorted(tmp_path.iterdir()), secrets) == [(tmp_path / "leaked.md", line), (tmp_path / "notes", line)]


def test_built_site_has_no_leak(site, secrets):
    files = sorted(p for p in site.rglob("*") if p.suffix in TEXT_SUFFIXES)
    assert len(files) > 10
    assert find_leaks(files, secrets) == []
