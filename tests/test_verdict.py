"""The verdict is the grader's: the kernel's answers are plain data, judged outside it."""
import ast
import json
import re

import nbformat
import numpy as np
import pytest
import torch

from course import ASSIGNMENTS, CHAPTERS, source_notebook
from course.notebook.checks import CHECKS_MIME, encode
from course.authoring.sources import SETUP_CELL
from course.grading.preprocessors.verdict import CheckCellError, is_check_cell, judge, read_emission, split_check_cell

CELL = '''
checks = Checks("demo")
checks.close("visible value", lambda: demo(1.0), 2.5)
checks.that("a float", lambda: isinstance(demo(1.0), float), "return a float")
### BEGIN HIDDEN TESTS
checks.close("hidden value", lambda: demo(2.0), (31415.9265, [1.0, 2.0]), rtol=1e-3)  # comment 27182.818
### END HIDDEN TESTS
checks.score()
'''


@pytest.fixture
def namespace():
    ns = {}
    exec(compile(SETUP_CELL, "setup_cell", "exec"), ns)
    return ns


def local_score(ns, compute, expected=(1.0, 2.0)):
    """1 when the visible check passes in the student's notebook, else 0."""
    checks = ns["Checks"]("demo")
    checks.close("value", compute, list(expected))
    return int(checks.status() == "pass")


def test_the_kernel_gets_no_expected_value_and_the_grader_keeps_them():
    spec, kernel = split_check_cell(CELL, "_alias", "n0nce")
    assert "31415" not in kernel and "27182" not in kernel and "2.5" not in kernel
    assert "_alias('demo', emit='n0nce')" in kernel
    assert [(c["label"], c["kind"], c["hidden"]) for c in spec["checks"]] == [
        ("visible value", "value", False), ("a float", "condition", False), ("hidden value", "value", True)]
    assert spec["checks"][2]["expected"] == (31415.9265, [1.0, 2.0]) and spec["checks"][2]["rtol"] == 1e-3


@pytest.mark.parametrize("body", [
    "for x in [1]:\n    checks.close('in a loop', lambda: x, 1.0)",
    "def helper():\n    checks.close('in a function', lambda: 1, 1.0)\nhelper()",
    "checks.close('not a literal', lambda: 1, np.array([1.0]))",
    "checks.that(f'label {1}', lambda: True)",
])
def test_check_cells_the_grader_cannot_read_statically_are_refused(body):
    with pytest.raises(CheckCellError):
        split_check_cell(f"checks = Checks('demo')\n{body}\nchecks.score()")


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_every_check_cell_of_the_course_is_readable_and_has_hidden_values(aid):
    cells = [c for c in nbformat.read(source_notebook(aid), as_version=4).cells if is_check_cell(c)]
    for cell in cells:
        spec, _ = split_check_cell(cell.source)
        assert any(c["hidden"] and c["kind"] == "value" for c in spec["checks"]), cell.metadata.nbgrader.grade_id
        assert any(not c["hidden"] and c["kind"] == "value" for c in spec["checks"]), cell.metadata.nbgrader.grade_id


def _numbers(value):
    if isinstance(value, (list, tuple)):
        return [x for item in value for x in _numbers(item)]
    return [float(value)]


def _literals(source):
    """Every numeric literal (number, list, tuple) in `source`, flattened."""
    found = []
    for node in ast.walk(ast.parse(source)):
        try:
            value = ast.literal_eval(node)
            if not isinstance(value, (str, bool, bytes, type(None))):
                found.append(np.array(_numbers(value)))
        except (ValueError, TypeError, SyntaxError, RecursionError):
            pass
    return found


