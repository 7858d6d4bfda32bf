"""The site after the deadline: every exercise shows its reference solution, folded under its stub.

    course solutions-site        (make book-solutions)

Writes a copy of the book's sources to _build/solutions/src with the chapters' solutions
inserted, and builds it into _build/solutions/_build/html with the main build's execution
cache (only markdown is added, so no chapter runs again). The default site (`make book`)
never contains solution code; tests/test_leaks.py keeps guarding it.
"""
import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

from course import ASSIGNMENTS, CHAPTERS, ROOT, source_notebook
from course.authoring.release import grade_id

OUT = ROOT / "_build" / "solutions"
SOLUTION_TAG = "reference-solution"


def solution_code(source):
    """A solution cell's code without nbgrader's markers."""
    return "\n".join(line for line in source.splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")).strip("\n")


def with_solutions(chapter, source):
    """The chapter notebook with a folded reference solution after every exercise's stub."""
    solutions = {grade_id(c): solution_code(c.source) for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    cells = []
    for cell in chapter.cells:
        cells.append(cell)
        if grade_id(cell) in solutions:
            note = nbformat.v4.new_markdown_cell(
                f"<details class=\"reference-solution\"><summary>Reference solution: <code>{grade_id(cell)}</code>"
                f"</summary>\n\n```python\n{solutions[grade_id(cell)]}\n```\n\n</details>")
            note.id = f"solution-{grade_id(cell)}"
            note.metadata["tags"] = [SOLUTION_TAG]
            cells.append(note)
    chapter.cells = cells
    return chapter


def write_sources(out=OUT):
    src = out / "src"
    shutil.rmtree(src, ignore_errors=True)
    (src / "chapters").mkdir(parents=True)
    for path in CHAPTERS.glob("*.md"):
        shutil.copyfile(path, src / "chapters" / path.name)
    for aid in ASSIGNMENTS:
        chapter = nbformat.read(CHAPTERS / f"{aid}.ipynb", as_version=4)
        nbformat.write(with_solutions(chapter, nbformat.read(source_notebook(aid), as_version=4)),
                       src / "chapters" / f"{aid}.ipynb")
    shutil.copyfile(ROOT / "_toc.yml", src / "_toc.yml")
    shutil.copytree(ROOT / "_templates", src / "_templates")  # the theme components _config.yml replaces
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["title"] = f"{config['title']} (with solutions)"
    config["execute"]["cache"] = str(ROOT / "_build" / ".jupyter_cache")  # the main build's runs
    (src / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return src


def build(out=OUT):
    """Build the site with solutions; return the finished process (its html is under out/_build/html)."""
    src = write_sources(out)
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    return subprocess.run([str(jupyter_book), "build", str(src), "--path-output", str(out),
                           "--warningiserror", "--keep-going"], capture_output=True, text=True, cwd=ROOT)


def main(argv=None, prog="course solutions-site"):
    argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0]).parse_args(argv)
    result = build()
    sys.stdout.write(result.stdout[-3000:])
    sys.stderr.write(result.stderr[-3000:])
    if result.returncode == 0:
        print(f"site with solutions: {(OUT / '_build' / 'html' / 'index.html').relative_to(ROOT)}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
