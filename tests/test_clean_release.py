"""A release writes the same bytes every time and nothing into solutions/, so `make release`
twice leaves `git status` clean.

The kernel sends printed text in pieces whose boundaries depend on timing; the release joins
consecutive pieces of one stream (course.authoring.release.join_streams) before writing the
chapter page.
"""
import nbformat

from course import SOLUTIONS

from course.grading.gradebook import nbgrader_api
from course.authoring.release import join_streams, release

AID = "03-autograd"  # the cheapest chapter to execute (about 5 s; 01 and 02 take about 9-10 s)


def stream(name, text):
    return nbformat.v4.new_output("stream", name=name, text=text)


def test_join_streams_joins_only_neighbours_of_one_name():
    nb = nbformat.v4.new_notebook()
    figure = nbformat.v4.new_output("display_data", data={"text/plain": "<Figure>"})
    cell = nbformat.v4.new_code_cell("print(...)")
    cell.outputs = [stream("stdout", "a = 1"), stream("stdout", "\nb = 2\n"), stream("stderr", "warn\n"),
                    stream("stdout", "c"), figure, stream("stdout", "d\n"), stream("stdout", "e\n")]
    nb.cells = [cell, nbformat.v4.new_markdown_cell("text")]
    join_streams(nb)
    assert [(o.output_type, o.get("name"), o.get("text")) for o in cell.outputs] == [
        ("stream", "stdout", "a = 1\nb = 2\n"), ("stream", "stderr", "warn\n"), ("stream", "stdout", "c"),
        ("display_data", None, None), ("stream", "stdout", "d\ne\n")]


def _tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_releasing_a_chapter_twice_writes_identical_files_and_nothing_into_solutions(tmp_path):
    files, before = [], _tree(SOLUTIONS)
    for run in ("first", "second"):
        root = tmp_path / run
        root.mkdir()
        release(AID, nbgrader_api(root), chapters=root / "chapters")
        files.append({name: (root / name).read_bytes() for name in (f"chapters/{AID}.ipynb", f"release/{AID}/{AID}.ipynb")})
    assert _tree(SOLUTIONS) == before, "a release wrote into solutions/"
    first, second = files
    for name in first:
        assert first[name] == second[name], f"{name} differs between two releases"
    page = nbformat.reads(first[f"chapters/{AID}.ipynb"].decode(), as_version=4)
    kept = [o for c in page.cells if c.cell_type == "code" for o in c.outputs]
    assert kept, "the page keeps the reference run's outputs of the checked cells"
    for cell in page.cells:
        if cell.cell_type == "code":
            names = [o.get("name") for o in cell.outputs]
            assert all(not (a and a == b) for a, b in zip(names, names[1:])), "stream pieces left unjoined"
