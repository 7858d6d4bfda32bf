"""What a JupyterHub admin installs for the course's students.

    course hub student-config [--exchange PATH] [--course-id ID]

prints the nbgrader config every student's Jupyter must read (docs/hub.md). A
student's nbgrader (the Assignments tab, Validate, `nbgrader fetch_assignment` / `submit` /
`fetch_feedback`) never sees the course folder's nbgrader_config.py: without this file it
knows no course id and looks for the exchange where nbgrader's default puts it.
"""
import argparse
import os
import sys

from course.grading.gradebook import nbgrader_config

TEMPLATE = '''\
# nbgrader config for the students of {course_id}, printed by `course hub student-config`.
# Install it where every student's Jupyter reads it: /etc/jupyter/nbgrader_config.py
# (`jupyter --paths` lists the config folders). The instructor grades with the same exchange
# (COURSE_EXCHANGE={exchange}).
c = get_config()  # noqa: F821 (provided by nbgrader)
c.CourseDirectory.course_id = {course_id!r}
c.Exchange.root = {exchange!r}
# Each student fetches into the folder Jupyter starts in (their home) and submits from there.
c.Exchange.assignment_dir = "."
'''


def student_config(exchange=None, course_id=None):
    """The students' config; by default with the course's id and exchange (COURSE_EXCHANGE)."""
    config = nbgrader_config()
    exchange = exchange or config.Exchange.root
    course_id = course_id or config.CourseDirectory.course_id
    if not os.path.isabs(exchange):
        raise ValueError(f"the exchange must be an absolute path, not {exchange!r}")
    if not course_id or any(char in course_id for char in "/+* \n"):
        raise ValueError(f"not a usable course id: {course_id!r}")
    return TEMPLATE.format(course_id=course_id, exchange=exchange)


def main(argv=None, prog="course hub"):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    config = commands.add_parser("student-config", help="print the students' nbgrader config (install it system-wide)")
    config.add_argument("--exchange", help="the exchange folder (default: COURSE_EXCHANGE, else the course config's)")
    config.add_argument("--course-id", help="the course id (default: the course config's)")
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(student_config(args.exchange, args.course_id))
    except ValueError as error:
        parser.error(str(error))


if __name__ == "__main__":
    main()
