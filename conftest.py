"""pytest hooks for every notebook nbval collects (solutions/ and chapters/ as well as tests/),
so they live at the root: a conftest in tests/ would not see the notebooks' items."""
import functools
import json
import os
import tempfile
import uuid
from pathlib import Path

import pytest

from course import STEADY_KERNEL_ENV

# Every kernel the tests start inherits it (two at once on two cores: a thread per core each ran
# small training loops about ten times slower on a loaded machine).
for _name, _value in STEADY_KERNEL_ENV.items():
    os.environ.setdefault(_name, _value)

BUILT = "_build/sources/"  # nodeids of the reference solutions: the notebooks built from solutions/


def pytest_collect_file(file_path, parent):
    """A chapter's text source, solutions/<id>/<id>.md, is run by nbval as the notebook built
    from it (course/authoring/sources.py): the reference solution, with its hidden tests."""
    if file_path.suffix == ".md" and file_path.parent.parent.name == "solutions" and file_path.stem == file_path.parent.name:
        from nbval.plugin import IPyNbFile

        from course import source_notebook

        return IPyNbFile.from_parent(parent, path=Path(source_notebook(file_path.stem)))


def pytest_collection_modifyitems(config, items):
    """Notebooks run by nbval are slow (`make quick` leaves them out). COURSE_DEVICE=cuda runs
    them on a GPU; without one, skip them loudly."""
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: the groups, for the scheduler
        from course.authoring.sources import write_if_changed  # atomic: both workers write it

        write_if_changed(_groups_file(config), json.dumps(_groups(items)))
    for item in items:
        if ".ipynb::" in item.nodeid:
            item.add_marker(pytest.mark.slow)
    if os.environ.get("COURSE_DEVICE") == "cuda":
        import torch

        if not torch.cuda.is_available():
            skip = pytest.mark.skip(reason="COURSE_DEVICE=cuda but torch.cuda.is_available() is False on this machine")
            for item in items:
                if item.nodeid.endswith(".ipynb") or ".ipynb::" in item.nodeid:
                    item.add_marker(skip)


def _groups(items):
    """{file: group}: a file is a group (its module fixtures are made once), except that the files
    that grade in the sandbox form one group, run in turn (they share the machine's sandbox uids,
    scratch folders and test users, and check that nothing of the sandbox is left running), and so
    do the files that read the site built into _build/html (one build)."""
    files = {}
    for item in items:
        files.setdefault(item.nodeid.split("::")[0], []).append(item)
    groups = {}
    for name, members in files.items():
        if any(item.get_closest_marker("sandbox") for item in members):
            groups[name] = "sandbox"
        elif any({"site", "site_root"} & set(getattr(item, "fixturenames", ())) for item in members):
            groups[name] = "site"
        else:
            groups[name] = name
    return groups


def _groups_file(config):
    uid = config.workerinput["testrunuid"] if hasattr(config, "workerinput") else config.getoption("testrunuid")
    return Path(tempfile.gettempdir()) / f"course-test-groups-{uid}.json"


