"""The `course` command: one subcommand per job, each the main() of the module that does it.

    course release [ASSIGNMENT ...]     pages from the sources; with ids, release them to autograders/
    course check NOTEBOOK ...           a student's notebook, checked as the grader runs it
    course collect DOWNLOAD ...         an LMS download, put where nbgrader grades it
    course grade [ASSIGNMENT ...]       grade, feedback, report, LMS exports
    course hub student-config           the nbgrader config a hub's students need
    course solutions-site               the site with every reference solution (after the deadline)
    course new-chapter ID --title T     a new chapter: its source and every entry that names it
    course new-exercise ID NAME ...     a new exercise in a chapter: its cells, catalog entry, variants

`course COMMAND --help` tells each one's options. `python -m course COMMAND` is the same.
"""
import argparse
import importlib
import sys

COMMANDS = {  # name: (module[:function], one line of help); the function (default main) takes argv and prog
    "release": ("course.authoring.release", "generate the pages; with assignment ids, release them to the course"),
    "check": ("course.student.check", "check a notebook's visible checks as the grader runs it"),
    "collect": ("course.instructor.collect", "put an LMS download (Canvas, Moodle) where nbgrader grades it"),
    "grade": ("course.grading.batch", "grade submissions: grades, feedback, report, LMS exports"),
    "hub": ("course.instructor.hub", "what a JupyterHub admin installs for the students"),
    "solutions-site": ("course.authoring.solutions_site", "build the site with the reference solutions"),
    "new-chapter": ("course.authoring.scaffold:new_chapter_main", "add a chapter (docs/authoring.md)"),
    "new-exercise": ("course.authoring.scaffold:new_exercise_main", "add an exercise to a chapter (docs/authoring.md)"),
}


def parser():
    top = argparse.ArgumentParser(prog="course", description=__doc__.split("\n\n")[0],
                                  formatter_class=argparse.RawDescriptionHelpFormatter,
                                  epilog="Run `course COMMAND --help` for a command's options.")
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_line) in COMMANDS.items():
        commands.add_parser(name, help=help_line, add_help=False)  # the command's own parser answers --help
    return top


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args, rest = parser().parse_known_args(argv[:1])
    module, _, function = COMMANDS[args.command][0].partition(":")
    return getattr(importlib.import_module(module), function or "main")(argv[1:], prog=f"course {args.command}")


if __name__ == "__main__":
    sys.exit(main())
