"""Simulated students: notebooks built from the released notebook by grade_id.

Each builder returns either a notebook (nbformat node) or raw text for a broken file,
together with the score the grader must give it (None: it must be reported, not graded).
"""
import ast
import copy
import html
import os
import re
import tomllib
from pathlib import Path

import nbformat
import numpy as np

from course import ASSIGNMENTS, source_notebook
from course.contract import EXERCISES

VARIANTS = Path(__file__).parent / "variants"


def meta(cell):
    return cell.metadata.get("nbgrader", {})


def variants(aid):
    """The known answers of `aid`'s exercises (tests/variants/<aid>.toml). Where the notebooks run
    on CUDA (COURSE_DEVICE=cuda) a variant's `on_cuda`, if it has one, is what it expects: an
    answer right on the CPU only (a tensor made without the inputs' device) loses there."""
    return [expected_here(v) for v in tomllib.loads((VARIANTS / f"{aid}.toml").read_text())["variant"]]


def expected_here(variant):
    if os.environ.get("COURSE_DEVICE") == "cuda" and "on_cuda" in variant:
        return {**variant, "expect": variant["on_cuda"]}
    return variant


def reference_sources(aid):
    cells = nbformat.read(source_notebook(aid), as_version=4).cells
    return {meta(c)["grade_id"]: c.source for c in cells if meta(c).get("solution")}


def points(released):
    return {meta(c)["grade_id"]: float(meta(c)["points"]) for c in released.cells if meta(c).get("grade")}


def with_solutions(released, sources):
    """The released notebook with the given solution cells' sources replaced."""
    nb = copy.deepcopy(released)
    for cell in nb.cells:
        if meta(cell).get("grade_id") in sources:
            cell.source = sources[meta(cell)["grade_id"]]
    return nb


def tests_of(exercise, released):
    return [gid for gid in points(released) if gid.startswith(f"test_{exercise}")]


def students(aid, released, other_aid):
    """{student_id: (notebook or text, expected total score or None)} for one assignment."""
    top = sum(points(released).values())
    exercises = list(EXERCISES[aid])
    reference = reference_sources(aid)
    stubs = {c_id: src for c_id, src in ((meta(c).get("grade_id"), c.source) for c in released.cells)
             if c_id in reference}
    # Later exercises may build on earlier ones (update calls mse), so leave the last one undone.
    last_points = sum(points(released)[t] for t in tests_of(exercises[-1], released))
    right_but_different = {}
    for v in variants(aid):
        if v["expect"] == "full":
            right_but_different.setdefault(v["exercise"], v["source"])
    returns_none = {name: src.replace("raise NotImplementedError()", "return None") for name, src in stubs.items()}

    tampered = with_solutions(released, returns_none)
    for cell in tampered.cells:
        if meta(cell).get("grade"):
            cell.source = f"print('all good')\n{meta(cell)['points']}"  # edited locked checks claim full marks
    deleted = with_solutions(released, reference)
    deleted.cells = [c for c in deleted.cells if not meta(c).get("grade")]
    retyped = with_solutions(released, reference)
    for cell in retyped.cells:
        if meta(cell).get("grade"):
            cell.cell_type, cell.outputs, cell.execution_count = "markdown", None, None
            del cell["outputs"], cell["execution_count"]
    noisy_name = next(name for name in exercises if reference[name].lstrip().startswith("def"))
    noisy = dict(reference)
    noisy[noisy_name] += (f"\n\nimport sys as _sys\n_quiet_{noisy_name} = {noisy_name}\n\n"
                          f"def {noisy_name}(*args, **kwargs):\n"
                          f"    print('UserWarning: something PyTorch might say', file=_sys.stderr)\n"
                          f"    return _quiet_{noisy_name}(*args, **kwargs)\n")
    killer = dict(reference)
    killer[exercises[0]] = "import os\nos._exit(1)\n"

    return {
        "s01-reference": (with_solutions(released, reference), top),
        "s02-untouched": (released, 0.0),
        "s03-right-but-different": (with_solutions(released, {**reference, **right_but_different}), top),
        "s04-last-exercise-unfinished": (with_solutions(released, {k: v for k, v in reference.items()
                                                                    if k != exercises[-1]}), top - last_points),
        "s05-returns-none": (with_solutions(released, returns_none), 0.0),
        "s06-edits-locked-checks": (tampered, 0.0),
        "s07-deleted-checks": (deleted, top),
        "s08-checks-turned-markdown": (retyped, top),
        "s09-stderr-warning": (with_solutions(released, noisy), top),
        "s10-invalid-json": ('{"cells": [', None),
        "s11-empty-file": ("", None),
        "s12-other-assignment": (nbformat.read(source_notebook(other_aid), as_version=4), None),
        "s13-kills-kernel": (with_solutions(released, killer), None),
    }


