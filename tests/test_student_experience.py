"""What a student working alone gets: visible checks that catch every known mistake, hints."""
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course import ASSIGNMENTS, CHAPTERS, source_notebook
from course.contract import EXERCISES
from submissions import reference_sources, variants

HERE = Path(__file__).parent


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def visible_run(request):
    """Every variant of one assignment run against the student notebook's visible checks, no grader."""
    aid = request.param
    run = subprocess.run([sys.executable, str(HERE / "visible_checks.py"), str(CHAPTERS / f"{aid}.ipynb"),
                          str(HERE / "variants" / f"{aid}.toml"), str(source_notebook(aid))],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return aid, [json.loads(line) for line in run.stdout.splitlines()]


def test_visible_checks_catch_every_known_mistake(visible_run):
    aid, results = visible_run
    assert len(results) == len(variants(aid))
    missed = [r["name"] for r in results if r["expect"] == "loses"
              and all(score >= points for score, points in r["scores"].values())]
    assert not missed, f"{aid}: the visible checks give full marks to these wrong answers: {missed}"


def test_visible_checks_give_right_answers_full_marks(visible_run):
    aid, results = visible_run
    short = {r["name"]: r["scores"] for r in results if r["expect"] == "full"
             and any(score < points for score, points in r["scores"].values())}
    assert not short, f"{aid}: right answers that lose points: {short}"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_each_exercise_has_typical_mistakes_in_the_self_test(aid):
    for exercise in EXERCISES[aid]:
        wrong = [v for v in variants(aid) if v["exercise"] == exercise and v["expect"] == "loses"]
        assert len(wrong) >= 6, f"{exercise}: only {len(wrong)} known-wrong variants"


DETAILS = re.compile(r"<details>\s*<summary>(.*?)</summary>(.*?)</details>", re.S)


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_every_exercise_has_folded_progressive_hints_without_its_solution(aid):
    cells = nbformat.read(CHAPTERS / f"{aid}.ipynb", as_version=4).cells
    solution_lines = {line.strip() for source in reference_sources(aid).values() for line in source.splitlines()
                      if len(line.strip()) > 12 and not line.strip().startswith(("#", '"""', "def ", "class "))}
    for exercise in EXERCISES[aid]:
        index = next(i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("grade_id") == exercise)
        hints = cells[index - 1]
        assert "hints" in hints.metadata.get("tags", []), f"{exercise}: no hint cell just before the exercise"
        blocks = DETAILS.findall(hints.source)
        assert 2 <= len(blocks) <= 3, f"{exercise}: {len(blocks)} hints"
        assert "<details open" not in hints.source, f"{exercise}: hints must be folded"
        leaked = [line for line in solution_lines if line in hints.source]
        assert not leaked, f"{exercise}: a hint quotes the solution: {leaked}"
