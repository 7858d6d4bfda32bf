"""nbgrader preprocessors of the course, configured in autograders/nbgrader_config.py."""
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade


class StderrNotFailure(NbGraderPreprocessor):
    """nbgrader scores a test cell 0 if it wrote to stderr. Our checks report failures
    through their score, so a library warning (PyTorch prints some) is just output."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and is_grade(cell):
            for output in cell.outputs:
                if output.output_type == "stream" and output.name == "stderr":
                    output.name = "stdout"
        return cell, resources