def variant_students(aid, released):
    """Students who each submit one variant of every exercise (the reference where none is left).

    Right variants and wrong ones go to different students: a later exercise may call an
    earlier one (update calls mse), so a right update beside a wrong mse would fail honestly.
    Returns {student_id: (notebook, {test grade_id: ("full" | "loses", variant name)})}."""
    reference = reference_sources(aid)
    result = {}
    for kind in ("full", "loses"):
        by_exercise = {}
        for v in variants(aid):
            if v["expect"] == kind:
                by_exercise.setdefault(v["exercise"], []).append(v)
        for k in range(max(len(vs) for vs in by_exercise.values())):
            sources, expect = dict(reference), {}
            for exercise, vs in by_exercise.items():
                if k < len(vs):
                    sources[exercise] = vs[k]["source"]
                    for test in tests_of(exercise, released):
                        expect[test] = (kind, vs[k]["name"])
            result[f"v{len(result) + 1:02d}-{kind}"] = (with_solutions(released, sources), expect)
    return result


def other_assignment(aid):
    return ASSIGNMENTS[(ASSIGNMENTS.index(aid) + 1) % len(ASSIGNMENTS)]


# What the source's check cells say, read from their lines with Python's own parser (not the
# grader's): each check's label, whether it is hidden, and a hidden check's expected value.
CHECK_CALLS = ("close", "that")


def _check_calls(source):
    """[(call node, hidden)] for every checks.close/checks.that call of a check cell's source."""
    lines = source.splitlines()
    begin = next((n for n, line in enumerate(lines, 1) if line.strip() == "### BEGIN HIDDEN TESTS"), None)
    end = next((n for n, line in enumerate(lines, 1) if line.strip() == "### END HIDDEN TESTS"), None)
    calls = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Attribute) and node.func.attr in CHECK_CALLS
             and isinstance(node.func.value, ast.Name) and node.func.value.id == "checks"]
    calls.sort(key=lambda node: (node.lineno, node.col_offset))
    return [(node, begin is not None and begin < node.lineno < end) for node in calls]


def source_checks(aid):
    """{check cell grade_id: [(label, hidden), ...]} in the order the cell runs them."""
    cells = nbformat.read(source_notebook(aid), as_version=4).cells
    return {meta(c)["grade_id"]: [(node.args[0].value, hidden) for node, hidden in _check_calls(c.source)]
            for c in cells if meta(c).get("grade")}


def hidden_expected_values(aid):
    """[(label, [numbers])] of every hidden value check: its expected value, flattened."""
    found = []
    for cell in nbformat.read(source_notebook(aid), as_version=4).cells:
        if not meta(cell).get("grade"):
            continue
        for node, hidden in _check_calls(cell.source):
            if hidden and node.func.attr == "close":
                expected = node.args[2] if len(node.args) > 2 else next(k.value for k in node.keywords if k.arg == "expected")
                found.append((node.args[0].value, _flat(ast.literal_eval(expected))))
    return found


def _flat(value):
    """The numbers of an expected value: a number, or (nested) tuples and lists of them."""
    if isinstance(value, (tuple, list)):
        return [number for item in value for number in _flat(item)]
    return [float(value)]


def renderings(number):
    """The ways a report may print a number, those with 3 or more significant digits (fewer
    are too common in any page to mean a leak)."""
    shown = {np.array2string(np.array(number), precision=6), f"{number:g}", f"{number:.4f}", repr(float(number))}
    digits = lambda text: len(re.sub(r"[eE].*", "", text).lstrip("+-").replace(".", "").strip("0"))
    return {text for text in shown if digits(text) >= 3}


NUMBER = r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"


def numbers_in(text):
    """Every number written in a text, as floats."""
    return np.array([float(n) for n in re.findall(NUMBER, text)])


def number_tokens(text):
    """Every number written in a text, as written, with and without its sign."""
    found = re.findall(NUMBER, text)
    return set(found) | {n.lstrip("+-") for n in found}


def page_text(markup):
    """An HTML page's text as a reader sees it."""
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def without_answers(text):
    """The text with each "got <answer>" of a check's message cut out: a student's own answer
    may hold numbers of the expected value (an array right in places) without any leak."""
    kept, at = [], 0
    for found in re.finditer(r"\bgot (?:shape )?", text):
        if found.start() < at:
            continue
        kept.append(text[at:found.end()])
        at, depth = found.end(), 0
        while at < len(text):  # the answer: one token, or a bracketed array however nested
            char = text[at]
            depth += char in "[(" and 1 or char in "])" and -1 or 0
            if depth < 0 or (depth == 0 and (char.isspace() or char == ",")):
                break
            at += 1
    text = "".join(kept) + text[at:]
    # The scores: "Score: 2.25 / 3.0", "2.25 of 3 points", the cell's value "Out[17]: 2.25".
    text = re.sub(r"Score: \S+ / \S+|\S+ of \S+ points|Out\[\d+\]:\s*\S+", " ", text)
    return text
