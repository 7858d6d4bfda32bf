"""A clean terminal for the instructor, a full log in <root>/grading.log for whoever needs it.

What a grading batch used to print besides its progress, and what happens to each now:

- SQLAlchemy's `SAWarning: Object of type <SubmittedAssignment> not in session, add operation
  along 'Student.submissions' will not proceed` (and its SubmittedNotebook twin): nbgrader's
  `Gradebook.add_submission` builds related objects before adding them to the session, which
  SQLAlchemy 2 reports. nbgrader's code, not ours: filtered by category, module and message
  (`LIBRARY_NOISE`) and written to the log file only.
- nbformat's `MissingIDFieldWarning`: nbgrader puts a deleted check cell back
  (`OverwriteCells.add_missing_cells`) as a cell without an id. Cause fixed: the course's
  sanitize step uses `OverwriteCellsWithIds`, which gives such a cell an id at once.
- IPKernelApp's `Kernel is running over TCP without encryption` and ipykernel's "NOTE: When
  using the `ipython kernel` entry point, Ctrl-C will not work": printed by kernels on their
  own stdout/stderr. Sandboxed kernels talk over ipc sockets (course/grading/sandbox/kernel.py); unsandboxed
  ones are given ipc too (course/grading/gradebook.py), and a local grading worker points its file
  descriptors 1 and 2 at a pipe it copies into the log file, so what a kernel (student code
  included) prints lands there, never on the terminal.

- nbgrader's `Attribute 'checksum' for cell test_fun_dz has changed!` for every honest
  submission: the gradebook keeps a check cell's checksum with its hidden tests, the student's
  copy has them removed, so nbgrader's OverwriteCells sees a changed locked cell. Cause
  handled in `OverwriteCellsWithIds`: a locked cell that is exactly the released one (the
  gradebook's source less its hidden tests) is restored without a warning; any other change
  to a locked cell is still reported as tampering.

Everything else still reaches the terminal: a warning not in LIBRARY_NOISE, a logged error.

grading.log is appended to: each batch starts with a header line (`run_header`: the date, the
command and the assignments), so an instructor keeps every run's log, a no-op rerun included.
"""
import datetime
import logging
import os
import re
import shlex
import sys
import threading
import warnings


LOG_NAME = "grading.log"
log = logging.getLogger("course")

# (category name, module regex, message regex): warnings a library emits that say nothing to an
# instructor. Matched by the category's class name, so the class need not be imported here.
LIBRARY_NOISE = [
    ("SAWarning", r"nbgrader\.api",
     r"Object of type <Submitted(Assignment|Notebook)> not in session, add operation along "
     r"'\w+\.submissions' will not proceed"),
]


def is_library_noise(category, module, message):
    return any(category.__name__ == name and re.fullmatch(mod, module or "") and re.match(text, message)
               for name, mod, text in LIBRARY_NOISE)


def _module_of(filename):
    """The dotted module a warning's file belongs to (what warnings.filterwarnings's module matches)."""
    parts = os.path.normpath(filename).split(os.sep)
    if "site-packages" in parts:
        parts = parts[len(parts) - parts[::-1].index("site-packages"):]
    module = ".".join(parts)
    return module[:-3] if module.endswith(".py") else module


def _show_warning(message, category, filename, lineno, file=None, line=None):
    text = warnings.formatwarning(message, category, filename, lineno, line).rstrip()
    quiet = is_library_noise(category, _module_of(filename), str(message))
    logging.getLogger("py.warnings").log(logging.DEBUG if quiet else logging.WARNING, text)


class _Terminal(logging.Filter):
    """What reaches the terminal: Python warnings not in LIBRARY_NOISE (which are logged at DEBUG),
    this package's warnings and errors, and in the instructor's process any library's errors.
    A grading worker's library logs (nbgrader's per-submission log) go to the file only: the
    outcome of each submission, with the reason it could not be graded, is what the batch prints."""

    def __init__(self, worker):
        super().__init__()
        self.worker = worker

    def filter(self, record):
        if record.levelno < logging.WARNING:
            return False
        if record.name == "py.warnings" or record.name == "course" or record.name.startswith("course."):
            return True
        return record.levelno >= logging.ERROR and not self.worker


