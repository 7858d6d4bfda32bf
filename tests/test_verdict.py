"""The verdict is the grader's: the kernel's answers are plain data, judged outside it."""
import json

import nbformat
import numpy as np
import pytest
import torch

from course import ASSIGNMENTS, source_notebook
from course.checks import CHECKS_MIME, encode
from course.release import SETUP_CELL
from course.verdict import CheckCellError, is_check_cell, judge, read_emission, split_check_cell

CELL = '''
checks = Checks("demo", 3)
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
    checks = ns["Checks"]("demo", 1)
    checks.close("value", compute, list(expected))
    return checks.score()


def test_the_kernel_gets_no_expected_value_and_the_grader_keeps_them():
    spec, kernel = split_check_cell(CELL, "_alias", "n0nce")
    assert "31415" not in kernel and "27182" not in kernel and "2.5" not in kernel
    assert "_alias('demo', 3, emit='n0nce')" in kernel
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
        split_check_cell(f"checks = Checks('demo', 1)\n{body}\nchecks.score()")


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_every_check_cell_of_the_course_is_readable_and_has_hidden_values(aid):
    cells = [c for c in nbformat.read(source_notebook(aid), as_version=4).cells if is_check_cell(c)]
    for cell in cells:
        spec, _ = split_check_cell(cell.source)
        assert any(c["hidden"] and c["kind"] == "value" for c in spec["checks"]), cell.metadata.nbgrader.grade_id
        assert any(not c["hidden"] and c["kind"] == "value" for c in spec["checks"]), cell.metadata.nbgrader.grade_id


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
