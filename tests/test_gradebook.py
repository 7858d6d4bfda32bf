"""course/grading/gradebook.py makes nbgrader quicker without changing what it decides."""
import copy

import jsonschema
import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator, ValidationError

from course.grading import gradebook

GOOD = {"grade": True, "grade_id": "test_fun_dz", "locked": True, "points": 2, "schema_version": 3,
        "solution": False, "task": False}
BROKEN = [
    {**GOOD, "points": "two"},
    {**GOOD, "grade": "yes"},
    {key: value for key, value in GOOD.items() if key != "locked"},
    {**GOOD, "grade_id": "two words", "points": -1},
    {**GOOD, "checksum": "short", "cell_type": "table"},
]


def test_metadata_is_checked_against_nbgrader_schema_with_the_same_errors():
    schema = MetadataValidator().schema
    for metadata in BROKEN:
        with pytest.raises(jsonschema.ValidationError) as theirs:
            jsonschema.validate(metadata, schema)
        with pytest.raises(jsonschema.ValidationError) as ours:
            gradebook._validate_metadata(metadata, schema)
        assert (ours.value.message, list(ours.value.path)) == (theirs.value.message, list(theirs.value.path))
    gradebook._validate_metadata(GOOD, schema)
    with pytest.raises(jsonschema.ValidationError):  # another schema is another validator, not the cached one
        gradebook._validate_metadata(GOOD, {**schema, "required": [*schema.get("required", []), "no_such_key"]})


def test_nbgrader_reads_notebooks_through_it():
    cell = nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": copy.deepcopy(BROKEN[0])})
    with pytest.raises(ValidationError, match="'two' is not of type 'number'"):
        MetadataValidator().validate_nb(nbformat.v4.new_notebook(cells=[cell]))
    calls = []
    original = gradebook._metadata_validator
    gradebook._metadata_validator = lambda text: calls.append(text) or original(text)
    try:
        cell.metadata.nbgrader = copy.deepcopy(GOOD)
        MetadataValidator().validate_nb(nbformat.v4.new_notebook(cells=[cell]))
    finally:
        gradebook._metadata_validator = original
    assert len(calls) == 1
