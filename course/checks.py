# The checks: each calls your code on its own inputs, compares the answer with the expected
# value and prints pass or FAIL. When the grader runs a check cell, the answers only leave
# this notebook as plain numbers; the grader compares them with values it keeps to itself.
import io, json, numbers, warnings  # noqa: E401

import numpy as np
import torch

CHECKS_MIME = "application/vnd.course.checks+json"


def encode(value, depth=0):
    """An answer as plain data: numbers with a shape, a sequence of answers, or an error."""
    if isinstance(value, torch.Tensor):
        value = value.detach().to("cpu", torch.float64).numpy()
    if isinstance(value, (tuple, list)) and depth < 8:
        return {"items": [encode(item, depth + 1) for item in value], "type": type(value).__name__}
    if isinstance(value, (bool, np.bool_)):
        return {"bool": bool(value)}
    if isinstance(value, numbers.Real) or (isinstance(value, np.ndarray) and value.dtype.kind in "fiub"):
        array = np.asarray(value, dtype=np.float64)
        return {"array": array.ravel().tolist(), "shape": list(array.shape), "type": type(value).__name__}
    return {"error": f"expected a number, NumPy array or tensor, got {type(value).__name__}"}


def as_array(got):
    if "items" in got:
        try:
            return np.array([as_array(item) for item in got["items"]], dtype=np.float64)
        except ValueError:
            raise ValueError("not a numeric answer: its items have different shapes") from None
    if "array" not in got:
        raise ValueError(got.get("error") or "expected a number, NumPy array or tensor, got bool")
    return np.array(got["array"], dtype=np.float64).reshape(got["shape"])


def likely_mistake(g, e, near):
    """What a wrong answer probably got wrong, when it is a typical slip of a right one."""
    for wrong, why in ((-e, "the sign is flipped"), (e / 2, "it is half the expected value: a factor 2 missing?"),
                       (2 * e, "it is twice the expected value: a factor 2 too many?")):
        if not near(wrong, e) and near(g, wrong):
            return why
    if g.ndim == 1 and g.size > 2 and (near(g[1:], e[:-1]) or near(g[:-1], e[1:])):
        return "the values are shifted by one step: is each recorded before its update, and are there n of them?"


def compare(got, expected, rtol, atol, hint=None):
    """None when an encoded answer matches expected within tolerance, else what differs."""
    problem = _compare(got, expected, rtol, atol)
    return problem and (f"{problem}. Hint: {hint}" if hint else problem)


def _compare(got, expected, rtol, atol):
    if type(expected) is tuple and "error" not in got:  # a tuple of answers; a list is one array
        items = got.get("items", [got])
        if len(items) != len(expected):
            return f"expected a tuple of {len(expected)} values, got {len(items)}"
        problems = [(i, _compare(g, e, rtol, atol)) for i, (g, e) in enumerate(zip(items, expected))]
        return next((f"item {i}: {p}" for i, p in problems if p), None)
    try:
        g, e = as_array(got), np.array(expected, dtype=np.float64)
    except ValueError as error:
        return str(error)
    if g.shape != e.shape and g.size + e.size != 2:
        return f"expected shape {e.shape}, got shape {g.shape}"
    if not (np.isfinite(g).all() and (np.abs(g.reshape(e.shape) - e) <= atol + rtol * np.abs(e)).all()):
        show = lambda a: np.array2string(a, precision=6, threshold=12)
        near = lambda a, b: a.shape == b.shape and np.isfinite(a).all() and (np.abs(a - b) <= atol + rtol * np.abs(b)).all()
        why = likely_mistake(g.reshape(e.shape), e, near)
        return f"expected {show(e)}, got {show(g.reshape(e.shape))} (rtol={rtol}, atol={atol})" + (f": {why}" if why else "")


def holds(got, explain):
    """None when a side condition's answer is True, else why not."""
    return got.get("error") or (None if got.get("bool") is True else explain)


class Checks:
    """The checks of one exercise; the cell's last value is its score (partial credit)."""

    def __init__(self, exercise, points, emit=None):
        self.exercise, self.points, self.emit, self.answers, self.results = exercise, points, emit, [], []

    def _run(self, label, kind, compute, judge):
        try:  # a warning or a progress bar on stderr is not a failure
            with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                got = encode(compute())
        except NotImplementedError:
            got = {"error": "not implemented yet"}
        except Exception as error:  # a crash in your code fails this check only
            got = {"error": f"raised {type(error).__name__}: {error}"[:500]}
        if self.emit:  # graded: the grader judges the answer
            return self.answers.append({"label": label, "answer": got})
        problem = judge(got)
        self.results.append((kind, problem, got.get("error") == "not implemented yet"))
        print(f"  pass  {label}" if problem is None else f"  FAIL  {label}: {problem}")

    def close(self, label, compute, expected=None, rtol=1e-4, atol=1e-6, hint=None):
        """compute() must match expected (numbers, arrays, tensors, tuples of them)."""
        self._run(label, "value", compute, lambda got: compare(got, expected, rtol, atol, hint))

    def that(self, label, compute, explain="the condition does not hold"):
        """compute() must return True; side conditions earn nothing on their own."""
        self._run(label, "condition", compute, lambda got: holds(got, explain))

    def score(self):
        if self.emit:
            from IPython.display import display

            return display({CHECKS_MIME: json.dumps({"cell": self.emit, "answers": self.answers})}, raw=True)
        passed = sum(problem is None for _, problem, _ in self.results)
        values = any(kind == "value" and problem is None for kind, problem, _ in self.results)
        earned = round(self.points * passed / max(len(self.results), 1), 4) if values else 0.0
        note = " (not implemented yet)" * any(todo for *_, todo in self.results) + " (no value check passed)" * (not values)
        print(f"{self.exercise}: {passed}/{len(self.results)} checks passed{note}, {earned} of {self.points} points")
        return earned
