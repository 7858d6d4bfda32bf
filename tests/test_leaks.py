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


def test_built_site_has_no_leak(site, secrets):
    files = sorted(p for p in site.rglob("*") if p.suffix in TEXT_SUFFIXES)
    assert len(files) > 10
    assert find_leaks(files, secrets) == []
