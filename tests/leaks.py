"""What students must never see: solution code and hidden tests, and a scanner for leaks."""
import html
import json
import re

import nbformat

REGIONS = [("### BEGIN SOLUTION", "### END SOLUTION"), ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")]
MARKERS = [begin for begin, _ in REGIONS]


def _normal(text):
    return re.sub(r"\s+", " ", text).strip()


def _split(source_path, regions=REGIONS):
    """(lines inside the given regions, lines outside every region) of a source notebook."""
    secret, public = set(), set()
    for cell in nbformat.read(source_path, as_version=4).cells:
        inside = None
        for line in cell.source.splitlines():
            stripped = line.strip()
            if any(stripped.startswith(begin) for begin, _ in REGIONS):
                inside = next(begin for begin, _ in REGIONS if stripped.startswith(begin))
            elif any(stripped.startswith(end) for _, end in REGIONS):
                inside = None
            elif stripped and not stripped.startswith("#"):
                if inside is None:
                    public.add(_normal(stripped))
                elif inside in [begin for begin, _ in regions]:
                    secret.add(_normal(stripped))
    return secret, public


def secret_lines(source_path, regions=REGIONS):
    """Lines that stand only inside solution or hidden-test regions (or only the `regions`
    given) of a source notebook.

    A line any chapter shows openly (a demo, the prose, the setup cell), or a part of such a
    line, is public by design; short lines (`return x`) are too common to call a leak."""
    from course import ASSIGNMENTS, source_notebook

    public = set().union(*(_split(source_notebook(aid))[1] for aid in ASSIGNMENTS))
    public_text = "\n".join(public)
    return {line for line in _split(source_path, regions)[0] - public if len(line) >= 16 and line not in public_text}


def student_text(path):
    """The text a reader of this file sees: notebook cells, page text without markup, or raw text."""
    raw = path.read_text(errors="replace")
    if path.suffix == ".ipynb":
        cells = json.loads(raw).get("cells", [])
        raw = "\n".join("".join(c.get("source", "")) for c in cells)
    elif path.suffix in (".html", ".htm"):
        raw = html.unescape(re.sub(r"<[^>]+>", "", raw))
    return _normal(raw)


def find_leaks(files, secrets):
    """(file, what) for every marker or secret line found in the given files."""
    leaks = []
    for path in files:
        text = student_text(path)
        for marker in MARKERS:
            if marker in text:
                leaks.append((path, marker))
        leaks += [(path, line) for line in secrets if line in text]
    return leaks
