"""Add a chapter or an exercise: every file that names one, written in one command.

    course new-chapter 09-convolutions --title "Convolutions" --topic "Conv2d, padding, strides"
    course new-exercise 09-convolutions conv_out_size --signature "def conv_out_size(n, k, p, s)" --points 2

new-chapter writes solutions/<id>/<id>.md (title, setup cell, summary), its entry in
solutions/catalog.toml, its line in _toc.yml and in chapters/intro.md's table, and
tests/variants/<id>.toml. new-exercise adds to the chapter's source, after its last check
cell, the task, a hints cell, the solution cell and the check cell, with TODO where the
author writes the exercise; its entry (signature, points) in the catalog; and a right and a
wrong variant to fill in. Then `make release` and `make test` say what is left to do
(docs/authoring.md).
"""
import argparse
import ast
import re
import sys

import jupytext
import nbformat

from course import ROOT, catalog
from course.authoring import sources

CHAPTER_ID = re.compile(r"^\d\d-[a-z0-9]+(-[a-z0-9]+)*$")
NBGRADER = {"schema_version": 3}


class ScaffoldError(ValueError):
    pass


def _toml_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def new_chapter(aid, title, topic="", root=ROOT):
    if not CHAPTER_ID.match(aid):
        raise ScaffoldError(f"{aid!r} is not a chapter id: two digits, a dash and a slug, e.g. 09-convolutions")
    catalog_path = root / "solutions" / "catalog.toml"
    if aid in [c.id for c in catalog.read(catalog_path)] or (root / "solutions" / aid).exists():
        raise ScaffoldError(f"{aid} exists already")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"display_name": "Python 3 (ipykernel)",
                                                           "language": "python", "name": "python3"}})
    setup = nbformat.v4.new_code_cell(sources.SETUP_PLACEHOLDER, metadata={
        "nbgrader": {**NBGRADER, "grade": False, "grade_id": "setup", "locked": True, "solution": False},
        "tags": ["setup"]})
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\nTODO: what this chapter teaches, and what a reader can do "
                                              "after it (docs/authoring.md lists what a chapter contains)."),
                setup,
                nbformat.v4.new_markdown_cell("## Summary\n\nTODO: the chapter's points, one line each.")]
    path = root / "solutions" / aid / f"{aid}.md"
    path.parent.mkdir(parents=True)
    path.write_text(sources.text_of(nb))
    with catalog_path.open("a") as out:
        out.write(f"\n[[chapter]]\nid = {_toml_string(aid)}\ntitle = {_toml_string(title)}\n"
                  f"topic = {_toml_string(topic)}\n")
    toc = root / "_toc.yml"
    lines = toc.read_text().splitlines()
    last = max(i for i, line in enumerate(lines) if re.match(r"\s*- file: chapters/\d\d-", line))
    lines.insert(last + 1, re.sub(r"chapters/\S+", f"chapters/{aid}", lines[last]))
    toc.write_text("\n".join(lines) + "\n")
    intro = root / "chapters" / "intro.md"
    lines = intro.read_text().splitlines()
    last = max(i for i, line in enumerate(lines) if line.startswith("| {doc}`"))
    lines.insert(last + 1, f"| {{doc}}`{aid}` | {topic} | |")
    intro.write_text("\n".join(lines) + "\n")
    (root / "tests" / "variants" / f"{aid}.toml").write_text(
        f"# Grader self-test data for {aid}: each variant replaces the solution cell\n"
        '# of one exercise. expect = "full": must earn full marks; "loses": must lose points.\n')
    return path


def _signature(name, signature):
    """The def or class line(s) of the contract, checked: one top-level def or class called name."""
    text = signature.rstrip().removesuffix(": ...").removesuffix(":")
    try:
        tree = ast.parse(text + ": ...")
    except SyntaxError as error:
        raise ScaffoldError(f"--signature {signature!r} is not a def or class line: {error.msg}") from None
    node = tree.body[0] if len(tree.body) == 1 else None
    if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) or node.name != name:
        raise ScaffoldError(f"--signature must define {name} (e.g. 'def {name}(x)'), not {signature!r}")
    params = [a.arg for a in node.args.args] if isinstance(node, ast.FunctionDef) else []
    return text + ": ...", params


