# The checks: each calls your code on its own inputs, compares the answer with the expected
# value and prints pass or FAIL. When the grader runs a check cell, the answers only leave
# this notebook as plain numbers; the grader compares them with values it keeps to itself.
import io, json, numbers, sys, warnings  # noqa: E401
from html import escape

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


def compare(got, expected, rtol, atol, hint=None, reveal=True):
    """None when an encoded answer matches expected within tolerance, else what differs.
    reveal=False names the mistake without the expected value (a hidden check's feedback)."""
    problem = _compare(got, expected, rtol, atol, reveal)
    return problem and (f"{problem.rstrip('.')}{'' if problem.endswith('?') else '.'} Hint: {hint}" if hint else problem)


def _compare(got, expected, rtol, atol, reveal=True):
    if type(expected) is tuple and "error" not in got:  # a tuple of answers; a list is one array
        items = got.get("items", [got])
        if len(items) != len(expected):
            return f"expected a tuple of {len(expected)} values, got {len(items)}"
        problems = [(i, _compare(g, e, rtol, atol, reveal)) for i, (g, e) in enumerate(zip(items, expected))]
        return next((f"item {i}: {p}" for i, p in problems if p), None)
    try:
        g, e = as_array(got), np.array(expected, dtype=np.float64)
    except ValueError as error:
        return str(error)
    if g.shape != e.shape and g.size + e.size != 2:
        return f"expected shape {e.shape}, got shape {g.shape}" if reveal else f"wrong shape {g.shape}"
    if not (np.isfinite(g).all() and (np.abs(g.reshape(e.shape) - e) <= atol + rtol * np.abs(e)).all()):
        show = lambda a: np.array2string(a, precision=6, threshold=12)
        near = lambda a, b: a.shape == b.shape and np.isfinite(a).all() and (np.abs(a - b) <= atol + rtol * np.abs(b)).all()
        why = likely_mistake(g.reshape(e.shape), e, near)
        told = f"expected {show(e)}, got {show(g.reshape(e.shape))} (rtol={rtol}, atol={atol})" if reveal else \
            ("not finite" if not np.isfinite(g).all() else "wrong value")
        return told + (f": {why}" if why else "")


def holds(got, explain):
    """None when a side condition's answer is True, else why not."""
    return got.get("error") or (None if got.get("bool") is True else explain)


class Checks:
    """The visible checks of one exercise. In your notebook each prints pass or FAIL (FAIL lines go
    to stderr, which is what nbgrader's Validate button shows); the grade comes from the grader,
    which runs hidden checks like these with other inputs."""

    latest = {}  # exercise -> its Checks that ran last in this kernel, for the summary table

    def __init__(self, exercise, *, emit=None):
        self.exercise, self.emit, self.answers, self.results = exercise, emit, [], []
        if emit is None:
            Checks.latest[exercise] = self

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
        todo = got.get("error") == "not implemented yet"
        self.results.append({"label": label, "kind": kind, "problem": problem, "todo": todo})
        if problem is None:
            print(f"  pass  {label}", flush=True)
        elif not todo:
            _say_failure(f"  FAIL  {label}: {problem}")

    def close(self, label, compute, expected=None, rtol=1e-4, atol=1e-6, hint=None):
        """compute() must match expected (numbers, arrays, tensors, tuples of them)."""
        self._run(label, "value", compute, lambda got: compare(got, expected, rtol, atol, hint))

    def that(self, label, compute, explain="the condition does not hold"):
        """compute() must return True; side conditions earn nothing on their own."""
        self._run(label, "condition", compute, lambda got: holds(got, explain))

    def status(self):
        """"pass", "FAIL" or "not started" (the exercise still raises NotImplementedError)."""
        if self.results and all(r["todo"] for r in self.results):
            return "not started"
        return "pass" if self.results and all(r["problem"] is None for r in self.results) else "FAIL"

    def row(self):
        """This exercise's line of the summary table, as plain data."""
        failed = [r for r in self.results if r["problem"] is not None]
        first = f"{failed[0]['label']}: {failed[0]['problem']}" if failed and self.status() == "FAIL" else ""
        return {"exercise": self.exercise, "status": self.status(), "passed": len(self.results) - len(failed),
                "checks": len(self.results), "first_failure": first}

    def score(self):
        """Graded: hand the answers to the grader. In your notebook: say how the visible checks went."""
        if self.emit:
            from IPython.display import display

            return display({CHECKS_MIME: json.dumps({"cell": self.emit, "answers": self.answers})}, raw=True)
        row = self.row()
        if row["status"] == "pass":
            print(f"{self.exercise}: all {row['checks']} visible checks pass. {HIDDEN_NOTE}", flush=True)
        elif row["status"] == "not started":
            _say_failure(f"{self.exercise}: not started (it still raises NotImplementedError): write it, run its "
                         "cell, then run this cell again.")
        else:  # nbgrader's Validate shows only failing cells' stderr: it names the passing ones here
            passing = [name for name, checks in Checks.latest.items() if checks.status() == "pass"]
            _say_failure(f"{self.exercise}: {row['checks'] - row['passed']} of {row['checks']} visible checks FAIL: "
                         "fix what the FAIL lines say, run the exercise's cell, then this cell again."
                         + (f" Passing so far: {', '.join(passing)}." if passing else ""))

    @staticmethod
    def rows(exercises):
        """The summary table's rows, one per exercise; "not run" where its check cell has not run."""
        return [Checks.latest[name].row() if name in Checks.latest else
                {"exercise": name, "status": "not run", "passed": 0, "checks": 0,
                 "first_failure": "its check cell has not run yet: run every cell above (Run All)"}
                for name in exercises]

    @staticmethod
    def summary(exercises):
        """Show the summary table: one row per exercise, from the visible checks that ran."""
        from IPython.display import display

        rows = Checks.rows(exercises)
        done = sum(r["status"] == "pass" for r in rows)
        head = f"{done} of {len(rows)} exercises pass their visible checks."
        cells = lambda r: (r["exercise"], r["status"], f"{r['passed']} of {r['checks']}" if r["checks"] else "-",
                           r["first_failure"])
        text = [head, ""] + ["  {:<20} {:<12} {:<9} {}".format(*cells(r)) for r in rows] + ["", HIDDEN_NOTE]
        colour = {"pass": "#1a7f37", "FAIL": "#cf222e"}
        html = "".join(
            f"<tr><td><code>{escape(r['exercise'])}</code></td>"
            f"<td style='color:{colour.get(r['status'], '#6e7781')};font-weight:bold'>{r['status']}</td>"
            f"<td>{c[2]}</td><td style='white-space:pre-wrap;text-align:left'>{escape(r['first_failure'])}</td></tr>"
            for r, c in ((r, cells(r)) for r in rows))
        display({"text/plain": "\n".join(text),
                 "text/html": f"<p><b>{escape(head)}</b></p><table><thead><tr><th>exercise</th><th>status</th>"
                              f"<th>visible checks passed</th><th>first failing check</th></tr></thead>"
                              f"<tbody>{html}</tbody></table><p>{escape(HIDDEN_NOTE)}</p>"}, raw=True)


HIDDEN_NOTE = ("These are the visible checks only: the grade comes from hidden checks like these, which the "
               "grader runs with other inputs when you submit.")


def _say_failure(text, width=80):
    """A failure on stderr (shown in red, and what nbgrader's Validate reports), wrapped to fit a screen."""
    import textwrap

    lines = textwrap.wrap(text, width, subsequent_indent="        ", break_on_hyphens=False,
                          break_long_words=False) or [text]
    print("\n".join(lines), file=sys.stderr, flush=True)