def _printed(nb):
    """Numbers with 3 or more significant digits anywhere in a notebook: sources and outputs."""
    texts = [cell.source for cell in nb.cells]
    texts += [output.get("text", "") + "".join(v for k, v in output.get("data", {}).items() if k.startswith("text/"))
              for cell in nb.cells for output in cell.get("outputs", [])]
    numbers = re.findall(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?", "\n".join(texts))
    digits = lambda n: len(re.sub(r"[eE].*", "", n).lstrip("+-").replace(".", "").lstrip("0"))
    return np.array([float(n) for n in numbers if digits(n) >= 3])


def guesses(check, kernel_source, visible, printed):
    """Why a hidden value check's expected value could be forged without solving the exercise."""
    e = np.array(_numbers(check["expected"]))
    near = lambda a: a.shape == e.shape and bool((np.abs(a - e) <= check["atol"] + check["rtol"] * np.abs(e)).all())
    why = []
    if any(near(np.full(e.shape, c)) for c in (0.0, 1.0, -1.0)):
        why.append("a constant 0, 1 or -1")
    if any(near(v) for v in visible):
        why.append("the expected value of a visible check")
    if any(near(lit) for lit in _literals(kernel_source) if lit.size == e.size and e.size > 0):
        why.append("a literal the kernel receives (an input echoed back)")
    if e.size == 1 and printed.size and near(printed[np.argmin(np.abs(printed - e[0]))].reshape(e.shape)):
        why.append("a number printed in the student's notebook")
    return why


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_no_hidden_expected_value_can_be_forged_from_what_the_kernel_sees(aid):
    """The cap on a check cell's score is the share of hidden values the code really computes.
    That holds only if a forger who knows everything the kernel sees (the student's notebook
    with its printed outputs, the check cells as the grader sends them, hidden inputs included)
    cannot write a hidden expected value down without computing it: no hidden expected value
    is a trivial constant, a visible check's expected value, one of the kernel's literals or a
    number printed in the student's notebook."""
    printed = _printed(nbformat.read(CHAPTERS / f"{aid}.ipynb", as_version=4))
    found = []
    for cell in nbformat.read(source_notebook(aid), as_version=4).cells:
        if not is_check_cell(cell):
            continue
        spec, kernel_source = split_check_cell(cell.source)
        visible = [np.array(_numbers(c["expected"])) for c in spec["checks"] if c["kind"] == "value" and not c["hidden"]]
        for check in spec["checks"]:
            if check["kind"] == "value" and check["hidden"]:
                why = guesses(check, kernel_source, visible, printed)
                found += [f"{cell.metadata.nbgrader.grade_id}: {check['label']!r} is {', '.join(why)}"] if why else []
    assert not found, "hidden checks a forger could pass without the code:\n" + "\n".join(found)


def test_the_forgery_test_finds_guessable_hidden_values():
    cell = CELL.replace('(31415.9265, [1.0, 2.0]), rtol=1e-3)', '(0.0, 0.0))').replace("demo(2.0)", "demo(0.0)")
    spec, kernel_source = split_check_cell(cell)
    assert guesses(spec["checks"][2], kernel_source, [np.array([2.5])], np.array([])) == ["a constant 0, 1 or -1"]
    spec, kernel_source = split_check_cell(CELL.replace("demo(2.0), (31415.9265, [1.0, 2.0])", "demo(2.5), 2.5"))
    assert guesses(spec["checks"][2], kernel_source, [np.array([2.5])], np.array([])) == [
        "the expected value of a visible check", "a literal the kernel receives (an input echoed back)"]
    spec, kernel_source = split_check_cell(CELL)
    assert guesses(spec["checks"][2], kernel_source, [np.array([2.5])], np.array([31415.93, 7.0])) == []
    assert guesses({**spec["checks"][0], "expected": 27182.818}, kernel_source, [], np.array([27182.82])) == [
        "a number printed in the student's notebook"]


def emission(answers, nonce="n0nce", kind="display_data"):
    data = {CHECKS_MIME: answers if isinstance(answers, str) else json.dumps({"cell": nonce, "answers": answers})}
    return nbformat.v4.new_output(kind, data=data)


RIGHT = [{"label": "visible value", "answer": encode(2.5)}, {"label": "a float", "answer": encode(True)},
         {"label": "hidden value", "answer": encode((31415.9265, [1.0, 2.0]))}]
LABELS = [a["label"] for a in RIGHT]


def test_a_well_formed_emission_is_read():
    answers, problem = read_emission([emission(RIGHT)], "n0nce", LABELS)
    assert problem is None and answers == [a["answer"] for a in RIGHT]


@pytest.mark.parametrize("outputs, why", [
    ([], "no answers"),
    ([emission(RIGHT), emission(RIGHT)], "more than once"),
    ([emission(RIGHT, nonce="other")], "another cell"),
    ([emission(RIGHT[:2])], "expected 3 answers"),
    ([emission(RIGHT[::-1])], "out of order"),
    ([emission("{not json")], "malformed"),
    ([emission("[" * 100000 + "]" * 100000)], "malformed"),
    ([emission([{**a, "extra": 1} for a in RIGHT])], "malformed"),
    ([emission([RIGHT[0], RIGHT[1], {"label": "hidden value", "answer": {"array": [True], "shape": [1], "type": "x"}}])],
     "malformed"),
    ([emission([RIGHT[0], RIGHT[1], {"label": "hidden value", "answer": {"array": [1.0], "shape": [2], "type": "x"}}])],
     "malformed"),
    ([emission([RIGHT[0], RIGHT[1], {"label": "hidden value", "answer": {"array": [10**400], "shape": [1], "type": "x"}}])],
     "malformed"),
    ([emission(RIGHT), nbformat.v4.new_output("error", ename="KeyError", evalue="x", traceback=[])], "raised KeyError"),
])
def test_malformed_emissions_earn_nothing(outputs, why):
    answers, problem = read_emission(outputs, "n0nce", LABELS)
    assert answers is None and why in problem


def test_side_conditions_and_visible_values_cannot_carry_a_wrong_answer():
    spec, _ = split_check_cell(CELL)
    forged = [RIGHT[0]["answer"], encode(True), encode((0.0, [0.0, 0.0]))]  # all the kernel could know
    assert judge(spec, forged, 3.0)["score"] == 0.0
    assert judge(spec, [a["answer"] for a in RIGHT], 3.0)["score"] == 3.0
    honest_partial = [encode(1.0), encode(True), encode((31415.9265, [1.0, 2.0]))]
    assert judge(spec, honest_partial, 3.0)["score"] == 2.0


def test_a_right_answer_passes_locally_in_any_numeric_type(namespace):
    for value in [torch.tensor([1.0, 2.0]), np.array([1.0, 2.0]), [np.float64(1.0), 2], (1.0, np.float32(2.0))]:
        assert local_score(namespace, lambda: value) == 1
    assert local_score(namespace, lambda: torch.tensor([1.0, 2.5])) == 0


class AlwaysEqual:
    def __eq__(self, other):
        return True


@pytest.mark.parametrize("fake", [AlwaysEqual(), [AlwaysEqual(), AlwaysEqual()], True, "1.0, 2.0", None])
def test_look_alike_answers_fail(namespace, fake):
    assert local_score(namespace, lambda: fake) == 0


@pytest.mark.parametrize("got, expected, why", [
    ([-1.0, 2.0], [1.0, -2.0], "sign is flipped"),
    ([0.5, 1.0], [1.0, 2.0], "half the expected value"),
    ([2.0, 4.0], [1.0, 2.0], "twice the expected value"),
    ([5.0, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0], "shifted by one step"),
    ([1.0, 7.0], [1.0, 2.0], None),
])
def test_failures_name_the_likely_mistake(namespace, got, expected, why):
    problem = namespace["compare"](namespace["encode"](got), expected, 1e-4, 1e-6, "look at step 2")
    assert problem.endswith("Hint: look at step 2")
    assert (why in problem) if why else ("probably" not in problem and problem.count(":") == 1)


def _judged(show_hidden_values):
    spec, _ = split_check_cell(CELL)
    wrong = [encode(2.5), encode(True), encode((27.0, [1.0, 2.0]))]  # visible right, hidden wrong
    return judge(spec, wrong, 3, show_hidden_values)["checks"][2]


def test_feedback_of_a_hidden_check_names_the_mistake_not_the_expected_value():
    check = _judged(show_hidden_values=False)
    assert not check["passed"] and "31415" in check["message"]  # the instructor's report keeps it
    assert "31415" not in check["shown"] and "27" not in check["shown"] and "wrong value" in check["shown"]


def test_the_instructor_can_show_hidden_values():
    check = _judged(show_hidden_values=True)
    assert "31415" in check["shown"] and "27" in check["shown"]


def test_a_hidden_check_still_names_the_likely_mistake_without_its_value():
    spec, _ = split_check_cell(CELL)
    flipped = [encode(2.5), encode(True), encode((-31415.9265, [1.0, 2.0]))]
    check = judge(spec, flipped, 3)["checks"][2]
    assert "sign is flipped" in check["shown"] and "31415" not in check["shown"]