def exercise_cells(name, signature, params):
    """The task, hints, solution and check cells of a new exercise, TODO where the author writes."""
    header = signature.removesuffix(": ...") + ":"
    call = f"{name}({', '.join(f'TODO_{p}' for p in params)})"
    task = nbformat.v4.new_markdown_cell(
        f"### Exercise: `{name}` ({{{{ points:{name} }}}})\n\nTODO: what `{name}` must do: its inputs, what it "
        "returns, and every condition the checks test (dtype, shape, input unchanged, device).")
    hints = nbformat.v4.new_markdown_cell(
        "<details><summary>Hint 1: TODO</summary>\n\nTODO: a first nudge.\n\n</details>\n\n"
        "<details><summary>Hint 2: TODO</summary>\n\nTODO: almost the answer.\n\n</details>", metadata={"tags": ["hints"]})
    solution = nbformat.v4.new_code_cell(
        f'{header}\n    """TODO: the docstring students see."""\n    ### BEGIN SOLUTION\n'
        f'    raise NotImplementedError("TODO: the reference solution")\n    ### END SOLUTION',
        metadata={"nbgrader": {**NBGRADER, "grade": False, "grade_id": name, "locked": False, "solution": True}})
    check = nbformat.v4.new_code_cell(
        f'checks = Checks("{name}")\n'
        f'checks.close("TODO: what this visible check tries", lambda: {call}, TODO_expected,\n'
        '             hint="TODO: the likely mistake when this check fails")\n\n'
        "### BEGIN HIDDEN TESTS\n"
        f'checks.close("TODO: a hidden case, other inputs", lambda: {call}, TODO_expected)\n'
        "### END HIDDEN TESTS\n"
        "checks.score()",
        metadata={"nbgrader": {**NBGRADER, "grade": True, "grade_id": f"test_{name}", "locked": True,
                               "solution": False}})
    return [task, hints, solution, check]


def new_exercise(aid, name, signature, points, root=ROOT):
    if not name.isidentifier():
        raise ScaffoldError(f"{name!r} is not a Python name")
    catalog_path = root / "solutions" / "catalog.toml"
    chapters = catalog.read(catalog_path)
    if aid not in [c.id for c in chapters]:
        raise ScaffoldError(f"no chapter {aid} in solutions/catalog.toml (course new-chapter adds one)")
    if name in catalog.points(chapters):
        raise ScaffoldError(f"an exercise {name} exists already")
    if points <= 0:
        raise ScaffoldError("--points must be positive")
    signature, params = _signature(name, signature)
    path = root / "solutions" / aid / f"{aid}.md"
    nb = jupytext.reads(path.read_text(), fmt=sources.FORMAT)
    graded = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") in ("setup",)
              or c.metadata.get("nbgrader", {}).get("grade")]
    at = graded[-1] + 1
    cells = exercise_cells(name, signature, params)
    if not any(line.startswith("## ") for c in nb.cells[:at] if c.cell_type == "markdown" for line in c.source.splitlines()):
        cells[0].source = cells[0].source[1:]  # no section above it yet: a section of its own (## not ###)
    nb.cells[at:at] = cells
    path.write_text(sources.text_of(nb))
    # The exercise's entry goes at the end of its chapter's entry (before the next [[chapter]]).
    text = catalog_path.read_text()
    start = re.search(rf'^id = {re.escape(_toml_string(aid))}$', text, re.M).end()
    following = re.search(r"^\[\[chapter\]\]", text[start:], re.M)
    end = start + following.start() if following else len(text)
    block = (f"\n[[chapter.exercise]]\nname = {_toml_string(name)}\npoints = {points:g}\n"
             f"signature = '''\n{signature}\n'''\n")
    catalog_path.write_text(text[:end].rstrip("\n") + "\n" + block + ("\n" + text[end:] if text[end:] else ""))
    intro = root / "chapters" / "intro.md"
    lines = intro.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith(f"| {{doc}}`{aid}` |"):
            row = [cell.strip() for cell in line.strip().strip("|").split("|")] + [""]
            row[2] = (row[2] + ", " if row[2] else "") + f"`{name}`"
            lines[i] = "| " + " | ".join(row[:3]) + " |"
    intro.write_text("\n".join(lines) + "\n")
    variants = root / "tests" / "variants" / f"{aid}.toml"
    with variants.open("a") as out:
        for kind, expect in (("right: TODO another correct way to write it", "full"),
                             ("wrong: TODO a typical mistake, which a visible check names", "loses")):
            out.write(f'\n[[variant]]\nexercise = "{name}"\nname = "{kind}"\nexpect = "{expect}"\n'
                      f"source = '''\n{signature.removesuffix(': ...')}:\n    raise NotImplementedError(\"TODO\")\n'''\n")
    return path


def main(argv=None, prog=None, command=None):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    if command == "new-chapter":
        parser.add_argument("id", help="NN-slug, e.g. 09-convolutions")
        parser.add_argument("--title", required=True)
        parser.add_argument("--topic", default="", help="one line for the intro's table of chapters")
    else:
        parser.add_argument("chapter", help="the chapter's id")
        parser.add_argument("name", help="the exercise's name (its function or class)")
        parser.add_argument("--signature", required=True, help="e.g. 'def conv_out_size(n, k, p, s)'")
        parser.add_argument("--points", type=float, required=True)
    args = parser.parse_args(argv)
    try:
        if command == "new-chapter":
            path = new_chapter(args.id, args.title, args.topic)
        else:
            path = new_exercise(args.chapter, args.name, args.signature, args.points)
    except (ScaffoldError, catalog.CatalogError) as error:
        parser.error(str(error))
    print(f"wrote {path.relative_to(ROOT)} and its entries; fill in every TODO, then `make release` and `make test`"
          " (docs/authoring.md)")
    return 0


def new_chapter_main(argv=None, prog="course new-chapter"):
    return main(argv, prog, "new-chapter")


def new_exercise_main(argv=None, prog="course new-exercise"):
    return main(argv, prog, "new-exercise")


if __name__ == "__main__":
    sys.exit(new_chapter_main())
