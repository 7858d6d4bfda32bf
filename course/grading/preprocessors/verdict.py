"""The grader's verdict, reached outside the student's kernel.

A check cell (docs/authoring.md) is written as

    checks = Checks("fun_dz")
    checks.close("label", lambda: fun_dz(1.0, 2.0), (0.567, 1.134), rtol=1e-4)
    checks.that("label", lambda: isinstance(...), "what to fix")
    ### BEGIN HIDDEN TESTS
    checks.close(...)
    ### END HIDDEN TESTS
    checks.score()

Before execution, `SendValuesOnly` reads each check cell as nbgrader restored it from the
gradebook (hidden tests included), keeps every check's expected value, tolerance and label
in the grader's memory, and sends the kernel the cell without them: the kernel only runs the
student's code on the checks' inputs and emits the answers as JSON. After execution,
`JudgeChecks` compares those answers with the kept values, computes the score and writes the
cell's outputs itself: whatever the kernel printed or returned counts for nothing.
"""
import ast
import copy
import functools
import json
import math
import secrets

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool
from nbgrader.utils import is_grade, is_solution

from course.notebook.checks import CHECKS_MIME, compare, holds

MAX_EMISSION = 1_000_000  # characters of JSON a check cell may emit
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def is_check_cell(cell):
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


class CheckCellError(ValueError):
    """A check cell the grader cannot read statically (a contract violation of the source)."""


def _hidden_lines(source):
    hidden, inside = set(), False
    for number, line in enumerate(source.splitlines(), 1):
        if line.strip() == BEGIN_HIDDEN:
            inside = True
        elif line.strip() == END_HIDDEN:
            inside = False
        elif inside:
            hidden.add(number)
    return hidden


def _argument(call, position, name, default):
    if len(call.args) > position:
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == name), default)


def _literal(node, what):
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        raise CheckCellError(f"{what} must be a literal, not `{ast.unparse(node)}`") from None


_ALIAS, _NONCE = "_course_alias_", "course-nonce"  # stand-ins in the cached rewrite


def split_check_cell(source, alias="Checks", nonce=""):
    """(spec, kernel_source) of one check cell.

    spec: {"exercise", "checks": [{"kind", "label", "hidden", "expected", "rtol", "atol",
    "explain"}]} in the order the kernel runs them. kernel_source: the cell without any
    expected value, tolerance or explanation, building its Checks from `alias` in emit mode."""
    spec, template = _split(source)
    return copy.deepcopy(spec), template.replace(_ALIAS, alias).replace(repr(_NONCE), repr(nonce))


@functools.lru_cache(maxsize=256)
def _split(source):
    """split_check_cell with stand-ins for the alias and nonce: every submission of an
    assignment has the same check cells (nbgrader restores them), so each is rewritten once."""
    if _ALIAS in source or _NONCE in source:
        raise CheckCellError(f"a check cell may not contain {_ALIAS!r} or {_NONCE!r}")
    alias, nonce = _ALIAS, _NONCE
    tree = ast.parse(source)
    hidden = _hidden_lines(source)
    spec = {"exercise": None, "checks": []}

    class Rewrite(ast.NodeTransformer):
        def __init__(self):
            self.depth = 0  # inside a def, lambda, loop, if, ... : check calls must not be there

        def generic_visit(self, node):
            nested = not isinstance(node, (ast.Module, ast.With, ast.Expr, ast.Assign, ast.Call, ast.Attribute,
                                           ast.Name, ast.Constant, ast.Load, ast.Store, ast.withitem, ast.keyword))
            self.depth += nested
            try:
                return super().generic_visit(node)
            finally:
                self.depth -= nested

        def visit_Call(self, call):
            func = call.func
            if isinstance(func, ast.Name) and func.id == "Checks":
                if self.depth or spec["exercise"] is not None:
                    raise CheckCellError("build one Checks(...) per check cell, at its top level")
                spec["exercise"] = _literal(call.args[0], "the exercise name")
                call.func = ast.Name(alias, ast.Load())
                call.keywords = [k for k in call.keywords if k.arg != "emit"] + [ast.keyword("emit", ast.Constant(nonce))]
                return self.generic_visit(call)
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "checks" \
                    and func.attr in ("close", "that"):
                if self.depth:
                    raise CheckCellError(f"checks.{func.attr}(...) must be a statement of the cell, "
                                         "not inside a function, loop or condition")
                check = {"kind": "value" if func.attr == "close" else "condition",
                         "label": _literal(call.args[0], "a check's label"),
                         "hidden": call.lineno in hidden}
                if func.attr == "close":
                    check["expected"] = _literal(_argument(call, 2, "expected", None), "an expected value")
                    check["rtol"] = _literal(_argument(call, 3, "rtol", ast.Constant(1e-4)), "rtol")
                    check["atol"] = _literal(_argument(call, 4, "atol", ast.Constant(1e-6)), "atol")
                    check["hint"] = _literal(_argument(call, 5, "hint", ast.Constant(None)), "a hint")
                else:
                    check["explain"] = _literal(_argument(call, 2, "explain", ast.Constant("the condition does not hold")),
                                                "an explanation")
                spec["checks"].append(check)
                call.args, call.keywords = call.args[:2], []  # the label and the code to run, nothing else
            return self.generic_visit(call)

    tree = Rewrite().visit(tree)
    if spec["exercise"] is None or not spec["checks"]:
        raise CheckCellError("a check cell builds Checks(...) and runs at least one check")
    return spec, ast.unparse(ast.fix_missing_locations(tree))


