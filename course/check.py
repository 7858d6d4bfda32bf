"""Check a notebook before submitting it, the way the grader will run it.

    python -m course.check path/to/01-gradient-descent.ipynb [...]

Runs nbgrader's validator (restart, run all, read every check cell's score) and exits
with status 1 when any check cell earns less than its points, 2 when a file cannot be read.
"""
import argparse
import os
import sys

from nbgrader.validator import Validator


class _Validator(Validator):
    """nbgrader's validator, keeping the executed notebook to quote the failed checks."""

    def _preprocess(self, nb):
        self.executed = super()._preprocess(nb)
        return self.executed


def _failed_lines(validator, source):
    for cell in getattr(validator, "executed", {"cells": []})["cells"]:
        if cell["source"].strip() == source:
            text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o["output_type"] == "stream")
            return "\n".join(line for line in text.splitlines() if "FAIL" in line or "checks passed" in line)
    return ""


def check(path):
    """Return (cell, message) for every check cell that does not pass."""
    validator = _Validator(validate_all=True)
    results = validator.validate(os.path.abspath(path))
    first_line = lambda cell: cell["source"].splitlines()[0] if cell["source"] else "(empty cell)"
    problems = [(first_line(c), "this locked cell was changed") for c in results.get("changed", [])]
    problems += [(first_line(c), "this cell's type was changed") for c in results.get("type_changed", [])]
    problems += [(first_line(c), _failed_lines(validator, c["source"]) or c["raw_error"].strip())
                 for c in results.get("failed", [])]
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+")
    args = parser.parse_args(argv)
    status = 0
    for path in args.notebooks:
        try:
            problems = check(path)
        except Exception as error:  # unreadable JSON, missing file...
            print(f"{path}: cannot check: {error}", file=sys.stderr)
            status = 2
            continue
        if problems:
            status = max(status, 1)
            print(f"{path}: {len(problems)} check cell(s) do not pass yet")
            for cell, message in problems:
                print(f"--- {cell}\n{message}")
        else:
            print(f"{path}: every check passes")
    return status


if __name__ == "__main__":
    sys.exit(main())
