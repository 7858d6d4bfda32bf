"""Colab and plain Jupyter as documented (issue 27): chapters/intro.md's install line names
every package the chapters import, pinned as requirements.txt pins it, and every chapter
(reference solutions in place, so every demo runs) runs to its summary in a fresh virtual
environment holding only those packages and a kernel (ipykernel). One venv for the module
(pip from the local wheel cache: about 90 s), one kernel for the nine chapters."""
import ast
import importlib.metadata
import re
import subprocess
import sys

import nbformat
import pytest

from course import ASSIGNMENTS, CHAPTERS, ROOT
from course.notebook.setup_cell import STOPPED
from run_all import kernel, run_all
from submissions import reference_sources, with_solutions

pytestmark = pytest.mark.slow

INSTALL = re.compile(r"`!pip install ([^`]+)`")


def install_line():
    found = INSTALL.findall((CHAPTERS / "intro.md").read_text())
    assert len(found) == 1, f"chapters/intro.md: expected one `!pip install ...` line, found {found}"
    return found[0].split()


def pins():
    """{distribution name, normalised: version} of requirements.txt."""
    lines = [line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
             if "==" in line and not line.startswith("#")]
    return {normal(name): version for name, version in lines}


def normal(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_modules():
    """Top-level modules any chapter's code imports (stdlib left out)."""
    found = set()
    for aid in ASSIGNMENTS:
        for cell in nbformat.read(CHAPTERS / f"{aid}.ipynb", as_version=4).cells:
            if cell.cell_type == "code":
                for node in ast.walk(ast.parse(cell.source)):
                    if isinstance(node, ast.Import):
                        found |= {alias.name.split(".")[0] for alias in node.names}
                    elif isinstance(node, ast.ImportFrom) and node.level == 0:
                        found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names)


def test_install_line_names_every_imported_package_pinned_as_the_course_pins_it():
    named = dict(requirement.split("==") for requirement in install_line())  # a bare name fails here
    assert {normal(n): v for n, v in named.items()} == {normal(n): pins()[normal(n)] for n in named}, \
        "the install line's versions differ from requirements.txt's"
    # Which distribution provides each module, as this course's environment has them installed.
    provides = importlib.metadata.packages_distributions()
    kernel_side = {normal(r.split(";")[0].split(">")[0].split("<")[0].split("=")[0].split("!")[0].strip())
                   for r in importlib.metadata.requires("ipykernel") or []}
    missing = {module: provides.get(module) for module in imported_modules()
               if not {normal(d) for d in provides.get(module, [])} & ({normal(n) for n in named} | kernel_side)}
    assert not missing, f"the chapters import these, which the install line does not install: {missing}"


@pytest.fixture(scope="module")
def bare_kernels(tmp_path_factory):
    """A fresh venv with only the install line's packages and ipykernel; its kernelspec folder."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    kernel_pin = f"ipykernel=={pins()['ipykernel']}"
    pip = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                          *install_line(), kernel_pin], capture_output=True, text=True, timeout=900)
    assert pip.returncode == 0, pip.stderr[-3000:]
    subprocess.run([str(python), "-m", "ipykernel", "install", "--prefix", str(venv)], check=True,
                   capture_output=True)
    return venv / "share" / "jupyter" / "kernels"


def test_every_chapter_runs_with_only_what_the_intro_installs(bare_kernels):
    stopped = {}
    with kernel(bare_kernels) as km:
        python = km.kernel_spec.argv[0]
        assert python.startswith(str(bare_kernels.parent.parent.parent)), python  # the bare venv's kernel
        for aid in ASSIGNMENTS:
            released = nbformat.read(CHAPTERS / f"{aid}.ipynb", as_version=4)
            where, executed = run_all(with_solutions(released, reference_sources(aid)), km)
            said = [line for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
                    if o.output_type == "stream" for line in o.text.splitlines() if line.startswith(STOPPED)]
            if where or said:  # a crash the guard turned into one line counts as well
                stopped[aid] = where or said
    assert not stopped, f"chapters that stop in a venv with only the install line: {stopped}"
