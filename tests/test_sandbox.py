"""The sandbox's settings: refusal when it cannot start, per-cell timeouts, output budget;
an ordinary user's kernels, confined by user namespaces."""
import json
import time

import nbformat
from traitlets.config import Config
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from course.grading.preprocessors.execute import SandboxedExecute
from course.grading.sandbox import base as sandbox
from course.grading.sandbox.kernel import SandboxKernelManager
from course.grading.batch import grade_batch

pytestmark = pytest.mark.sandbox


def test_grading_refuses_loudly_without_bubblewrap(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    sandbox.check_available.cache_clear()  # an earlier success in this process is remembered
    with pytest.raises(SystemExit, match="(?s)refusing to grade.*bubblewrap.*--no-sandbox"):
        grade_batch(tmp_path, ["01-gradient-descent"])


def test_a_cell_may_ask_for_more_time_up_to_the_cap():
    execute = SandboxedExecute(timeout=30, max_cell_timeout=100)
    cell = new_code_cell("pass")
    assert execute.cell_timeout(cell) == 30
    cell.metadata["course"] = {"timeout": 60}
    assert execute.cell_timeout(cell) == 60
    cell.metadata["course"] = {"timeout": 10**6}
    assert execute.cell_timeout(cell) == 100
    cell.metadata["course"] = {"timeout": "forever"}
    assert execute.cell_timeout(cell) == 30


def test_kernel_runs_confined_and_output_is_cut(tmp_path):
    (tmp_path / "data.txt").write_text("the student's own file")
    nb = new_notebook(cells=[new_code_cell(code) for code in [
        "import os; print(os.getuid() != 0, open('data.txt').read(), os.path.exists(%r))" % str(sandbox.__file__),
        "for _ in range(5000): print('y' * 1000)",
        "import tempfile; tempfile.NamedTemporaryFile().close(); print('temporary files work')",
    ]])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    execute = SandboxedExecute(timeout=60, max_output_bytes=100_000)
    nb, _ = execute.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    assert nb.cells[0].outputs[0].text == "True the student's own file False\n"
    flood = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert len(flood) < 200_000 and "output cut" in flood
    assert nb.cells[2].outputs[0].text == "temporary files work\n"
    assert nbformat.validate(nb) is None


def test_refusal_names_the_setting_that_forbids_user_namespaces(monkeypatch, tmp_path):
    restricted = tmp_path / "apparmor_restrict_unprivileged_userns"
    restricted.write_text("1\n")
    monkeypatch.setattr(sandbox, "rootless", lambda: True)
    monkeypatch.setattr(sandbox, "USERNS_SETTINGS", [(str(tmp_path / "absent"), "0", "-"),
                                                     (str(restricted), "1", "sysctl -w it=0")])
    monkeypatch.setattr(sandbox.subprocess, "run", lambda *a, **k: sandbox.subprocess.CompletedProcess(
        a, 1, "", "bwrap: setting up uid map: Permission denied"))
    sandbox.check_available.cache_clear()
    try:
        with pytest.raises(SystemExit, match="(?s)refusing to grade.*apparmor_restrict_unprivileged_userns = 1.*"
                                             "sysctl -w it=0.*--no-sandbox"):
            grade_batch(tmp_path, ["01-gradient-descent"])
    finally:
        sandbox.check_available.cache_clear()


# Two kernels of one warm sandbox at once, started by an ordinary user: kernel A leaves a
# process running and a file wherever it can write, kernel B looks for them and for A's
# folder, and each forks up to its limit.
TWO_KERNELS = r'''
import asyncio, json, sys
from course.grading.sandbox.kernel import SandboxKernelManager

PLACES = ["/", "/tmp", "/var/tmp", "/run", "/dev", "/dev/shm", "/root", "/usr", "/etc"]

async def run(kc, code):
    out = []
    await kc.execute_interactive(code, output_hook=lambda m: out.append(m["content"].get("text", "")), timeout=120)
    return "".join(out).strip()

FORK = """
import os, time
n = 0
for _ in range(1000):
    try:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        n += 1
    except OSError:
        break
print(n)
"""
LOOK = """
import os
others = [p for p in os.listdir('/proc') if p.isdigit() and 'MARK-OF-A' in open(f'/proc/{p}/cmdline', errors='replace').read()]
folders = os.listdir(os.path.dirname(os.path.dirname(os.getcwd())))  # the warm sandbox's, holding A's too
files = [place for place in PLACES if os.path.exists(os.path.join(place, 'MARK-OF-A'))]
caps = open('/proc/self/status').read().split('CapEff:')[1].split()[0]
print(json.dumps({'uid': os.getuid(), 'processes': sorted(p for p in os.listdir('/proc') if p.isdigit()),
                  'a-seen': others, 'a-files': files, 'scratch-folders': folders, 'caps': caps}))
"""
MARK = """
import os
for place in PLACES:
    try:
        with open(os.path.join(place, 'MARK-OF-A'), 'w') as handle:
            handle.write('A was here')
    except OSError:
        pass
"""

async def main():
    kernels = []
    for _ in range(2):
        km = SandboxKernelManager(kernel_name="python3")
        await km.start_kernel(cwd=sys.argv[1])
        kc = km.client()
        kc.start_channels()
        await kc.wait_for_ready(timeout=120)
        kernels.append((km, kc))
    (_, a), (_, b) = kernels
    await run(a, "import subprocess; sleeper = subprocess.Popen(['sleep', '600', 'MARK-OF-A'])")
    await run(a, f"PLACES = {PLACES!r}\n" + MARK)
    result = {"b-looks": json.loads(await run(b, f"import json\nPLACES = {PLACES!r}\n" + LOOK)),
              "b-forks": int(await run(b, FORK)), "a-forks-after": int(await run(a, FORK))}
    for km, kc in kernels:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
    print(json.dumps(result))

asyncio.run(main())
'''


def test_an_ordinary_user_s_kernels_cannot_see_each_other_and_count_their_own_processes(tmp_path):
    from unix_users import ordinary_users, processes_of

    with ordinary_users("course-sandbox-test") as (user,):
        work = user.home / "work"
        user.run("mkdir", work)
        result = json.loads(user.python(TWO_KERNELS, work).stdout.strip().splitlines()[-1])
        looks = result["b-looks"]
        assert looks["uid"] == sandbox.NAMESPACE_UID and looks["caps"] == "0" * 16
        assert looks["a-seen"] == [] and looks["processes"] == ["1"], looks  # only itself, as its PID 1
        assert looks["a-files"] == [], looks  # nothing A wrote (its /tmp, /dev/shm are its own)
        assert len(looks["scratch-folders"]) == 1, looks  # its own, not kernel A's
        # Each kernel reaches its own limit (256 processes and threads, less its own threads),
        # whatever the other holds: the limit counts per user namespace, not per uid.
        limit = SandboxKernelManager().processes
        assert limit - 32 < result["b-forks"] < limit and limit - 32 < result["a-forks-after"] < limit, result
        until = time.monotonic() + 30  # the warm sandbox itself ends with its bwrap, within moments
        while processes_of(user.uid) and time.monotonic() < until:
            time.sleep(0.05)
        assert processes_of(user.uid) == [], processes_of(user.uid, commands=True)


def _run(execute, cells, tmp_path):
    nb = new_notebook(cells=[new_code_cell(code) for code in cells])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return execute.preprocess(nb, {"metadata": {"path": str(tmp_path)}})[0]


# What a kernel holds open that is not its own (its sockets, pipes and event fds are ipykernel's),
# how much it can write in its working folder, its TMPDIR, its kernel folder (the ipc sockets)
# and /dev/shm before the disk says no, and whether it gets a user namespace (where it could
# mount a tmpfs past its budget).
BOUNDS = r'''
import ctypes, getpass, glob, json, os, tempfile
libc = ctypes.CDLL(None, use_errno=True)
child = os.fork()  # single-threaded, as unshare(CLONE_NEWUSER) needs
if child == 0:
    os._exit(0 if libc.unshare(0x10000000) == 0 else ctypes.get_errno())  # CLONE_NEWUSER
userns = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
fds = {}
for fd in os.listdir('/proc/self/fd'):
    try:
        fds[fd] = os.readlink(f'/proc/self/fd/{fd}')
    except OSError:
        pass  # the listing's own descriptor, closed already
foreign = sorted(t for t in fds.values() if not t.startswith(('socket:', 'anon_inode:', 'pipe:', '/dev/null')))
written = {}
for place in ['.', tempfile.gettempdir(), '../kernel', '/dev/shm']:
    total = 0
    try:
        for n in range(64):
            with open(os.path.join(place, f'fill{n}'), 'wb') as handle:
                for _ in range(8):
                    handle.write(b'x' * 2**20)
                    total += 2**20
    except OSError as error:
        written[place] = [total, error.errno]
try:
    user = getpass.getuser()  # the kernel's uid has no passwd entry
except Exception as error:
    user = repr(error)
for place in written:  # room again for the next cell
    for path in glob.glob(os.path.join(place, 'fill*')):
        os.remove(path)
print(json.dumps({'foreign': foreign, 'written': written, 'userns': userns, 'user': user}))
'''


FIGURE = 'import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0], label=r"$\\sin(\\pi x)$")\nplt.legend()\nplt.show()'


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])
def test_a_kernel_holds_nothing_of_the_grader_s_and_its_disk_is_bounded(tmp_path, warm):
    import errno

    (tmp_path / "data.bin").write_bytes(b"y" * 2**20)  # its copy of the submission counts in its budget
    execute = SandboxedExecute(timeout=120, config=Config({"SandboxKernelManager": {"disk": 48 * 2**20,
                                                                                    "file_size": 32 * 2**20,
                                                                                    "warm": warm}}))
    nb = _run(execute, [BOUNDS, FIGURE], tmp_path)
    seen = json.loads(nb.cells[0].outputs[0].text)
    # A figure is a PNG, as in a fresh kernel (the warm sandbox imported matplotlib before any shell).
    shown = [sorted(o.data) for o in nb.cells[1].outputs if o.output_type == "display_data"]
    assert shown == [["image/png", "text/plain"]], nb.cells[1].outputs
    assert seen["foreign"] == [], seen
    assert seen["user"] == "sandbox", seen  # a name for libraries that ask (torch's inductor on CUDA did)
    # Root's kernels: the seccomp filter (EPERM); an ordinary user's: no nested user namespace (ENOSPC).
    assert seen["userns"] in (errno.EPERM, errno.ENOSPC), seen
    written = list(seen["written"].values())
    assert len(written) == 4 and all(code == errno.ENOSPC for _, code in written), seen
    # Work, TMPDIR and the kernel folder (its ipc sockets) share one budget: together they hold less
    # than it, less the submission's copy. None of them is on the grader's disk.
    assert sum(total for total, _ in written[:3]) <= 48 * 2**20 - 2**20, seen
    assert written[3][0] <= 32 * 2**20, seen  # /dev/shm: a budget of its own


