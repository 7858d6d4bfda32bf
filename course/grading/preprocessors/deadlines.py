"""Due dates and extensions into the gradebook before nbgrader judges lateness."""
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from course.grading import deadlines


class SyncDeadlines(NbGraderPreprocessor):
    """Write the submission's assignment due date and the student's extension from deadlines.toml
    into the gradebook, so the lateness nbgrader computes (and AssignLatePenalties charges) is the
    file's as it is now: nbgrader writes a due date only when it creates the assignment (its
    bug #723). A sanitize step: it runs before any grading step, under plain `nbgrader autograde` too."""

    deadlines_file = Unicode("", help="The course's deadlines.toml").tag(config=True)

    def preprocess(self, nb, resources):
        if self.deadlines_file:
            due = deadlines.read(self.deadlines_file)
            info = resources["nbgrader"]
            with Gradebook(info["db_url"]) as gb:
                deadlines.sync_assignments(gb, due, [info["assignment"]])
                deadlines.sync_extension(gb, due, info["assignment"], info["student"])
        return nb, resources
