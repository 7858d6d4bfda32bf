"""The guides cannot drift from the code: every `course` command they show exists with every
option shown, every `make` target exists, and every file of the repository they name is there."""
import contextlib
import functools
import io
import re
import subprocess

import pytest

from course import ROOT
from course.cli import COMMANDS, main

DOCS = sorted([ROOT / "README.md", ROOT / "chapters" / "checking.md", *(ROOT / "docs").glob("*.md")])
TOP = ("course/", "tests/", "docs/", "solutions/", "autograders/", "chapters/", "scripts/", ".github/", ".ci/")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
SPAN = re.compile(r"`([^`\n]+)`")


@functools.cache
def help_of(command, first=None):
    """`course COMMAND [FIRST] --help`: FIRST, the first word after the command, picks a
    sub-command's own options (`course hub student-config`)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main([command, *([first] if first else []), "--help"])
    return out.getvalue()


def command_lines(text):
    """Each command of a code block (continuation lines joined, comments cut) and each code span."""
    for block in FENCE.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            yield line.split(" #", 1)[0].strip()
    for span in SPAN.findall(FENCE.sub("", text)):
        yield span.strip()


def course_commands(text):
    """(subcommand, its first word, options) of every `course ...` the text shows."""
    for line in command_lines(text):
        for match in re.finditer(r"(?:^|[\s;&(|])(?:\S*/)?course\s+([a-z][a-z-]*)(.*)", line):
            rest = match.group(2).split(" && ")[0]
            first = next(iter(rest.split()), None)
            words = re.findall(r"(?<![\w-])--[a-z][a-z-]*", rest)
            yield match.group(1), first if first and not first.startswith("-") else None, words


def make_targets():
    return set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.M))


def named_paths(doc, text):
    """Repository paths the text names, in code spans or as link targets, resolved."""
    found = set()
    links = re.findall(r"\]\(([^)#\s]+)", text)
    for target in links:
        if not re.match(r"[a-z]+:", target):  # not a URL
            found.add((target, (doc.parent / target).resolve()))
    for span in SPAN.findall(text):
        for word in span.split():
            word = word.strip(",.;:()'\"")
            if word.startswith(TOP) and not re.search(r"[<>*{}$]|\.\.\.", word):
                found.add((word, ROOT / word))
    return found


def ignored(name):
    """A path the repository does not hold because it is generated (git ignores it); `name` as
    written, so that a trailing / says it is a folder."""
    return subprocess.run(["git", "check-ignore", "-q", "--no-index", str(name)], cwd=ROOT).returncode == 0


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_course_command_and_option_shown_exists(doc):
    shown = list(course_commands(doc.read_text()))
    problems = [f"course {sub}: no such command" for sub, _, _ in shown if sub not in COMMANDS]
    problems += [f"course {sub} {option}: not an option (course {sub} --help)" for sub, first, options in shown
                 if sub in COMMANDS for option in options if option not in help_of(sub, first)]
    assert not problems, problems


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_make_target_shown_exists(doc):
    shown = {t for line in command_lines(doc.read_text()) for t in re.findall(r"(?:^|[;&]\s*)make\s+([a-z][a-z-]*)", line)}
    assert shown <= make_targets(), sorted(shown - make_targets())


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_file_named_is_in_the_repository(doc):
    missing = [name for name, path in named_paths(doc, doc.read_text())
               if not path.exists() and not ignored(path.relative_to(ROOT).as_posix() + ("/" if name.endswith("/") else ""))]
    assert not missing, missing


def test_the_checks_find_what_is_wrong():
    """Each check fails on a planted mistake."""
    assert list(course_commands("run `course grade 01 --no-such-option`")) == [("grade", "01", ["--no-such-option"])]
    assert "--no-such-option" not in help_of("grade") and "--show-hidden-values" in help_of("grade")
    assert [s for s, _, _ in course_commands("```bash\n.venv/bin/course regrade x\n```")] == ["regrade"]
    assert "regrade" not in COMMANDS
    doc = ROOT / "docs" / "example.md"
    assert {n for n, p in named_paths(doc, "see `course/no_such.py` and [a guide](no-such.md)") if not p.exists()} \
        == {"course/no_such.py", "no-such.md"}
    assert ignored("autograders/gradebook.db") and ignored("autograders/ledger/") and not ignored("course/no_such.py")