def pytest_xdist_make_scheduler(config, log):
    """`make test` runs in two processes (pytest-xdist, --dist loadgroup), a group at a time each.
    pytest-xdist 3.8's own loadgroup cannot name the groups under pytest 9 (it rewrites a node id
    attribute pytest 9 no longer has): each worker writes the groups of what it collected to a
    file this scheduler reads."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Groups(LoadScopeScheduling):
        groups = None

        def _split_scope(self, nodeid):
            if self.groups is None:  # every worker has collected (and written) by now
                self.groups = json.loads(_groups_file(config).read_text())
            file = nodeid.split("::")[0]
            return self.groups.get(file, file)

    return Groups(config, log)


_notebook_seconds = {}


class NotebookItems:
    """Hooks of every notebook item, registered as a plugin (pytest_configure): an item-level hook of
    a conftest applies only below that conftest's folder, and the reference solutions are
    notebooks built into _build/sources/, not files of a collected folder."""

    @staticmethod
    def pytest_runtest_logreport(report):
        _record_seconds(report)

    @staticmethod
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(item):
        return (yield from _check_reference_run(item))


def pytest_configure(config):
    config.pluginmanager.register(NotebookItems(), "course-notebook-items")
    if config.getoption("numprocesses", None) and not hasattr(config, "workerinput") \
            and config.getoption("testrunuid", None) is None:  # the id the workers get: the groups file's name
        config.option.testrunuid = uuid.uuid4().hex


def pytest_unconfigure(config):
    if config.getoption("numprocesses", None) and not hasattr(config, "workerinput"):
        _groups_file(config).unlink(missing_ok=True)


def _record_seconds(report):
    if ".ipynb::" in report.nodeid:
        notebook = report.nodeid.split("::")[0]
        _notebook_seconds[notebook] = _notebook_seconds.get(notebook, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    if _notebook_seconds:
        terminalreporter.section("notebook execution times (nbval, all cells)")
        for notebook, seconds in sorted(_notebook_seconds.items()):
            terminalreporter.write_line(f"{seconds:6.1f}s  {notebook}")


STOPPED = "This cell stopped with"  # course/notebook/setup_cell.py's one line for a cell that crashed


def _check_reference_run(item):
    """A reference solution whose own check cell prints a FAIL line, or is not started, fails its
    nbval item: check cells catch every exception, so nbval alone would pass. A demo that crashed
    (the setup cell's guard says so in one line and carries on) fails its item in a reference
    solution and in chapters/ (where a stub raises NotImplementedError, nothing else)."""
    result = yield
    if item.nodeid.startswith((BUILT, "chapters/")) and ".ipynb::" in item.nodeid:
        stderr = "".join(o.get("text", "") for o in getattr(item, "test_outputs", None) or []
                         if o.get("output_type") == "stream" and o.get("name") == "stderr")
        crashed = [line.strip() for line in stderr.splitlines() if line.startswith(STOPPED)]
        if crashed:
            raise AssertionError("a cell crashed (nbval sees no error: the guard reported it):\n" + "\n".join(crashed))
        if item.nodeid.startswith(BUILT):
            failed = [line.strip() for line in stderr.splitlines() if line.startswith("  FAIL  ") or "not started" in line]
            if failed:
                raise AssertionError("the reference solution fails its own checks:\n" + "\n".join(failed[:10]))
            _derived_numbers_printed(item)
    return result


_checked_text = {}  # notebook -> what its cells tagged nbval-check-output printed in this run


def _derived_numbers_printed(item):
    """What a reference solution's checked cells print must hold the numbers tests/facts.py derives
    without the chapter's code: checked at the notebook's last such cell."""
    tags = item.cell.metadata.get("tags", [])
    if "nbval-check-output" not in tags:
        return
    notebook = item.nodeid.split("::")[0]
    text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in item.test_outputs or [])
    _checked_text[notebook] = _checked_text.get(notebook, "") + text
    code = [c for c in item.parent.nb.cells if c.cell_type == "code"]  # nbval numbers the code cells
    last = max(n for n, c in enumerate(code) if "nbval-check-output" in c.metadata.get("tags", []))
    if item.cell_num == last:
        facts = _facts()
        # On CUDA a float32 result may differ in its last printed digits (other kernels, other
        # summation orders): there a number within 1e-5 of the derived one is printed enough.
        tolerance = 1e-5 if os.environ.get("COURSE_DEVICE") == "cuda" else 0.0
        missing = [fact for fact in facts.DERIVED.get(Path(notebook).stem, [])
                   if not facts.printed(fact, _checked_text[notebook], tolerance)]
        if missing:
            raise AssertionError(f"the reference run does not print {missing}, which tests/facts.py derives")


@functools.cache
def _facts():
    import importlib.util

    spec = importlib.util.spec_from_file_location("course_test_facts", Path(__file__).parent / "tests" / "facts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