def test_the_seccomp_filter_refuses_new_user_namespaces_and_nothing_else():
    import ctypes
    import errno
    import os
    import subprocess
    import threading
    from course.grading.sandbox.seccomp import ARCHES, UnknownArch, no_new_user_namespaces
    from course.grading.sandbox.zygote import PR_SET_NO_NEW_PRIVS, install_filter, libc

    def call(number, flags):  # 0, or the errno; a child it made (a clone) exits at once
        result = libc.syscall(ctypes.c_long(number), ctypes.c_ulong(flags), 0, 0, 0, 0)
        if result == 0 and number == ARCHES[os.uname().machine]["clone"]:
            os._exit(0)
        return 0 if result >= 0 else ctypes.get_errno()

    numbers, newuser, sigchld = ARCHES[os.uname().machine], 0x10000000, 17
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the filter is for good: installed in a child of this process only
        try:
            libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
            install_filter(no_new_user_namespaces())
            seen = {"unshare user": call(numbers["unshare"], newuser),
                    "clone user": call(numbers["clone"], newuser | sigchld),
                    "clone3": call(numbers["clone3"], 0),
                    "unshare files": call(numbers["unshare"], 0x400),  # CLONE_FILES: allowed
                    "program": subprocess.run(["sh", "-c", "exit 3"]).returncode}
            done = []
            thread = threading.Thread(target=done.append, args=[1])
            thread.start()
            thread.join()
            seen["thread"] = done
            os.write(write, json.dumps(seen).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        seen = json.loads(answer.read() or "{}")
    os.waitpid(child, 0)
    assert seen == {"unshare user": errno.EPERM, "clone user": errno.EPERM, "clone3": errno.ENOSYS,
                    "unshare files": 0, "program": 3, "thread": [1]}, seen
    assert len(no_new_user_namespaces("aarch64")) % 8 == 0
    with pytest.raises(UnknownArch, match="riscv64"):
        no_new_user_namespaces("riscv64")


def test_a_notebook_past_its_time_limit_ends_from_outside_at_once(tmp_path):
    from course.grading.preprocessors.execute import NotebookTimeoutError

    execute = SandboxedExecute(timeout=60, notebook_timeout=3)
    start = time.monotonic()
    with pytest.raises(NotebookTimeoutError, match="time limit of 3 s"):
        _run(execute, ["import time; time.sleep(0.5)"] * 1000, tmp_path)  # each cell well under its limit
    assert time.monotonic() - start < 3 + 30  # the deadline plus a kernel's start, not 500 s of cells
    assert not SandboxKernelManager.live  # its kernel ended and its scratch folder is gone
