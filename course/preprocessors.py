"""nbgrader preprocessors of the course, configured in autograders/nbgrader_config.py."""
import re
import secrets

from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution

from .release import grade_id


def is_check_cell(cell):
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


class StderrNotFailure(NbGraderPreprocessor):
    """nbgrader scores a test cell 0 if it wrote to stderr. Our checks report failures
    through their score, so a library warning (PyTorch prints some) is just output."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and is_grade(cell):
            for output in cell.outputs:
                if output.output_type == "stream" and output.name == "stderr":
                    output.name = "stdout"
        return cell, resources


class GuardChecks(NbGraderPreprocessor):
    """Before execution: the setup cell (run before any student code) keeps the real
    `Checks` under a name drawn for this run, and every check cell starts by taking it
    back, so student code that rebinds `Checks` changes nothing. RequireScore removes
    the added lines after execution."""

    def preprocess(self, nb, resources):
        alias = f"_checks_{secrets.token_hex(8)}"
        resources["guard_line"] = f"Checks = {alias}  # added by the grader\n"
        for cell in nb.cells:
            if grade_id(cell) == "setup":
                cell.source += f"\n{alias} = Checks  # added by the grader"
            elif is_check_cell(cell):
                cell.source = resources["guard_line"] + cell.source
        return nb, resources


SUMMARY = re.compile(r"^(\S+): (\d+)/(\d+) checks passed.*, ([0-9.]+) of ([0-9.]+) points$", re.M)


class RequireScore(NbGraderPreprocessor):
    """A check cell earns points only by reporting them: its last value must be the score
    that its summary line printed. (nbgrader gives full marks to a test cell with no output
    at all, which student code could arrange by silencing the display.)"""

    def preprocess(self, nb, resources):
        guard = resources.get("guard_line")
        for cell in nb.cells:
            if guard and grade_id(cell) == "setup":
                cell.source = cell.source.split("\n_checks_")[0]
            elif is_check_cell(cell):
                if guard and cell.source.startswith(guard):
                    cell.source = cell.source[len(guard):]
                problem = self.problem(cell)
                if problem:
                    cell.outputs.append(new_output("error", ename="NoScore", evalue=problem,
                                                   traceback=[f"NoScore: {problem}"]))
        return nb, resources

    @staticmethod
    def problem(cell):
        if any(o.output_type == "error" for o in cell.outputs):
            return None  # already worth nothing
        results = [o for o in cell.outputs if o.output_type == "execute_result"]
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        summaries = SUMMARY.findall(text)
        points = float(cell.metadata["nbgrader"]["points"])
        try:
            value = float(results[0].data["text/plain"]) if len(results) == 1 else None
        except (KeyError, ValueError):
            value = None
        if value is None or len(summaries) != 1:
            return "this check cell did not report its score (was the output silenced?)"
        *_, earned, top = summaries[0]
        if float(earned) != value or float(top) != points or not 0 <= value <= points:
            return "the reported score does not match the checks' own summary"
        return None
