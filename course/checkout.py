"""Which checkout of the course a folder belongs to. `python -m course` imports the package of the
current folder, or else whatever clone is installed: from another clone's autograders/ that is
the installed one, which would grade (and write into) its own course folder, not this one."""
from pathlib import Path

from course import ROOT


def checkout_of(folder):
    """The course checkout holding `folder` (a folder with course/ and autograders/), or None."""
    folder = Path(folder).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / "course" / "__init__.py").is_file() and (candidate / "autograders" / "nbgrader_config.py").is_file():
            return candidate
    return None


def refuse_another_checkout(root=None):
    """Stop when the course folder given (`root`; without one, the current folder) is in another
    checkout than this package's: its sources, config and gradebook are not the ones used."""
    folder = Path.cwd() if root is None else Path(root)
    other = checkout_of(folder)
    if other is not None and other != ROOT:
        raise SystemExit(
            f"refusing: {folder} belongs to the checkout {other}, but this `course` package is the one of "
            f"{ROOT} (installed from there?), which would use {ROOT}'s sources, config and gradebook.\n"
            f"Run {other}'s own: cd {other} && python -m course ... (or `pip install -e {other}` in this "
            f"environment), or pass --root with a course folder of {ROOT}.")
