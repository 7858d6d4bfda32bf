# Setup: run this cell first. It chooses the device, seeds every random generator
# and defines the helpers that the checks below rely on. It is locked: the
# autograder runs the same cell.
import contextlib
import io
import math
import os
import random
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch

# The one place the device is chosen: set COURSE_DEVICE=cpu or COURSE_DEVICE=cuda
# in the environment, or leave it unset to use a GPU when there is one.
DEVICE = torch.device(os.environ.get("COURSE_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu"))


def seed_everything(seed=2021):
    """Seed Python's, NumPy's and PyTorch's generators so every run is the same."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return seed


seed_everything()
plt.rcParams.update({"figure.figsize": (6, 4), "figure.dpi": 80})


@contextlib.contextmanager
def exercise_required(*names):
    """Run a demo that needs an exercise; say so instead of crashing if it is unfinished."""
    try:
        yield
    except NotImplementedError:
        print(f"This cell needs {', '.join(names)}: finish the exercise above, then run it again.")


def _as_array(value):
    """A numeric answer as a float64 array; anything else is rejected by type."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", torch.float64).numpy()
    if isinstance(value, (list, tuple)):  # a list of numbers is an array too
        return np.asarray([_as_array(item) for item in value], dtype=np.float64)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number, np.ndarray)):
        raise TypeError(f"expected a number, NumPy array or tensor, got {type(value).__name__}")
    return np.asarray(value, dtype=np.float64)


def _compare(got, expected, rtol, atol):
    """None when got matches expected within tolerance, else what differs."""
    if isinstance(expected, tuple):  # a tuple of answers; a list is one array
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected a tuple of {len(expected)} values, got {type(got).__name__}"
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = _compare(g, e, rtol, atol)
            if problem:
                return f"item {i}: {problem}"
        return None
    try:
        g = _as_array(got)
    except Exception as error:  # ragged lists, objects that are not numbers...
        return str(error) if isinstance(error, TypeError) else f"not a numeric answer ({error})"
    e = np.asarray(expected, dtype=np.float64)
    if g.shape != e.shape and not (g.size == e.size == 1):
        return f"expected shape {e.shape}, got shape {g.shape}"
    if not np.allclose(g.reshape(e.shape), e, rtol=rtol, atol=atol):
        fmt = lambda a: np.array2string(a, precision=6, threshold=12)
        return f"expected {fmt(e)}, got {fmt(g.reshape(e.shape))} (rtol={rtol}, atol={atol})"
    return None


class Checks:
    """The checks of one exercise. Each check calls the student's code on its own,
    prints what passed and what did not, and the cell's last value is the score
    (nbgrader reads it as partial credit)."""

    def __init__(self, exercise, points):
        self.exercise, self.points = exercise, points
        self.passed = self.total = 0
        self.values_passed = self.values_total = 0
        self.unfinished = False

    def _call(self, compute):
        try:
            # A warning or a progress bar on stderr is not a failure.
            with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                return compute(), None
        except NotImplementedError:
            self.unfinished = True
            return None, "not implemented yet"
        except Exception as error:  # a crash in student code fails this check only
            return None, f"raised {type(error).__name__}: {error}"

    def _record(self, label, problem):
        self.total += 1
        if problem is None:
            self.passed += 1
            print(f"  pass  {label}")
        else:
            print(f"  FAIL  {label}: {problem}")

    def close(self, label, compute, expected, rtol=1e-4, atol=1e-6):
        """compute() must match expected (numbers, arrays, tensors, tuples of them)."""
        got, problem = self._call(compute)
        problem = problem or _compare(got, expected, rtol, atol)
        self.values_total += 1
        self.values_passed += problem is None
        self._record(label, problem)

    def that(self, label, compute, explain="the condition does not hold"):
        """compute() must return exactly True."""
        got, problem = self._call(compute)
        self._record(label, problem or (None if got is True else explain))

    def score(self):
        earned = round(self.points * self.passed / max(self.total, 1), 4)
        note = " (not implemented yet)" if self.unfinished else ""
        if self.values_total and not self.values_passed:
            # Leaving the inputs alone is no answer: side conditions earn nothing on their own.
            earned, note = 0.0, note + " (no value check passed)"
        print(f"{self.exercise}: {self.passed}/{self.total} checks passed{note}, {earned} of {self.points} points")
        return earned
