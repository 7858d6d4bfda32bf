"""nbgrader's OverwriteCells, made safe for cells it puts back."""
import uuid

from nbformat import NotebookNode
from nbgrader import utils as nbgrader_utils
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, OverwriteCells


class OverwriteCellsWithIds(OverwriteCells):
    """nbgrader's OverwriteCells, then an id for every cell without one: nbgrader puts a deleted
    check cell back without an id, and nbconvert validates the notebook right after each
    preprocessor (nbformat's MissingIDFieldWarning). A locked cell exactly as released (its
    gradebook source less the hidden tests) gets its hidden tests back without nbgrader's
    "checksum has changed" warning, which is kept for cells a student really changed."""

    def preprocess_cell(self, cell, resources, cell_index):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is not None and cell.cell_type == "code":
            try:
                source = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
            except MissingEntry:
                source = None
            if source is not None and source.locked and cell.source != source.source \
                    and nbgrader_utils.is_locked(cell) and cell.source == self.as_released(source):
                cell.source = source.source
        return super().preprocess_cell(cell, resources, cell_index)

    def as_released(self, source):
        """The source cell as generate_assignment hands it out: its hidden tests removed."""
        released = NotebookNode({"cell_type": source.cell_type, "source": source.source, "metadata": {}})
        ClearHiddenTests(parent=self)._remove_hidden_test_region(released)
        return released.source

    def preprocess(self, nb, resources):
        nb, resources = super().preprocess(nb, resources)
        if (nb.nbformat, nb.nbformat_minor) >= (4, 5):  # ids exist from nbformat 4.5 on
            used = {cell.get("id") for cell in nb.cells}
            for cell in nb.cells:
                if not cell.get("id"):
                    cell["id"] = next(i for i in iter(lambda: uuid.uuid4().hex[:8], None) if i not in used)
                    used.add(cell["id"])
        return nb, resources
