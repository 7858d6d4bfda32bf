"""The device is chosen in one place, and notebooks keep tensors on it until they plot."""
import re

import nbformat
import pytest
import torch

from course import ASSIGNMENTS, source_notebook
from course.authoring.sources import SETUP_CELL


def run_setup(monkeypatch, env, cuda_available):
    if env is None:
        monkeypatch.delenv("COURSE_DEVICE", raising=False)
    else:
        monkeypatch.setenv("COURSE_DEVICE", env)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda_available)
    namespace = {}
    exec(compile(SETUP_CELL, "setup_cell", "exec"), namespace)
    return namespace["DEVICE"]


@pytest.mark.parametrize("env, cuda, expected", [
    (None, False, "cpu"), (None, True, "cuda"), ("cpu", True, "cpu"), ("cuda", False, "cuda"),
])
def test_device_selection(monkeypatch, env, cuda, expected):
    assert run_setup(monkeypatch, env, cuda).type == expected


def test_checks_compare_a_grad_tensor_on_the_device_this_machine_has(monkeypatch):
    # CUDA only where there is a GPU: COURSE_DEVICE=cuda runs the notebooks there (conftest.py).
    namespace = {}
    exec(compile(SETUP_CELL, "setup_cell", "exec"), namespace)
    checks = namespace["Checks"]("demo")
    # A tensor that still requires grad, on whatever device the machine has.
    device = "cuda" if torch.cuda.is_available() else "cpu"
    value = torch.tensor([1.0, 2.0], device=device, requires_grad=True) * 1.0
    checks.close("tensor", lambda: value, [1.0, 2.0 + 1e-6])
    assert checks.status() == "pass"


def test_seed_everything_seeds_as_torch_manual_seed_does(monkeypatch):
    namespace = {}
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    exec(compile(SETUP_CELL, "setup_cell", "exec"), namespace)
    torch.manual_seed(7)
    expected = torch.rand(5), torch.randn(3)
    torch.manual_seed(0)
    namespace["seed_everything"](7)
    assert all(torch.equal(a, b) for a, b in zip((torch.rand(5), torch.randn(3)), expected))
    namespace["seed_everything"](8)
    assert not torch.equal(torch.rand(5), expected[0])
    if torch.cuda.is_available():  # the GPU's generator too, where a GPU is the device
        monkeypatch.setenv("COURSE_DEVICE", "cuda")
        exec(compile(SETUP_CELL, "setup_cell", "exec"), namespace)
        torch.manual_seed(7)
        on_gpu = torch.rand(5, device="cuda")
        torch.manual_seed(0)
        namespace["seed_everything"](7)
        assert torch.equal(torch.rand(5, device="cuda"), on_gpu)


def built_on_the_cpu(code, name):
    """Is `name` a tensor the cell itself builds from data with no device (so on the CPU)?"""
    made = re.search(rf"^{re.escape(name)} = (torch\.(from_numpy|tensor|zeros|ones|arange)\(.*)$", code, re.M) if name else None
    return bool(made) and "device" not in made.group(1) and ".to(" not in made.group(1)


CODE_CELLS = [(aid, i, cell.source) for aid in ASSIGNMENTS
              for i, cell in enumerate(nbformat.read(source_notebook(aid), as_version=4).cells)
              if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade_id") != "setup"]


@pytest.mark.parametrize("aid, index, source", CODE_CELLS, ids=[f"{a}-cell{i}" for a, i, _ in CODE_CELLS])
def test_no_hard_coded_device_and_numpy_only_from_cpu(aid, index, source):
    code = "\n".join(line.split("#")[0] for line in source.splitlines())
    # DEVICE.type == "cuda" asks which device was chosen; it chooses none.
    assert not re.search(r"""(?<!\.type == )["']cuda|\.cuda\(\)""", code), "choose the device in the setup cell only (DEVICE)"
    for match in re.finditer(r"(\w*)\.numpy\(\)", code):
        before = code[max(0, match.start() - 40):match.start() + len(match.group(1))]
        assert ".cpu()" in before or built_on_the_cpu(code, match.group(1)), \
            f"call .cpu() before .numpy(): a CUDA tensor cannot become a NumPy array\n{code[max(0, match.start()-80):match.end()]}"
