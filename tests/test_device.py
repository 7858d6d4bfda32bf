"""The device is chosen in one place, and notebooks keep tensors on it until they plot."""
import re
from pathlib import Path

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


def sanitized(text):
    """`text` as nbval compares it, through tests/nbval_sanitize.cfg (read as nbval reads it)."""
    import configparser

    from nbval.plugin import get_sanitize_patterns

    source = (Path(__file__).parent / "nbval_sanitize.cfg").read_text()
    patterns = get_sanitize_patterns(source)
    sections = configparser.ConfigParser(interpolation=None)
    sections.read_string(source)
    # nbval skips a pair it cannot read ("replace:" with no space after it) without a word.
    assert len(patterns) == len(sections.sections()), "a section of nbval_sanitize.cfg is not read by nbval"
    for regex, replace in patterns:
        text = re.sub(regex, replace, text)
    return text


@pytest.mark.parametrize("on_cuda, on_cpu", [
    ("tensor([[0.2500, 0.2500]], device='cuda:0')", "tensor([[0.2500, 0.2500]])"),
    ("tensor(3., device='cuda:0', grad_fn=<AddBackward0>)", "tensor(3., grad_fn=<AddBackward0>)"),
    ("tensor([1., 2.], device='cuda:1', requires_grad=True)", "tensor([1., 2.], requires_grad=True)"),
])
def test_a_cuda_tensor_prints_as_the_recorded_cpu_one(on_cuda, on_cpu):
    # Seen on an H200: chapters/03-autograd's checked outputs differed by the device alone.
    assert sanitized(on_cuda) == sanitized(on_cpu)
    assert sanitized("tensor([1., 2.])") != sanitized("tensor([1., 3.])")


def test_derived_numbers_allow_cuda_s_last_digits_and_nothing_else():
    import facts

    text = "log-softmax: '-0.3490123', points inside the circle: 301 of 400"
    assert facts.printed("points inside the circle: 301 of 400", text)
    assert not facts.printed("'-0.3490122'", text)  # the CPU's run must print it exactly
    assert facts.printed("'-0.3490122'", text, tolerance=1e-5)  # as CUDA did on an H200
    assert not facts.printed("'-0.3491122'", text, tolerance=1e-5)
    assert not facts.printed("points inside the circle: 302 of 400", text, tolerance=1e-5)
    assert not facts.printed("points outside the circle: 301 of 400", text, tolerance=1e-5)


@pytest.mark.parametrize("course_device, has_gpu, bound, memory_limit", [
    (None, False, [], "RLIMIT_AS"), ("cuda", True, ["/dev/nvidia0", "/dev/nvidiactl"], "RLIMIT_DATA"),
    (None, True, ["/dev/nvidia0", "/dev/nvidiactl"], "RLIMIT_DATA"), ("cpu", True, [], "RLIMIT_AS"),
])
def test_a_gpu_kernel_gets_the_devices_and_a_limit_cuda_can_start_under(monkeypatch, course_device, has_gpu,
                                                                        bound, memory_limit):
    # On an H200, kernels graded under the 4 GiB RLIMIT_AS (and without LD_LIBRARY_PATH) ran nothing on
    # CUDA: honest students got 0.
    from course.grading.sandbox import kernel

    if course_device is None:
        monkeypatch.delenv("COURSE_DEVICE", raising=False)
    else:
        monkeypatch.setenv("COURSE_DEVICE", course_device)
    monkeypatch.setattr(kernel.glob, "glob", lambda pattern: ["/dev/nvidiactl", "/dev/nvidia0"] if has_gpu else [])
    assert kernel.gpu_devices() == bound
    manager = kernel.SandboxKernelManager()
    limits = manager.rlimits()
    assert limits[memory_limit] == manager.memory
    assert ({"RLIMIT_AS", "RLIMIT_DATA"} - {memory_limit}).isdisjoint(limits)
    args = manager._bwrap(Path("/nonexistent/scratch"), private_tmp=False)
    assert [args[i + 1] for i, a in enumerate(args) if a == "--dev-bind"] == bound
    # NVIDIA's images find libcuda through LD_LIBRARY_PATH; the rest of the grader's environment stays out.
    env = manager._env(Path("/scratch"), {"LD_LIBRARY_PATH": "/usr/local/nvidia/lib64", "AWS_SECRET": "x"}, "/scratch/tmp")
    assert env["LD_LIBRARY_PATH"] == "/usr/local/nvidia/lib64" and "AWS_SECRET" not in env


def test_an_answer_right_on_the_cpu_only_is_expected_to_lose_on_cuda(monkeypatch):
    # A device clause cannot fail on the CPU: such variants are graded as losing on CUDA
    # (scripts/gpu_check.py), as right everywhere else. The other way round, rounding that only the
    # CPU's reductions leave (a constant column's std) makes a variant wrong on the CPU alone.
    from submissions import variants

    def expects():
        return {(aid, v["name"]): v["expect"] for aid in ASSIGNMENTS for v in variants(aid)}

    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    on_cpu = expects()
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    on_cuda = expects()
    flipped = {key for key in on_cpu if on_cpu[key] != on_cuda[key]}
    assert {aid for aid, _ in flipped} >= {"00-tensors", "02-linear-regression", "04-computational-graphs", "08-classification"}
    cpu_only = {key for key in flipped if on_cpu[key] == "full"}
    assert cpu_only and all(on_cuda[key] == "loses" and "right on the CPU only" in key[1] for key in cpu_only)
    assert {aid for aid, _ in flipped - cpu_only} == {"00-tensors"}  # std > 0 finds CUDA's constant columns
