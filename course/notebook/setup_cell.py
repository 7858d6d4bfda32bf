# @title Setup: run this cell first. It chooses the device, seeds every random generator and
# defines the checks. It is locked: the autograder runs the same cell.
import contextlib
import math
import os
import random

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
    # What torch.manual_seed(seed) does for the devices in use; it would also queue a seed,
    # with a stack trace, for every accelerator the machine lacks (about 1 ms a call).
    torch.random.default_generator.manual_seed(seed)
    if DEVICE.type == "cuda":
        torch.cuda.manual_seed_all(seed)
    return seed


seed_everything()
plt.rcParams.update({"figure.figsize": (6, 4), "figure.dpi": 80})


@contextlib.contextmanager
def exercise_required(*names):
    """Run a demo that needs an exercise; say so in one line instead of crashing if it is
    unfinished or wrong."""
    try:
        yield
    except Exception as error:  # noqa: BLE001: whatever a wrong answer raises
        _say_needs(names, error, _cell_line(error.__traceback__, error))


def _say_needs(names, error, line=None, defines=False):
    """The one line a cell that needs an exercise prints instead of a traceback."""
    import sys

    names = ", ".join(names)
    if isinstance(error, NotImplementedError) and not defines:
        return print(f"This cell needs {names}: finish the exercise above, then run it again.", flush=True)
    told = (error.msg if isinstance(error, SyntaxError) else str(error)).strip()
    what = f"{type(error).__name__}: {told.splitlines()[0][:160] if told else ''}"
    at = f" at line {line}" if line else ""
    fix = f"fix {names} here, then run this cell again" if defines else \
        f"this cell uses {names}: fix what its checks say, run its cell, then this cell again"
    print(f"{STOPPED} {what.rstrip(': ')}{at}; {fix}.", file=sys.stderr, flush=True)


STOPPED = "This cell stopped with"  # how the one line begins (tests and nbval's hook look for it)


def guard_exercise_cells(exercises):
    """Keep Run All going past a cell that needs an exercise (directly, or through a value a
    cell that needed one computed): its error prints one line and the kernel replies "ok",
    so Jupyter's Run All (which stops on an error reply) runs on to the checks and the summary.
    Other cells, deliberate teaching errors among them, fail as usual; so does a check cell."""
    try:
        shell = get_ipython()  # noqa: F821: defined in IPython only
    except NameError:
        return  # plain Python: nothing to keep going
    import ast
    import re

    old = getattr(shell, "_course_guard", None)
    if old:  # the setup cell ran again: one guard only
        shell.events.unregister("pre_run_cell", old.pre)
        shell.events.unregister("post_run_cell", old.post)

    class Guard:
        def __init__(self):
            self.needs = {name: [name] for name in exercises}  # name -> the exercises its value comes from
            self.cell = None  # (the exercises the running cell needs, whether it defines one)
            self.handled = False

        def pre(self, info):
            self.cell, self.handled = None, False
            try:
                self._classify(info)
            except Exception:  # noqa: BLE001: the notebook's code rebound a name the guard uses: no guard
                self.cell = None

        def _classify(self, info):
            source = info.raw_cell or ""
            if "raises-exception" in ((getattr(info, "cell_meta", None) or {}).get("tags") or []):
                return  # JupyterLab sends the cell's metadata: an error shown on purpose stays an error
            try:
                tree = ast.parse(shell.transform_cell(source))
            except SyntaxError:  # an exercise's cell that does not parse yet still names it
                defined = [n for n in exercises if re.search(rf"^\s*(def|class)\s+{n}\b", source, re.M)]
                self.cell = (defined, True) if defined else None
                return
            calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
            if any(shell.user_ns.get(name) is Checks for name in calls):  # noqa: F821
                return  # a check cell reports its own errors (the grader reads them)
            used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            bound = _bound_names(tree.body)
            defined = [n for n in exercises if n in bound]
            needed = list(dict.fromkeys(defined + [e for n in sorted(used) if n in self.needs for e in self.needs[n]]))
            for name in bound:  # what this cell computes comes from what it needs, or from nothing
                if needed:
                    self.needs[name] = needed if name not in exercises else list(dict.fromkeys([name] + needed))
                else:
                    self.needs.pop(name, None)
            self.cell = (defined, True) if defined else (needed, False) if needed else None

        def post(self, result):
            if self.handled and result is not None:  # the error was said in one line: carry on
                result.error_in_exec = result.error_before_exec = None
            self.cell, self.handled = None, False

        def handler(self, shell, etype, value, tb, tb_offset=None):
            try:
                if self.cell is not None and issubclass(etype, Exception):
                    _say_needs(self.cell[0], value, _cell_line(tb, value), defines=self.cell[1])
                    self.handled = True
                    return []
            except Exception:  # noqa: BLE001: as in pre(): the error is shown as it is
                self.handled = False
            return shell.showtraceback((etype, value, tb), tb_offset=tb_offset)

    guard = shell._course_guard = Guard()
    shell.events.register("pre_run_cell", guard.pre)
    shell.events.register("post_run_cell", guard.post)
    shell.set_custom_exc((Exception,), guard.handler)


def _bound_names(statements):
    """Names a cell binds: its top level's and those of the blocks in it (a with block's
    function counts its own variables too: too many names only guard more cells)."""
    import ast

    found = []
    for statement in statements:
        for node in [statement] if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                else ast.walk(statement):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found.append(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                found.append(node.id)  # (imports are not counted: a module's value comes from no exercise)
    return found


def _cell_line(tb, error):
    """The line of the cell where the error happened: the innermost frame in the cell's code."""
    if isinstance(error, SyntaxError):
        return error.lineno
    line, cell_file = None, None
    while tb is not None:
        code = tb.tb_frame.f_code
        if cell_file is None and code.co_name == "<module>":
            cell_file = code.co_filename
        if code.co_filename == cell_file:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
