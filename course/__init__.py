"""The course's tooling: authoring/ (release, site), notebook/ (the setup cell), student/ (check),
grading/ (nbgrader pipeline, sandbox), instructor/ (collect, reports, LMS, hub); `course` is cli.py."""
import sys
from pathlib import Path

from course import catalog

# jsonschema (under nbformat) imports rfc3987_syntax when it is installed, only to check the
# "iri" string formats, which no notebook schema uses; that import builds an Earley parser,
# 1.8 s in every grading process. Without it, jsonschema leaves those two formats unchecked.
sys.modules.setdefault("rfc3987_syntax", None)

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
CHAPTERS = ROOT / "chapters"
AUTOGRADERS = ROOT / "autograders"
# The environment of a kernel whose output is recorded or compared (the release's reference
# runs, the site's build, the tests'; the Makefile's `book` repeats it): one math thread, so a
# reduction's order and the last digits do not depend on the machine's cores (and two kernels do
# not oversubscribe two cores), and matplotlib's font cache of this checkout, since the shared
# one in ~/.cache names the font files of whichever environment built it first.
STEADY_KERNEL_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                     "MPLCONFIGDIR": str(ROOT / "_build" / "matplotlib")}

BUILT_SOURCES = ROOT / "_build" / "sources"  # notebooks built from solutions/ for nbval and the tests (a release builds its own)

# The assignment ids, in course order (solutions/catalog.toml); each is a folder of solutions/.
ASSIGNMENTS = [chapter.id for chapter in catalog.read()]


def source_text(assignment_id):
    """The chapter's single source: MyST markdown with nbgrader's cell metadata (jupytext)."""
    return SOLUTIONS / assignment_id / f"{assignment_id}.md"


def source_notebook(assignment_id):
    """The notebook built from the chapter's source (course/authoring/sources.py), up to date."""
    from course.authoring import sources

    return sources.build(assignment_id)