OUTPUT_BUDGET = 10 * 2**20  # bytes of raw process output one worker writes to the log


def _forward(fd):
    """Copy what this process and its children print on fds 1 and 2 into the log, line by line,
    up to OUTPUT_BUDGET; keep draining the pipe after that so no writer ever blocks."""
    output, left, pending = logging.getLogger("course.output"), OUTPUT_BUDGET, b""
    while chunk := os.read(fd, 65536):
        if left <= 0:
            continue
        pending += chunk[:left]
        left -= len(chunk)
        *lines, pending = pending.split(b"\n")
        for line in lines:
            output.debug(line.decode("utf-8", "replace"))
        if left <= 0:
            output.info("[more output than %d bytes: the rest is not logged]", OUTPUT_BUDGET)


def configured():
    return any(getattr(h, "_course", False) for h in logging.getLogger().handlers)


def setup(root=None, terminal=None, worker=False, redirect_fds=False):
    """Route this process's warnings and logs: DEBUG and up to <root>/grading.log, WARNING and
    up (minus LIBRARY_NOISE) to `terminal` (default: stderr). Idempotent per process.

    worker: a grading worker, which keeps library logs off the terminal. Every process appends
    to the log: `run_header` marks where a batch starts. redirect_fds: point file descriptors 1 and 2 at the log file (a local grading worker: its
    kernels inherit them); the terminal handler keeps a copy of the original stderr."""
    top = logging.getLogger()
    for handler in [h for h in top.handlers if getattr(h, "_course", False)]:
        top.removeHandler(handler)
        handler.close()
    top.setLevel(logging.DEBUG)
    path = None
    if root is not None:
        path = os.path.join(str(root), LOG_NAME)
        to_file = logging.FileHandler(path, mode="a", encoding="utf-8")
        to_file.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
        to_file._course = True
        top.addHandler(to_file)
    if terminal is None:
        terminal = sys.stderr
        if redirect_fds and path is not None:
            terminal = os.fdopen(os.dup(2), "w", buffering=1)
            sys.stdout.flush()
            sys.stderr.flush()
            # A pipe, not the log file itself: a kernel inherits these descriptors, and one
            # holding the file could truncate it.
            read_end, write_end = os.pipe()
            os.dup2(write_end, 1)
            os.dup2(write_end, 2)
            os.close(write_end)
            threading.Thread(target=_forward, args=(read_end,), daemon=True, name="course-output").start()
    to_terminal = logging.StreamHandler(terminal)
    to_terminal.setLevel(logging.WARNING)
    to_terminal.addFilter(_Terminal(worker))
    to_terminal.setFormatter(logging.Formatter("%(message)s"))
    to_terminal._course = True
    top.addHandler(to_terminal)
    logging.getLogger("matplotlib").setLevel(logging.INFO)  # its font search: thousands of DEBUG lines
    warnings.showwarning = _show_warning
    return path


def run_header(assignments, argv=None):
    """Start a batch's part of the log: the date, the command and the assignments."""
    if argv is None:
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        if spec is not None and spec.name == "course.__main__":  # python -m course grade: as `course grade`
            argv = ["course"] + sys.argv[1:]
        elif spec is not None:
            argv = [os.path.basename(sys.executable), "-m", spec.name] + sys.argv[1:]
        else:  # the `course` console script, or a script of the caller's
            argv = [os.path.basename(sys.argv[0])] + sys.argv[1:]
    command = shlex.join(argv)
    now = datetime.datetime.now(datetime.timezone.utc).astimezone()
    log.info("%s run %s: %s; assignments: %s", "=" * 20, now.isoformat(timespec="seconds"), command,
             ", ".join(assignments) or "none")
