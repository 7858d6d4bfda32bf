"""What every sandboxed kernel shares: the paths and environment it sees, whether the sandbox can
start here, and how a kernel's processes are ended (by uid as root, by PID namespace otherwise)."""
import functools
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from course.grading.sandbox.seccomp import UnknownArch, no_new_user_namespaces, pipe_of
from course.grading.sandbox.zygote import processes_of


SYSTEM_PATHS = ["/usr", "/etc", "/bin", "/lib", "/lib32", "/lib64", "/libx32", "/sbin"]
PASSED_ENV = ["LANG", "LC_ALL", "MPLBACKEND", "COURSE_DEVICE", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
              "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "CUDA_VISIBLE_DEVICES",
              "LD_LIBRARY_PATH"]  # where some GPU images (NVIDIA's containers) keep the driver's libcuda


STAGE = "/run/stage"  # an empty folder of the warm sandbox where a kernel sets its scratch folder aside
CONNECTION_STAGE = "/run/connection.json"  # a cold kernel's connection file, read-only, before it copies it in
NAMESPACE_UID = 61000  # what an ordinary user's kernel sees as its uid and gid
USERNS_SETTINGS = [  # (file, value that forbids ordinary users' namespaces, how to allow them)
    ("/proc/sys/kernel/unprivileged_userns_clone", "0", "sysctl -w kernel.unprivileged_userns_clone=1"),
    ("/proc/sys/user/max_user_namespaces", "0", "sysctl -w user.max_user_namespaces=15000"),
    ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1",
     "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile allowing userns for bwrap"),
]


class SandboxUnavailable(RuntimeError):
    pass


def rootless():
    """Whether kernels are confined by user namespaces (an ordinary user) rather than by uids (root)."""
    return os.geteuid() != 0


def _userns_refusal(error):
    """Why an ordinary user's sandbox could not start, naming the setting that forbids it."""
    for path, forbidden, fix in USERNS_SETTINGS:
        try:
            value = Path(path).read_text().strip()
        except OSError:
            continue
        if value == forbidden:
            return (f"user namespaces are disabled for ordinary users here ({path.replace('/proc/sys/', '').replace('/', '.')}"
                    f" = {value}): as root, {fix}; or grade with --no-sandbox (student code then runs with "
                    f"your permissions)")
    return f"bwrap could not start a sandbox here: {error}; or grade with --no-sandbox"


@functools.cache  # once per process: every autograded notebook builds a new SandboxedExecute
def check_available():
    """Start a trivial sandbox once; raise SandboxUnavailable saying what to do if it cannot."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed: run `make system` "
                                 "(apt-get install bubblewrap)")
    if rootless():
        release = tuple(int(part) for part in os.uname().release.split(".")[:2] if part.isdigit())
        if release < (5, 14):  # before 5.14 the process limit counted the uid's processes in every namespace
            raise SandboxUnavailable(f"Linux {os.uname().release} counts an ordinary user's processes across "
                                     "user namespaces: grade as root, on Linux 5.14 or later, or with --no-sandbox")
        # A user namespace inside bwrap's, as the warm sandbox makes for every kernel.
        probe = subprocess.run([bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all",
                                "--die-with-parent", "--", "unshare", "--user", "--map-user", str(NAMESPACE_UID),
                                "--pid", "--fork", "--mount", "--mount-proc", "--net", "true"],
                               capture_output=True, text=True)
        if probe.returncode != 0:
            raise SandboxUnavailable(_userns_refusal(probe.stderr.strip()))
        return
    try:  # root's kernels get a seccomp filter: this arch must have one, and bwrap must take it
        seccomp = pipe_of(no_new_user_namespaces())
    except UnknownArch as error:
        raise SandboxUnavailable(str(error)) from None
    try:
        probe = subprocess.run([bwrap, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--die-with-parent",
                                "--seccomp", str(seccomp), "--", "setpriv", "--reuid", "65534", "--regid", "65534",
                                "--clear-groups", "true"], capture_output=True, text=True, pass_fds=(seccomp,))
    finally:
        os.close(seccomp)
    if probe.returncode != 0:
        raise SandboxUnavailable(f"bwrap could not start a sandbox here: {probe.stderr.strip()}")


def kill_all(find, timeout=10):
    """Kill every process `find()` lists, again until it lists none (True) or time is up (False):
    killed processes do not vanish at once, and the next kernel must not inherit them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = find()
        if not left:
            return True
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    return False


def kill_uid(uid, timeout=10):
    """Kill every process of a cold sandbox's uid, as the warm sandbox's purge does: the next
    kernel given this uid must not inherit them (its process limit would count them)."""
    return kill_all(lambda: processes_of(uid), timeout)


def processes_in(namespace):
    """Processes in the PID namespace `namespace` (as readlink /proc/PID/ns/pid names it)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == namespace:
                    found.append(int(entry))
            except OSError:
                pass
    return found


def end_namespace(namespace, timeout=10):
    """Kill every process of a cold sandbox's PID namespace and wait until none is left (True)."""
    return kill_all(lambda: processes_in(namespace), timeout)


def own_folder(path, mode):
    """Create `path` if need be and make sure it is a real folder of ours with `mode`: in a shared
    folder such as /var/tmp another user could have put a folder or a link of theirs there."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    info = os.lstat(path)
    if not os.path.isdir(path) or os.path.islink(path) or info.st_uid != os.geteuid():
        raise SandboxUnavailable(f"{path} is not a folder of this user's: remove it or choose another "
                                 "c.SandboxKernelManager.base")
    os.chmod(path, mode)
    return path
