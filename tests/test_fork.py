"""A fork of the course, made as an instructor adopting it makes one: a new course id, a renamed
site, a due date in the past and one more exercise (`relu`, in chapter 05). The tests such
honest changes used to break (the course id, similarity's exercises, the walkthrough's
deadlines, the contract) run inside the fork, on the fork's own package, and pass. The
checklist of docs/instructors.md names every setting the fork changes. This checkout's
grading commands refuse to work on the fork's course folder."""
import datetime as dt
import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from course import ASSIGNMENTS, ROOT
from course.checkout import checkout_of
from course.grading.gradebook import nbgrader_config
from test_walkthrough import fresh_copy

CHECKLIST = ROOT / "docs" / "instructors.md"  # its "Make the course yours" list
FORK_ID, FORK_TITLE = "deep-learning-101", "Deep Learning 101"
FORK_URL, FORK_HUB = "https://github.com/example-university/deep-learning-101", "https://hub.example.edu"
PAST_DUE = ASSIGNMENTS[1]  # the assignment the fork gives a due date that has passed
NEW_IN = "05-nn-module"  # the chapter the fork adds `relu` to

RELU = """    ### BEGIN SOLUTION
    return torch.clamp(x, min=0)
    ### END SOLUTION"""
TEST_RELU = """checks = Checks("relu")
checks.close("relu of -1, 0 and 2", lambda: relu(torch.tensor([-1.0, 0.0, 2.0])).tolist(), [0.0, 0.0, 2.0])
### BEGIN HIDDEN TESTS
checks.close("relu keeps the shape", lambda: list(relu(torch.zeros(2, 3)).shape), [2, 3])
### END HIDDEN TESTS
checks.score()"""
RELU_VARIANTS = """
[[variant]]
exercise = "relu"
name = "maximum with zeros"
expect = "full"
source = '''
def relu(x):
    return torch.maximum(x, torch.zeros_like(x))
'''

[[variant]]
exercise = "relu"
name = "absolute value instead"
expect = "loses"
source = '''
def relu(x):
    return x.abs()
'''
"""
IN_THE_FORK = """
import json, sys
sys.path.insert(0, "tests")
import course, test_hub
from course.checkout import refuse_another_checkout
refuse_another_checkout(course.AUTOGRADERS)  # its own course folder: no refusal
print(json.dumps({"root": str(course.ROOT), "course_id": test_hub.COURSE_ID}))
"""
# The checks that the issue saw break, cheap enough to run inside the fork.
CHECKS = ["tests/test_contract.py",
          "tests/test_similarity.py::test_an_assignment_outside_the_contract_uses_its_solution_cells",
          "tests/test_walkthrough.py::test_the_walkthrough_grades_against_deadlines_of_its_own"]


def replace(path, pattern, new):
    """Change a setting where the checklist says it is (it must be there)."""
    text, count = re.subn(pattern, new, path.read_text(), flags=re.MULTILINE)
    assert count, f"{path.name}: {pattern!r} not found"
    path.write_text(text)


def add_relu(fork):
    """As an author adds an exercise: `course new-exercise`, then its TODOs filled in."""
    env = dict(os.environ, PYTHONPATH=str(fork))
    scaffold = subprocess.run([sys.executable, "-m", "course", "new-exercise", NEW_IN, "relu", "--signature",
                               "def relu(x)", "--points", "1"], cwd=fork, env=env, capture_output=True, text=True)
    assert scaffold.returncode == 0, scaffold.stderr
    path = fork / "solutions" / NEW_IN / f"{NEW_IN}.md"
    text = path.read_text()
    text = text.replace('    ### BEGIN SOLUTION\n    raise NotImplementedError("TODO: the reference solution")\n'
                        "    ### END SOLUTION", RELU)
    text, count = re.subn(r'checks = Checks\("relu"\)\n.*?checks\.score\(\)', lambda m: TEST_RELU, text, flags=re.S)
    assert count == 1 and "TODO_" not in text
    path.write_text(text)
    variants = fork / "tests" / "variants" / f"{NEW_IN}.toml"
    kept = variants.read_text().split('\n[[variant]]\nexercise = "relu"')[0]  # the scaffold's TODO variants out
    variants.write_text(kept + RELU_VARIANTS)


def make_fork(fork):
    """The fork's changes; returns the (file, setting) of each, as the checklist names them."""
    site = yaml.safe_load((ROOT / "_config.yml").read_text())
    upstream_url = site["repository"]["url"]
    replace(fork / "autograders" / "nbgrader_config.py",
            r'^(c\.CourseDirectory\.course_id = ).*$', rf'\g<1>"{FORK_ID}"')
    replace(fork / "_config.yml", r"^title: .*$", f'title: "{FORK_TITLE}"')
    replace(fork / "_config.yml", re.escape(upstream_url), FORK_URL)
    replace(fork / "_config.yml", r"^(  jupyterhub_url: )\S*", rf'\g<1>"{FORK_HUB}"')
    replace(fork / "chapters" / "credits.md", re.escape(upstream_url), FORK_URL)
    replace(fork / "chapters" / "intro.md", r"\A# .*$", f"# {FORK_TITLE}")
    replace(fork / "pyproject.toml", r'^name = .*$', f'name = "{FORK_ID}-course"')
    yesterday = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    with open(fork / "autograders" / "deadlines.toml", "a") as toml:
        toml.write(f"\n[assignments.{PAST_DUE}]\ndue = {yesterday}\n")
    add_relu(fork)
    return [("autograders/nbgrader_config.py", "c.CourseDirectory.course_id"), ("_config.yml", "title"),
            ("_config.yml", "repository.url"), ("_config.yml", "launch_buttons.jupyterhub_url"),
            ("chapters/credits.md", "repository links"), ("chapters/intro.md", "# title"),
            ("pyproject.toml", "project.name"), ("autograders/deadlines.toml", f"[assignments.{PAST_DUE}] due"),
            (f"solutions/{NEW_IN}/{NEW_IN}.md", "solution cell"), ("solutions/catalog.toml", "[[chapter.exercise]]"),
            (f"tests/variants/{NEW_IN}.toml", "[[variant]]")]