class SendValuesOnly(NbGraderPreprocessor):
    """Before execution: strip every check cell down to the code that computes the answers.

    The setup cell (run before any student code) also keeps `Checks` under a name drawn for
    this run, so student code that rebinds `Checks` does not break the check cells."""

    def preprocess(self, nb, resources):
        alias = f"_checks_{secrets.token_hex(8)}"
        kept = resources["course_checks"] = {}
        for cell in nb.cells:
            if grade_id(cell) == "setup":
                cell.source += f"\n{alias} = Checks  # added by the grader"
            elif is_check_cell(cell):
                nonce = secrets.token_hex(8)
                entry = kept[grade_id(cell)] = {"source": cell.source, "nonce": nonce}
                try:
                    entry["spec"], cell.source = split_check_cell(cell.source, alias, nonce)
                except (CheckCellError, SyntaxError) as error:
                    entry["spec"], cell.source = None, "pass"
                    entry["problem"] = f"the grader cannot read this check cell ({error}); ask your instructor"
        return nb, resources


class SkipCellsAfterTheLastExercise(NbGraderPreprocessor):
    """Before execution: cells run in order, so a code cell after the last exercise and the last
    check cannot change a grade (the chapter's closing demos and animations). It is not run; in
    the feedback its output says so."""

    note = "(not run by the grader: no exercise or check comes after this cell)\n"

    def preprocess(self, nb, resources):
        graded = [i for i, cell in enumerate(nb.cells) if is_grade(cell) or is_solution(cell)]
        for cell in nb.cells[graded[-1] + 1:] if graded else []:
            if cell.cell_type == "code":
                cell.metadata.setdefault("tags", []).append("skip-execution")  # nbclient's tag for it
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=self.note)]
                cell.execution_count = None
        return nb, resources


def _valid(answer, depth=0):
    """Is `answer` an encoded answer (course/notebook/checks.py's encode) and nothing else?"""
    if type(answer) is not dict or depth > 8:
        return False
    keys = set(answer)
    if keys == {"error"}:
        return type(answer["error"]) is str and len(answer["error"]) <= 1000
    if keys == {"bool"}:
        return type(answer["bool"]) is bool
    if keys == {"items", "type"}:
        return type(answer["items"]) is list and type(answer["type"]) is str \
            and all(_valid(item, depth + 1) for item in answer["items"])
    if keys == {"array", "shape", "type"}:
        data, shape = answer["array"], answer["shape"]
        return (type(data) is list and all(type(x) is float or (type(x) is int and abs(x) < 2**1023) for x in data)
                and type(shape) is list and all(type(n) is int and n >= 0 for n in shape)
                and math.prod(shape) == len(data) and type(answer["type"]) is str)
    return False


def read_emission(outputs, nonce, labels):
    """(answers, None) from a check cell's outputs, or (None, why they earn nothing)."""
    errors = [o for o in outputs if o.output_type == "error"]
    emitted = [o for o in outputs if o.output_type in ("display_data", "execute_result")
               and CHECKS_MIME in o.get("data", {})]
    if errors:
        return None, f"the check cell raised {errors[0].get('ename', 'an error')}: {str(errors[0].get('evalue', ''))[:200]}"
    if not emitted:
        return None, "the check cell reported no answers (was its output silenced?)"
    if len(emitted) > 1:
        return None, "the check cell reported answers more than once"
    payload = emitted[0]["data"][CHECKS_MIME]
    malformed = "the check cell's answers are malformed"
    if type(payload) is not str or len(payload) > MAX_EMISSION:
        return None, malformed
    try:
        message = json.loads(payload)
    except (ValueError, RecursionError):
        return None, malformed
    if type(message) is not dict or set(message) != {"cell", "answers"} or type(message["answers"]) is not list:
        return None, malformed
    if message["cell"] != nonce:
        return None, "these answers come from another cell"
    answers = message["answers"]
    if len(answers) != len(labels):
        return None, f"expected {len(labels)} answers, got {len(answers)}"
    if not all(type(a) is dict and set(a) == {"label", "answer"} and _valid(a["answer"]) for a in answers):
        return None, malformed
    if [a["label"] for a in answers] != list(labels):
        return None, "the answers are out of order or belong to other checks"
    return [a["answer"] for a in answers], None


