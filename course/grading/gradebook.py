"""An nbgrader API object configured from autograders/nbgrader_config.py."""
import atexit
import functools
import json
import os
import shutil
import sys
import tempfile
import types

import jsonschema
import nbgrader.api
import nbgrader.nbgraderformat.common
import sqlalchemy
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeError, ExchangeFactory
from nbgrader.exchange.default.list import ExchangeList  # the default exchange, whose config (root) the course sets
from traitlets.config.loader import PyFileConfigLoader

from course import AUTOGRADERS

# nbgrader runs the `alembic` executable by name to migrate the gradebook: make sure the
# environment's own bin folder is on PATH even when it was not activated.
_bin = os.path.dirname(sys.executable)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")


@functools.cache
def _engine(url, **options):
    return sqlalchemy.create_engine(url, **options)


# nbgrader opens the gradebook, with a new SQLAlchemy engine, about nine times per submission;
# one engine per database and process keeps SQLAlchemy's compiled statements between them.
nbgrader.api.create_engine = _engine
_create_all = nbgrader.api.Base.metadata.create_all


def _create_missing_tables(bind, **options):
    """At each of those opens nbgrader has SQLAlchemy create its tables, which looks for them one
    by one; one look at the table names does the same when all of them are there."""
    if not set(nbgrader.api.Base.metadata.tables) <= set(sqlalchemy.inspect(bind).get_table_names()):
        _create_all(bind=bind, **options)


nbgrader.api.Base.metadata.create_all = _create_missing_tables


@functools.cache
def _metadata_validator(schema_text):
    schema = json.loads(schema_text)
    kind = jsonschema.validators.validator_for(schema)
    kind.check_schema(schema)
    return kind(schema)


def _validate_metadata(instance, schema):
    """jsonschema.validate without checking the schema itself each time: nbgrader checks every
    cell's metadata against its one schema at each read, write and CheckCellMetadata, about a
    hundred times a submission. The same error is raised (jsonschema's best match)."""
    error = jsonschema.exceptions.best_match(_metadata_validator(json.dumps(schema, sort_keys=True)).iter_errors(instance))
    if error is not None:
        raise error


nbgrader.nbgraderformat.common.jsonschema = types.SimpleNamespace(validate=_validate_metadata)


@functools.cache
def _ipc_folder():
    folder = tempfile.mkdtemp(prefix="course-ipc-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def nbgrader_config(root=None, db_url=None, sandbox=True):
    """The course's nbgrader config; root and db_url move the course elsewhere (tests, batches)."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(AUTOGRADERS)).load_config()
    if root is not None:
        config.CourseDirectory.root = str(root)
        config.LatePenalty.deadlines_file = config.SyncDeadlines.deadlines_file = os.path.join(str(root), "deadlines.toml")
        if db_url is None:
            db_url = f"sqlite:///{root}/gradebook.db?timeout=60"  # parallel graders wait, not fail
    if db_url is not None:
        config.CourseDirectory.db_url = db_url
    if not sandbox:
        config.SandboxedExecute.sandbox = False
        # Not TCP (IPKernelApp warns it is unencrypted): unix sockets, as in the sandbox, in a
        # folder of this process's (by default they would land beside the graded notebook).
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = os.path.join(_ipc_folder(), "kernel")
    elif sandbox == "cold":  # a fresh sandbox per kernel instead of kernels forked from a warm one
        config.SandboxKernelManager.warm = False
    return config


class NoExchangeList(ExchangeList):
    """Grading and generating never use the exchange, yet nbgrader's API lists it when created:
    a walk of every inbound submission, or an error on the terminal where there is none."""

    def start(self):
        raise ExchangeError("not listed: this API grades, it does not use the exchange")


def nbgrader_api(root=None, db_url=None, sandbox=True):
    config = nbgrader_config(root, db_url, sandbox)
    return NbGraderAPI(CourseDirectory(config=config), config=config,
                       exchange=ExchangeFactory(config=config, list=NoExchangeList))
