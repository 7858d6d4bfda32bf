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


def _make_checks(abs=abs, float=float, len=len, zip=zip, str=str, type=type, list=list, tuple=tuple,
                 enumerate=enumerate, all=all, round=round, max=max, print=print, Exception=Exception,
                 NotImplementedError=NotImplementedError, isfinite=math.isfinite, array=np.array,
                 ndarray=np.ndarray, f64=np.float64, detach=torch.Tensor.detach, to=torch.Tensor.to,
                 numpy=torch.Tensor.numpy, no_torch_function=torch._C.DisableTorchFunction):
    """Build the checks from references taken now, before any of your code runs: patching
    numpy, torch, math or builtins later, or rebinding these names, changes nothing."""
    numbers = (int, float, np.float64, np.float32, np.float16, np.int64, np.int32)
    tensors = (torch.Tensor, torch.nn.Parameter)
    tolist, ravel, array2string = ndarray.tolist, ndarray.ravel, np.array2string
    catch_warnings, simplefilter, redirect_stderr, StringIO = (
        warnings.catch_warnings, warnings.simplefilter, contextlib.redirect_stderr, io.StringIO)

    def as_array(value):
        """A numeric answer as a float64 array. Types are checked exactly: a look-alike
        (an __eq__ that always says yes, a tensor subclass) is rejected, not compared."""
        kind = type(value)
        if kind in tensors:
            with no_torch_function():
                return numpy(to(detach(value), "cpu", torch.float64))
        if kind is list or kind is tuple:  # a list of numbers is an array too
            return array([as_array(item) for item in value], dtype=f64)
        if kind in numbers or (kind is ndarray and value.dtype.kind in "fiu"):
            return array(value, dtype=f64)
        raise TypeError(f"expected a number, NumPy array or tensor, got {kind.__name__}")

    def compare(got, expected, rtol, atol):
        """None when got matches expected within tolerance, else what differs."""
        if type(expected) is tuple:  # a tuple of answers; a list is one array
            if type(got) not in (tuple, list) or len(got) != len(expected):
                return f"expected a tuple of {len(expected)} values, got {type(got).__name__}"
            for i, (g, e) in enumerate(zip(got, expected)):
                problem = compare(g, e, rtol, atol)
                if problem:
                    return f"item {i}: {problem}"
            return None
        try:
            g = as_array(got)
        except Exception as error:  # ragged lists, objects that are not numbers...
            return str(error) if type(error) is TypeError else f"not a numeric answer ({error})"
        e = array(expected, dtype=f64)
        if g.shape != e.shape and not (g.size == e.size == 1):
            return f"expected shape {e.shape}, got shape {g.shape}"
        gs, es = tolist(ravel(g)), tolist(ravel(e))  # plain floats, compared by hand
        if not all(isfinite(x) and abs(x - y) <= atol + rtol * abs(y) for x, y in zip(gs, es)):
            fmt = lambda a: array2string(a, precision=6, threshold=12)
            return f"expected {fmt(e)}, got {fmt(g.reshape(e.shape))} (rtol={rtol}, atol={atol})"
        return None

    class Locked(type):
        def __setattr__(cls, name, value):
            raise TypeError("the checks are locked")

    class Checks(metaclass=Locked):
        """The checks of one exercise. Each check calls your code on its own, prints what
        passed and what did not, and the cell's last value is the score (nbgrader reads it
        as partial credit)."""

        def __init__(self, exercise, points):
            self.exercise, self.points = exercise, points
            self.passed = self.total = 0
            self.values_passed = self.values_total = 0
            self.unfinished = False

        def _call(self, compute):
            try:
                # A warning or a progress bar on stderr is not a failure.
                with catch_warnings(), redirect_stderr(StringIO()):
                    simplefilter("ignore")
                    return compute(), None
            except NotImplementedError:
                self.unfinished = True
                return None, "not implemented yet"
            except Exception as error:  # a crash in your code fails this check only
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
            problem = problem or compare(got, expected, rtol, atol)
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

    return Checks


Checks = _make_checks()