def checklist():
    """[(file pattern, setting pattern)] of the checklist's lines: `file` `setting`: ..."""
    found = re.findall(r"^- \[ \] `([^`]+)` `([^`]+)`", CHECKLIST.read_text(), flags=re.MULTILINE)
    assert found, f"no checklist lines in {CHECKLIST}"
    return found


def listed(name, items):
    """Whether `name` matches an item of the checklist, where <placeholder> stands for any id."""
    return any(re.fullmatch(re.sub(r"<[a-z_]+>", r"[^/ ]+", re.escape(item)), name) for item in items)


@pytest.fixture(scope="module")
def fork(tmp_path_factory):
    fork = tmp_path_factory.mktemp("fork")
    fresh_copy(fork)
    changed = make_fork(fork)
    # A repository of its own, as a fork is (the walkthrough lists its files with git); nothing committed.
    subprocess.run(["git", "init", "-q"], cwd=fork, check=True)
    return fork, changed


@pytest.mark.sandbox  # the walkthrough's test grades, in the fork
def test_the_fork_keeps_the_affected_checks_green(fork):
    fork, _ = fork
    env = dict(os.environ, PYTHONPATH=str(fork))  # the fork's package, not this checkout's
    own = subprocess.run([sys.executable, "-c", IN_THE_FORK], cwd=fork, env=env, capture_output=True, text=True,
                         timeout=300)
    assert own.returncode == 0, own.stderr[-3000:]
    assert json.loads(own.stdout.splitlines()[-1]) == {"root": str(fork), "course_id": FORK_ID}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *CHECKS],
                         cwd=fork, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert re.search(r"\b\d+ passed\b", run.stdout) and "skipped" not in run.stdout.split("\n")[-2], run.stdout[-500:]


def test_the_checklist_names_every_setting_the_fork_changes(fork):
    _, changed = fork
    items = checklist()
    assert all((ROOT / re.sub(r"<[a-z_]+>", NEW_IN, name)).is_file() for name, _ in items), items
    names = {name for name, _ in items}
    unlisted = [(file, setting) for file, setting in changed
                if not listed(file, names) or not listed(setting, {s for n, s in items if listed(file, {n})})]
    assert not unlisted, f"{CHECKLIST.name} does not name {unlisted}"


def test_no_test_names_the_course_id_itself():
    course_id = nbgrader_config().CourseDirectory.course_id
    naming = [p.name for p in (ROOT / "tests").glob("*.py") if re.search(rf"[\"']{re.escape(course_id)}[\"']", p.read_text())]
    assert not naming, f"{naming} hard-code the course id {course_id!r}: read it from nbgrader_config()"


def test_this_checkout_s_commands_refuse_the_fork_s_course_folder(fork, monkeypatch, capsys):
    fork, _ = fork
    from course.authoring import release
    from course.grading import batch
    from course.instructor import collect

    assert checkout_of(fork / "autograders") == fork and checkout_of(ROOT / "autograders") == ROOT
    refused = rf"(?s)refusing: .*{re.escape(str(fork))}.* belongs to the checkout {re.escape(str(fork))}.*{re.escape(str(ROOT))}"
    # Unknown ids and missing files: without the refusal each would stop at once, touching nothing.
    with pytest.raises(SystemExit, match=refused):
        batch.main(["no-such-assignment", "--root", str(fork / "autograders")])
    with pytest.raises(SystemExit, match=refused):
        collect.main(["no-such.zip", "--assignment", ASSIGNMENTS[0], "--root", str(fork / "autograders")])
    monkeypatch.chdir(fork / "autograders")  # as `python -m course` from the fork's autograders/
    for main in (batch.main, release.main):
        with pytest.raises(SystemExit, match=refused):
            main(["no-such-assignment"])
    with pytest.raises(SystemExit) as stopped:  # from there, this checkout's own folder named explicitly
        batch.main(["no-such-assignment", "--root", str(ROOT / "autograders")])
    assert stopped.value.code == 2 and "unknown assignment id" in capsys.readouterr().err
    monkeypatch.chdir(ROOT / "autograders")  # this checkout's own folder: past the check, to the id's error
    with pytest.raises(SystemExit) as stopped:
        batch.main(["no-such-assignment"])
    assert stopped.value.code == 2 and "unknown assignment id" in capsys.readouterr().err