def judge(spec, answers, points, show_hidden_values=False):
    """The verdict of one check cell from its answers (plain data). Each check's "message" is the
    whole story (for the instructor's report); "shown" is what the student's feedback says: for a
    hidden check, the mistake and the hint without the expected value, unless show_hidden_values."""
    checks = []
    for check, got in zip(spec["checks"], answers):
        reveal = show_hidden_values or not check["hidden"]
        try:
            if check["kind"] == "value":
                args = got, check["expected"], check["rtol"], check["atol"], check["hint"]
                problem, shown = compare(*args), compare(*args, reveal=reveal)
            else:
                problem = shown = holds(got, check["explain"])
        except Exception as error:  # e.g. an integer too large for a float
            problem = shown = f"malformed answer ({type(error).__name__})"
        checks.append({"label": check["label"], "hidden": check["hidden"], "kind": check["kind"],
                       "passed": problem is None, "message": problem or "", "shown": shown or "",
                       "unfinished": got.get("error") == "not implemented yet"})
    passed = sum(c["passed"] for c in checks)
    # Whatever the kernel could know (visible expected values, True for a side condition) can be
    # forged: it never lifts the score above the share of hidden values the code got right.
    values = [c for c in checks if c["kind"] == "value"]
    hidden = [c for c in values if c["hidden"]] or values
    hidden_share = sum(c["passed"] for c in hidden) / len(hidden) if hidden else 0.0
    share = min(passed / len(checks), hidden_share)
    notes = [" (not implemented yet)"] * any(c["unfinished"] for c in checks)
    if share < passed / len(checks):
        notes.append(f" (capped: {sum(c['passed'] for c in hidden)}/{len(hidden)} hidden value checks passed)")
    return {"exercise": spec["exercise"], "points": points, "score": round(points * share, 4), "problem": None,
            "checks": checks, "note": "".join(notes)}


class JudgeChecks(NbGraderPreprocessor):
    """After execution: each check cell's score, from its answers and the kept expected values.

    Writes the cell's outputs (pass/FAIL lines, the summary, the score nbgrader reads) and
    `metadata.course.verdict`, and puts back the cell's real source for the feedback."""

    show_hidden_values = Bool(False, help="Feedback shows hidden checks' expected values (e.g. after the last "
                              "deadline); by default a hidden check says pass or FAIL, the mistake and the hint."
                              ).tag(config=True)

    def preprocess(self, nb, resources):
        kept = resources.pop("course_checks", {})
        for cell in nb.cells:
            if grade_id(cell) == "setup":
                cell.source = cell.source.split("\n_checks_")[0]
            elif is_check_cell(cell):
                self.judge_cell(cell, kept.get(grade_id(cell)), self.show_hidden_values)
        return nb, resources

    @staticmethod
    def judge_cell(cell, entry, show_hidden_values=False):
        points = float(cell.metadata["nbgrader"]["points"])
        problem = "the grader did not prepare this check cell" if entry is None else entry.get("problem")
        answers = None
        if problem is None:
            cell.source = entry["source"]
            labels = [check["label"] for check in entry["spec"]["checks"]]
            answers, problem = read_emission(cell.get("outputs", []), entry["nonce"], labels)
        if problem is None:
            verdict = judge(entry["spec"], answers, points, show_hidden_values)
            lines = [f"  pass  {c['label']}" if c["passed"] else f"  FAIL  {c['label']}: {c['shown']}"
                     for c in verdict["checks"]]
            passed = sum(c["passed"] for c in verdict["checks"])
            lines.append(f"{verdict['exercise']}: {passed}/{len(verdict['checks'])} checks passed{verdict.pop('note')}, "
                         f"{verdict['score']:g} of {points:g} points")
        else:
            exercise = entry["spec"]["exercise"] if entry and entry.get("spec") else grade_id(cell)
            verdict = {"exercise": exercise, "points": points, "score": 0.0, "problem": problem, "checks": []}
            lines = [f"{exercise}: {problem}; 0 of {points:g} points"]
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="\n".join(lines) + "\n"),
                        nbformat.v4.new_output("execute_result", data={"text/plain": repr(verdict["score"])},
                                               execution_count=cell.get("execution_count"))]
        cell.metadata.setdefault("course", {})["verdict"] = verdict
