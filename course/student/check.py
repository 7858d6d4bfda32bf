"""Check a course notebook before you submit it: run it as the grader does, report each exercise.

    python check.py 01-gradient-descent.ipynb [...]    (check.py comes beside the notebook)
    course check NOTEBOOK [...]                        (in the course repository)

Runs the cells the grader runs (every cell up to the last exercise or check; later demos are
skipped), then lists each exercise with its visible checks: pass, FAIL with the first failing
check's message, or not started. A deliberate error the chapter shows on purpose (tagged
raises-exception) is expected; a demo that needs an unfinished exercise is reported, not
failed. Exit status: 0 when every exercise passes its visible checks, 1 when one does not,
2 when a file cannot be checked. The grade itself comes from the grader's hidden checks.

This file stands alone: it needs only Jupyter (nbformat, nbclient, ipykernel), so it works
wherever the notebook runs (a hub, a laptop, a terminal in Colab).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

MARK = "course-check-summary:"
STOPPED = "This cell stopped with"  # the one line a cell that needs a wrong exercise prints (setup cell)
UNFINISHED = "This cell needs "  # ... and one that needs an unfinished exercise
SUMMARY_TAG = "course-summary"  # the student notebook's last cell, the table: it runs too
CHECKS_CALL = re.compile(r"""^checks = Checks\(\s*["']([^"']+)["']""", re.M)


def nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def exercises_of(nb):
    """Exercise names in order, from the check cells (`checks = Checks("name", points)`)."""
    names = [m for c in nb.cells if c.cell_type == "code" and nbgrader(c).get("grade") for m in CHECKS_CALL.findall(c.source)]
    return list(dict.fromkeys(names))


def changed_locked_cells(nb):
    """Exercises whose check cell was edited (nbgrader's checksums; skipped without nbgrader)."""
    try:
        from nbgrader.utils import compute_checksum, is_locked
    except ImportError:
        return {}
    changed = {}
    for cell in nb.cells:
        meta = nbgrader(cell)
        if is_locked(cell) and "checksum" in meta and compute_checksum(cell) != meta["checksum"]:
            names = CHECKS_CALL.findall(cell.source) if cell.cell_type == "code" else []
            changed[names[0] if names else meta.get("grade_id", "?")] = meta.get("grade_id", "?")
    return changed


def prepare(nb, exercises):
    """Skip what the grader skips, and end with a cell that reports the visible checks as JSON.
    Every saved output goes first: the check judges this run, not an earlier one."""
    import nbformat

    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None

    graded = [i for i, c in enumerate(nb.cells) if nbgrader(c).get("grade") or nbgrader(c).get("solution")]
    last = graded[-1] if graded else -1
    for cell in nb.cells[last + 1:]:
        if cell.cell_type == "code" and SUMMARY_TAG not in cell.metadata.get("tags", []):
            cell.metadata.setdefault("tags", []).append("skip-execution")
    probe = nbformat.v4.new_code_cell(f"import json as _json\nprint({MARK!r} + _json.dumps(Checks.rows({exercises!r})))")
    nb.cells.append(probe)
    return nb


def execute(nb, folder, timeout):
    """Run the notebook in its folder over unix sockets (no TCP warning), kernel noise discarded."""
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    env = dict(os.environ, MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    with tempfile.TemporaryDirectory(prefix="course-check-") as sockets:
        km = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "kernel"))
        client = NotebookClient(nb, km=km, timeout=timeout, allow_errors=True, kernel_name="python3",
                                resources={"metadata": {"path": folder}})
        client.execute(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cleanup_kc=True)  # we own km: stop it
    return nb


def errors(cells):
    """(cell number, tags, ename, evalue) of every cell that raised, in order; a cell that
    said in one line that it needs an exercise has ename None and that line as evalue."""
    found = []
    for n, cell in enumerate(cells, 1):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.output_type == "error":
                found.append((n, cell.metadata.get("tags", []), out.ename, out.evalue))
            elif out.output_type == "stream":
                found += [(n, [], None, line) for line in out.text.splitlines()
                          if line.startswith((STOPPED, UNFINISHED))]
    return found


def check(path, timeout=300):
    """(rows, notes, executed notebook) for one notebook: rows as Checks.rows gives them, notes
    as lines of text."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    exercises = exercises_of(nb)
    if not exercises:
        raise ValueError("no exercise found: is this a course notebook (with its check cells)?")
    changed = changed_locked_cells(nb)
    ran = execute(prepare(nb, exercises), os.path.dirname(os.path.abspath(path)), timeout)
    printed = "".join(o.get("text", "") for o in ran.cells[-1].get("outputs", []) if o.output_type == "stream")
    notes = []
    for n, tags, ename, evalue in errors(ran.cells[:-1]):  # the last is the probe
        if "raises-exception" in tags:
            continue  # shown on purpose by the chapter
        if ename is None:  # the cell said what it needs instead of stopping
            notes.append(f"cell {n}: {evalue} (information: the exercise's checks decide)")
        elif ename == "NotImplementedError":
            notes.append(f"cell {n} needs an exercise you have not finished yet (information, not a failure)")
        else:
            notes.append(f"cell {n} raised {ename}: {evalue.splitlines()[0][:200] if evalue else ''} "
                         "(the grader runs this cell too)")
    if MARK not in printed:
        raise ValueError("the setup cell did not run, so no check could (is its first code cell still there?)")
    rows = json.loads(printed.split(MARK, 1)[1])
    for row in rows:
        if row["exercise"] in changed:
            row.update(status="FAIL", first_failure=f"its check cell ({changed[row['exercise']]}) was edited: the grader "
                       "uses the original, so restore it (copy it from a fresh download of the notebook)")
    return rows, notes, ran


def exit_status(rows):
    return 0 if all(r["status"] == "pass" for r in rows) else 1


def report(path, rows, notes, out=sys.stdout):
    passing = sum(r["status"] == "pass" for r in rows)
    print(f"{path}: {passing} of {len(rows)} exercises pass their visible checks", file=out)
    for r in rows:
        counted = f" ({r['passed']} of {r['checks']} visible checks)" if r["checks"] else ""
        print(f"--- {r['exercise']}: {r['status']}{counted}", file=out)
        if r["first_failure"]:
            print(f"    {r['first_failure']}", file=out)
    for note in notes:
        print(f"note: {note}", file=out)
    print("The grade comes from the grader's hidden checks, like these but with other inputs.", file=out)


def main(argv=None, prog=None):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--timeout", type=int, default=300, help="seconds a cell may run (default 300)")
    args = parser.parse_args(argv)
    status = 0
    for path in args.notebooks:
        try:
            rows, notes, _ = check(path, args.timeout)
        except Exception as error:  # unreadable JSON, missing file, a kernel that died...
            print(f"{path}: cannot check: {type(error).__name__}: {error}", file=sys.stderr)
            status = 2
            continue
        report(path, rows, notes)
        status = max(status, exit_status(rows))
    return status


if __name__ == "__main__":
    sys.exit(main())
