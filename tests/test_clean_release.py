"""A release writes the same bytes every time, so `make release` twice leaves `git status` clean.

The kernel sends printed text in pieces whose boundaries depend on timing; the release joins
consecutive pieces of one stream (course.authoring.release.join_streams) before writing the outputs it
keeps into the source (for nbval) and the chapter page.
"""
import nbformat

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


def test_releasing_a_chapter_twice_writes_identical_files(tmp_path):
    files = []
    for run in ("first", "second"):
        root = tmp_path / run
        root.mkdir()
        # record: the source with the outputs nbval compares, written here instead of solutions/
        release(AID, nbgrader_api(root), chapters=root / "chapters", record=root / "source.ipynb")
        files.append({name: (root / name).read_bytes()
                      for name in (f"chapters/{AID}.ipynb", "source.ipynb", f"release/{AID}/{AID}.ipynb")})
    first, second = files
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], f"{name} differs between two releases"
    recorded = nbformat.reads(first["source.ipynb"].decode(), as_version=4)
    kept = [o for c in recorded.cells if c.cell_type == "code" for o in c.outputs]
    assert kept, "the release keeps the checked cells' outputs in the source"
    for cell in recorded.cells:
        if cell.cell_type == "code":
            names = [o.get("name") for o in cell.outputs]
            assert all(not (a and a == b) for a, b in zip(names, names[1:])), "stream pieces left unjoined"
