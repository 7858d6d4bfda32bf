"""Every exercise follows the contract of the syllabus exactly."""
import ast

import nbformat
import pytest

from course import ASSIGNMENTS, source_notebook
from course.contract import EXERCISES


def nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def signatures(tree):
    """{name: args} for top-level functions; {Class.method: args} for class methods."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            found[node.name] = ast.unparse(node.args)
        elif isinstance(node, ast.ClassDef):
            found[node.name] = "class"
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    found[f"{node.name}.{item.name}"] = ast.unparse(item.args)
    return found


def test_every_assignment_has_a_source():
    assert sorted(EXERCISES) == sorted(ASSIGNMENTS)
    for aid in ASSIGNMENTS:
        assert source_notebook(aid).is_file(), f"missing source {source_notebook(aid)}"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_exercises_follow_the_contract(aid):
    cells = nbformat.read(source_notebook(aid), as_version=4).cells
    solution_cells = [c for c in cells if nbgrader(c).get("solution")]
    assert sorted(nbgrader(c)["grade_id"] for c in solution_cells) == sorted(EXERCISES[aid]), \
        "one solution cell per exercise, named by its grade_id, and no other"
    for name, contract in EXERCISES[aid].items():
        cell = next(c for c in solution_cells if nbgrader(c)["grade_id"] == name)
        assert cell.cell_type == "code" and not nbgrader(cell).get("grade")
        wanted, got = signatures(ast.parse(contract)), signatures(ast.parse(cell.source))
        for key, args in wanted.items():
            assert got.get(key) == args, f"{aid}: {key} should take ({args}), found ({got.get(key)})"
        index = cells.index(cell)
        tests = [c for c in cells[index + 1:] if nbgrader(c).get("grade_id", "").startswith(f"test_{name}")]
        assert tests, f"{name} has no graded check cell test_{name}"
        for test in tests:
            meta = nbgrader(test)
            assert meta["grade"] and meta["locked"] and meta["points"] > 0
            visible, _, hidden = test.source.partition("### BEGIN HIDDEN TESTS")
            assert "checks." in visible, f"{meta['grade_id']} has no visible checks"
            assert "checks." in hidden.partition("### END HIDDEN TESTS")[0], f"{meta['grade_id']} has no hidden checks"
            assert test.source.rstrip().endswith("checks.score()")


# The errors the syllabus shows on purpose, in order, by a piece of each cell's code.
PITFALLS = {"00-tensors": ["requires_grad", ".T.view(-1)"], "01-gradient-descent": ["optim.SGD"]}


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_only_the_pitfalls_may_raise(aid):
    """A cell may raise only where the syllabus shows an error on purpose, and is tagged so."""
    cells = nbformat.read(source_notebook(aid), as_version=4).cells
    raising = [c for c in cells if "raises-exception" in c.metadata.get("tags", [])]
    expected = PITFALLS.get(aid, [])
    assert len(raising) == len(expected), [c.source for c in raising]
    assert all(code in cell.source for cell, code in zip(raising, expected)), [c.source for c in raising]


def test_toc_and_the_intro_list_the_catalog_s_chapters_and_exercises():
    """_toc.yml and the intro's table of chapters are written by hand (or by `course new-chapter`):
    they must name the catalog's chapters in its order, with its topics and exercises."""
    import re

    import yaml

    from course import ROOT, catalog

    chapters = catalog.read()
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"] if re.match(r"chapters/\d\d-", c["file"])]
    assert files == [f"chapters/{c.id}" for c in chapters]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in (ROOT / "chapters" / "intro.md").read_text().splitlines() if line.startswith("| {doc}`")]
    assert rows == [[f"{{doc}}`{c.id}`", c.topic, ", ".join(f"`{e.name}`" for e in c.exercises)] for c in chapters]
