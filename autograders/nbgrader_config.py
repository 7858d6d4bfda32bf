"""nbgrader configuration for the course: run nbgrader commands from this folder."""
import os


c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = "pytorch-foundations"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# nbgrader's source folder, source/ (its default): the notebooks `course release` builds there from
# the chapters' text sources in solutions/ (reference solutions + hidden tests); the text never
# reaches a release.
c.CourseDirectory.source_directory = "source"
# Any SQLAlchemy URL works here, e.g. postgresql://grader@db/course; SQLite by default.
c.CourseDirectory.db_url = os.environ.get(
    "COURSE_GRADEBOOK_URL", "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db") + "?timeout=60"
)

# The verdict is reached outside the student's kernel (course/grading/preprocessors/verdict.py): SendValuesOnly
# sends each check cell without its expected values, the kernel (sandboxed: course/grading/sandbox/kernel.py)
# only emits the answers as JSON, and JudgeChecks compares them and writes each check cell's
# outputs and score itself, before SaveAutoGrades reads them. Cells after the last exercise
# and check cannot change a grade and are not run (SkipCellsAfterTheLastExercise).
# Before nbgrader reads any cell's markings (the sanitize steps): unknown or repeated markings
# dropped and deleted locked cells put back (RepairCells), check cells restored with an id
# (OverwriteCellsWithIds), due dates and extensions from deadlines.toml (SyncDeadlines).
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "course.grading.preprocessors.restore.RepairCells",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "course.grading.preprocessors.cells.OverwriteCellsWithIds",
    "nbgrader.preprocessors.CheckCellMetadata",
    "course.grading.preprocessors.deadlines.SyncDeadlines",
]
c.Autograde.autograde_preprocessors = [
    "course.grading.preprocessors.verdict.SendValuesOnly",
    "course.grading.preprocessors.verdict.SkipCellsAfterTheLastExercise",
    "course.grading.preprocessors.execute.SandboxedExecute",
    "course.grading.preprocessors.verdict.JudgeChecks",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# Seconds per cell (COURSE_CELL_TIMEOUT overrides); a cell's metadata.course.timeout too, capped.
# Notebooks are validated once, after the last step, not after each of them (nbconvert's option).
c.Exporter.optimistic_validation = True
c.Execute.timeout = int(os.environ.get("COURSE_CELL_TIMEOUT", "120"))
c.SandboxedExecute.max_cell_timeout = 600
# Seconds for a whole notebook (COURSE_NOTEBOOK_TIMEOUT overrides): past it the grader ends the kernel.
c.SandboxedExecute.notebook_timeout = int(os.environ.get("COURSE_NOTEBOOK_TIMEOUT", "900"))
c.SandboxedExecute.max_output_bytes = 1_000_000
# A hidden check's feedback says pass or FAIL, the likely mistake and the hint, not its expected
# value (a resubmission could copy it); COURSE_SHOW_HIDDEN_VALUES=1 (`course grade
# --show-hidden-values`, e.g. after the last deadline) shows the values too.
c.JudgeChecks.show_hidden_values = os.environ.get("COURSE_SHOW_HIDDEN_VALUES") == "1"
# Feedback shows which checks failed, never the hidden tests' source.
c.GenerateFeedback.exporter_class = "course.grading.feedback.FeedbackExporter"  # templates compiled once
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "course.grading.feedback.ReadableFeedback",  # setup cell folded, no figure stand-ins, math as MathML
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
# Code in feedback pages coloured for a 4.5:1 contrast at least (WCAG AA; pygments' default
# style's comments and keywords fall below it): accessible-pygments' high-contrast light style.
c.CSSHTMLHeaderPreprocessor.style = "a11y-high-contrast-light"
c.Exchange.root = os.environ.get("COURSE_EXCHANGE", "/srv/nbgrader/exchange")
# Late work: due dates, extensions and the late policy are in deadlines.toml (course/grading/deadlines.py);
# nbgrader's AssignLatePenalties (above) asks this plugin for each late submission's penalty.
c.AssignLatePenalties.plugin_class = "course.grading.deadlines.LatePenalty"
c.LatePenalty.deadlines_file = c.SyncDeadlines.deadlines_file = os.path.join(c.CourseDirectory.root, "deadlines.toml")
# A deleted check cell is put back (and graded) instead of silently losing its points.
c.OverwriteCells.add_missing_cells = True

# `nbgrader zip_collect`: files from an LMS download named <student_id>__<notebook>.ipynb
# (adapt the pattern to your LMS's file names).
c.ZipCollectApp.collector_plugin = "nbgrader.plugins.zipcollect.FileNameCollectorPlugin"
c.FileNameCollectorPlugin.named_regexp = r".*/(?P<student_id>[^/_]+)__(?P<file_id>[^/]+)"
