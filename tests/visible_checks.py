"""Run every variant of one assignment against the student notebook's visible checks, with
no grader: the setup cell, the reference solutions, then each variant and its exercise's
check cells as they are in the released notebook. Prints one JSON line per variant.

    python tests/visible_checks.py RELEASED_NOTEBOOK VARIANTS_TOML SOURCE_NOTEBOOK
"""
import contextlib
import io
import json
import os
import sys
import tomllib

import nbformat

from submissions import expected_here  # this folder is sys.path[0]: the script's own

os.environ.setdefault("MPLBACKEND", "Agg")


def meta(cell):
    return cell.metadata.get("nbgrader", {})


def main(released_path, variants_path, source_path):
    released = nbformat.read(released_path, as_version=4).cells
    reference = {meta(c)["grade_id"]: c.source for c in nbformat.read(source_path, as_version=4).cells
                 if meta(c).get("solution")}
    base = {}
    setup = next(c.source for c in released if meta(c).get("grade_id") == "setup")
    exec(compile(setup, "setup", "exec"), base)
    for source in reference.values():
        exec(compile(source, "reference", "exec"), base)
    for variant in tomllib.loads(open(variants_path).read())["variant"]:
        namespace = dict(base)
        scores = {}
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            exec(compile(variant["source"], variant["name"], "exec"), namespace)
            for cell in released:
                gid = meta(cell).get("grade_id", "")
                if meta(cell).get("grade") and not meta(cell).get("solution") and gid.startswith(f"test_{variant['exercise']}"):
                    with contextlib.redirect_stderr(printed):  # FAIL lines go to stderr
                        exec(compile(cell.source, gid, "exec"), namespace)
                    points = float(meta(cell)["points"])
                    scores[gid] = (points if namespace["checks"].status() == "pass" else 0.0, points)
        print(json.dumps({"name": variant["name"], "exercise": variant["exercise"], "expect": expected_here(variant)["expect"],
                          "scores": scores, "printed": printed.getvalue()[-3000:]}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
