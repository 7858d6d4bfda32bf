"""An author's path: `course new-chapter` and `course new-exercise` in a scratch copy of the
repository, the TODOs filled in as an author would, then the new chapter releases, grades
(the reference full marks, the untouched release 0) and builds into a page."""
import csv
import os
import subprocess
import sys

import nbformat
import pytest

from course import catalog
from test_walkthrough import fresh_copy

pytestmark = pytest.mark.sandbox

AID, NAME = "09-scaffolded", "double"


def run(*args, cwd, timeout=300):
    result = subprocess.run([sys.executable, "-m", "course", *args], cwd=cwd, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"course {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory):
    repo = tmp_path_factory.mktemp("fork") / "course"
    repo.mkdir()
    fresh_copy(repo)  # the files a clone has
    run("new-chapter", AID, "--title", "A scaffolded chapter", "--topic", "Doubling numbers", cwd=repo)
    run("new-exercise", AID, NAME, "--signature", f"def {NAME}(x)", "--points", "2", cwd=repo)
    return repo


def test_the_new_chapter_is_in_every_place_that_lists_chapters(scaffolded):
    chapters = catalog.read(scaffolded / "solutions" / "catalog.toml")
    assert [c.id for c in chapters][-1] == AID and [(e.name, e.points) for e in chapters[-1].exercises] == [(NAME, 2)]
    assert f"- file: chapters/{AID}" in (scaffolded / "_toc.yml").read_text()
    assert f"| {{doc}}`{AID}` | Doubling numbers | `{NAME}` |" in (scaffolded / "chapters" / "intro.md").read_text()
    variants = (scaffolded / "tests" / "variants" / f"{AID}.toml").read_text()
    assert variants.count(f'exercise = "{NAME}"') == 2


def test_a_scaffold_refuses_what_would_break_the_course(scaffolded):
    for args, says in [(("new-chapter", AID, "--title", "again"), "exists already"),
                       (("new-chapter", "nine", "--title", "x"), "not a chapter id"),
                       (("new-exercise", AID, NAME, "--signature", "def double(x)", "--points", "1"), "exists already"),
                       (("new-exercise", AID, "triple", "--signature", "def treble(x)", "--points", "1"), "must define triple"),
                       (("new-exercise", "99-none", "triple", "--signature", "def triple(x)", "--points", "1"), "no chapter")]:
        result = subprocess.run([sys.executable, "-m", "course", *args], cwd=scaffolded, capture_output=True, text=True)
        assert result.returncode == 2 and says in result.stderr, (args, result.stderr)


def test_the_filled_in_chapter_releases_grades_and_builds(scaffolded):
    source = scaffolded / "solutions" / AID / f"{AID}.md"
    text = source.read_text()
    assert text.count("TODO_x") == 2
    text = text.replace('raise NotImplementedError("TODO: the reference solution")', "return 2 * x")
    text = text.replace(f"{NAME}(TODO_x), TODO_expected", f"{NAME}(1.5), 3.0", 1)
    text = text.replace(f"{NAME}(TODO_x), TODO_expected", f"{NAME}(-2.25), -4.5", 1)
    source.write_text(text)
    run("release", AID, cwd=scaffolded)
    course = scaffolded / "autograders"
    released = nbformat.read(course / "release" / AID / f"{AID}.ipynb", as_version=4)
    for student, body in (("reference", "    return 2 * x"), ("stub", None)):
        nb = nbformat.from_dict(released)
        if body:
            cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == NAME)
            cell.source = cell.source.replace("    # YOUR CODE HERE\n    raise NotImplementedError()", body)
            assert body in cell.source, cell.source
        folder = course / "submitted" / student / AID
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{AID}.ipynb")
    run("grade", AID, "--workers", "1", cwd=scaffolded)
    with (course / "grades.csv").open() as rows:
        scores = {r["student_id"]: float(r["score"]) for r in csv.DictReader(rows) if r["assignment"] == AID}
    assert scores == {"reference": 2.0, "stub": 0.0}
    toc = scaffolded / "_toc_scaffolded.yml"
    toc.write_text(f"format: jb-book\nroot: chapters/{AID}\n")
    book = subprocess.run([os.path.join(os.path.dirname(sys.executable), "jupyter-book"), "build", str(scaffolded),
                           "--toc", str(toc), "--warningiserror", "--keep-going"], capture_output=True, text=True,
                          cwd=scaffolded, timeout=600)
    assert book.returncode == 0, book.stdout[-3000:] + book.stderr[-3000:]
    page = (scaffolded / "_build" / "html" / "chapters" / f"{AID}.html").read_text()
    assert "A scaffolded chapter" in page and "2 points" in page and "return 2 * x" not in page
