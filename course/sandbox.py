"""Run every submission's kernel in a sandbox: bubblewrap namespaces, rlimits, no privileges.

The autograder's execute step (`SandboxedExecute`, set in autograders/nbgrader_config.py)
starts each kernel through `SandboxKernelManager`:

- bwrap: the system folders and Python read-only, nothing else of the machine (the course,
  the gradebook, other submissions, /root and /home are simply not there); its own network,
  PID, IPC and UTS namespaces; one writable scratch folder holding a copy of this
  submission's folder (the kernel's working folder and HOME) and its /tmp;
- as an ordinary user (the default): a user namespace of its own too, no capabilities. The
  process limit counts per user namespace, and the kernel's processes end with its PID
  namespace;
- as root: setpriv to a uid no other kernel has at the same time and no capabilities, so the
  process limit binds and nothing of root's is writable; its processes end by uid;
- prlimit: address space, processes, CPU seconds, file size, open files.

The kernel talks to the grader over ipc sockets in the scratch folder (TCP cannot cross the
network namespace). `SandboxedExecute` adds a per-cell timeout (default, or the cell's
`metadata.course.timeout`, capped) and a per-cell output budget.
"""
import atexit
import fcntl
import functools
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from queue import Empty

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, List, Type, Unicode, default

from .zygote import processes_of

SYSTEM_PATHS = ["/usr", "/etc", "/bin", "/lib", "/lib32", "/lib64", "/libx32", "/sbin"]
PASSED_ENV = ["LANG", "LC_ALL", "MPLBACKEND", "COURSE_DEVICE", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
              "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "CUDA_VISIBLE_DEVICES"]


STAGE = "/run/stage"  # an empty folder of the warm sandbox where a kernel sets its scratch folder aside
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
    probe = subprocess.run([bwrap, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--die-with-parent",
                            "--", "setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        raise SandboxUnavailable(f"bwrap could not start a sandbox here: {probe.stderr.strip()}")


class ReadyKernelClient(AsyncKernelClient):
    """jupyter_client's client, less the 0.2 s it waits for IOPub to fall silent once the kernel
    is ready: one message through IOPub proves it is connected; stray ones are ignored later."""

    async def _async_wait_for_ready(self, timeout=None):
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
                if reply["msg_type"] == "kernel_info_reply":
                    await self.iopub_channel.get_msg(timeout=0.2)  # the welcome or a status message
                    return self._handle_kernel_info_reply(reply)
            except Empty:
                pass
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")

    wait_for_ready = _async_wait_for_ready


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


class SandboxKernelManager(AsyncKernelManager):
    """An ipykernel in a scratch folder of its own, forked from the warm sandbox (Zygote) or,
    with warm = False, started in a fresh bwrap + setpriv + prlimit."""

    client_factory = Type(ReadyKernelClient, klass=AsyncKernelClient, config=True)

    base = Unicode(config=True, help="Folder for the scratch folders (kept off /tmp: the sandbox's /tmp lives in "
                                     "them); default /var/tmp/course-sandbox, with -<uid> for an ordinary user")
    first_uid = Integer(61000, config=True, help="Kernels run as first_uid, first_uid + 1, ...")
    uids = Integer(1000, config=True, help="How many uids the sandbox may use at once")
    memory = Integer(4 * 2**30, config=True, help="Address-space limit of the kernel, bytes")
    processes = Integer(256, config=True, help="Processes and threads the kernel's uid may have")
    cpu_seconds = Integer(900, config=True, help="CPU seconds for the whole notebook")
    file_size = Integer(256 * 2**20, config=True, help="Largest file the kernel may write, bytes")
    open_files = Integer(1024, config=True)
    extra_ro_paths = List(Unicode(), config=True, help="More read-only paths the kernel may see")
    warm = Bool(True, config=True, help="Fork kernels from a warm sandboxed Python (course/zygote.py)")

    scratch = zygote = uid = pid_namespace = kernel_pid = None
    _uid_lock = None
    live = {}  # scratch folder -> its manager, not yet cleaned up, for SandboxedExecute's last resort
    stuck_uids = []  # locks kept for uids whose processes could not be killed

    @default("base")
    def _default_base(self):
        return "/var/tmp/course-sandbox" + (f"-{os.geteuid()}" if rootless() else "")

    def _claim_uid(self):
        """A uid no other sandbox holds now: an flock on <base>/uids/<n>.lock, held until cleanup.
        An ordinary user's kernels all see NAMESPACE_UID, each in a user namespace of its own."""
        if rootless():
            return NAMESPACE_UID
        folder = Path(self.base) / "uids"
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(self.uids):
            handle = open(folder / f"{n}.lock", "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            self._uid_lock = handle
            return self.first_uid + n
        raise SandboxUnavailable(f"all {self.uids} sandbox uids are in use")

    def _make_scratch(self, cwd, uid, parent):
        scratch = Path(tempfile.mkdtemp(prefix="kernel-", dir=parent))
        work = scratch / "work"
        # Not the notebooks: nbgrader wrote the one being graded there with its hidden tests
        # restored, and the kernel receives its cells one by one anyway.
        shutil.copytree(cwd, work, symlinks=True, ignore=shutil.ignore_patterns("*.ipynb"))
        for name in ("tmp", "kernel"):
            (scratch / name).mkdir()
        if not rootless():
            for path in [scratch, *scratch.rglob("*")]:
                os.lchown(path, uid, uid)
        os.chmod(scratch, 0o700)
        return scratch

    def _bwrap(self, scratch, private_tmp=True):
        args = ["bwrap", "--die-with-parent", "--unshare-net", "--unshare-pid", "--unshare-ipc",
                "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox", "--clearenv"]
        if rootless():
            args += ["--unshare-user", "--uid", str(NAMESPACE_UID), "--gid", str(NAMESPACE_UID)]
        for path in SYSTEM_PATHS:
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
        args += ["--dev", "/dev", "--proc", "/proc"]
        if rootless():  # a /dev/shm of the sandbox's own: bwrap's /dev is read-only below
            args += ["--size", str(self.file_size), "--perms", "1777", "--tmpfs", "/dev/shm"]
        for device in sorted(glob.glob("/dev/nvidia*")):  # a GPU, when the grader has one
            args += ["--dev-bind", device, device]
        # /tmp first: Python or the scratch folder may live below it and must stay visible. An
        # ordinary user's kernel has the uid that owns the folders made below for them: its /tmp
        # is read-only (its TMPDIR is its scratch folder's tmp), or it could write beside Python.
        if private_tmp and not rootless():
            args += ["--bind", str(scratch / "tmp"), "/tmp"]
        else:
            args += ["--perms", "0755", "--tmpfs", "/tmp"]  # nobody writes there
        made = {Path("/tmp")}
        for path in [sys.prefix, sys.base_prefix, *self.extra_ro_paths, str(scratch)]:
            for parent in reversed(Path(path).parents):
                if str(parent) != "/" and not any(str(parent).startswith(p) for p in SYSTEM_PATHS) \
                        and parent not in made:
                    args += ["--perms", "0755", "--dir", str(parent)]
                    made.add(parent)
            if path != str(scratch):
                args += ["--ro-bind", path, path]
        args += ["--bind", str(scratch), str(scratch)]
        if rootless():
            # bwrap's own root and /dev belong to the sandbox's uid, which a kernel has too (mapped
            # to the grader's): read-only, or any kernel could write there, and a warm sandbox's
            # kernels would share what it wrote.
            args += (["--dir", STAGE] if not private_tmp else []) + ["--remount-ro", "/dev", "--remount-ro", "/"]
            args += ["--remount-ro", "/tmp"]
        return args + ["--chdir", str(scratch / "work" if private_tmp else scratch)]

    def _limits(self, uid):
        limits = [f"--{name[len('RLIMIT_'):].lower()}={value}" for name, value in self.rlimits().items()]
        if rootless():  # bwrap already dropped every capability and set no_new_privs
            return ["prlimit", *limits, "--"]
        return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all", "--no-new-privs", "prlimit", *limits, "--"]

    def _env(self, scratch, env, tmp="/tmp"):
        clean = {key: env[key] for key in PASSED_ENV if key in env}
        clean.update(PATH=f"{sys.prefix}/bin:/usr/bin:/bin", HOME=str(scratch / "work"), TMPDIR=tmp,
                     MPLCONFIGDIR=f"{tmp}/matplotlib", PYTHONDONTWRITEBYTECODE="1")
        return clean  # no JPY_PARENT_PID: ipykernel would exit, its parent being pid 1 in here

    def rlimits(self):
        return {"RLIMIT_AS": self.memory, "RLIMIT_NPROC": self.processes, "RLIMIT_CPU": self.cpu_seconds,
                "RLIMIT_FSIZE": self.file_size, "RLIMIT_NOFILE": self.open_files, "RLIMIT_CORE": 0}

    async def _async_pre_start_kernel(self, **kw):
        own_folder(self.base, 0o700 if rootless() else 0o711)  # root's kernels (other uids) pass through, not list
        uid = self._claim_uid()
        self.uid, self.zygote = uid, Zygote.of(self) if self.warm else None
        self.scratch = self._make_scratch(kw.get("cwd") or os.getcwd(), uid,
                                          self.zygote.root if self.zygote else self.base)
        self.live[self.scratch] = self
        kernel_dir = self.scratch / "kernel"
        self.transport, self.ip, self.cache_ports = "ipc", str(kernel_dir / "ipc"), False
        self.connection_file = str(kernel_dir / "connection.json")
        # SIGINT to the process group would reach bwrap first and end the sandbox: ask instead.
        self.kernel_spec.interrupt_mode = "message"
        cmd, kw = await super()._async_pre_start_kernel(**kw)
        cmd = [*cmd, "--HistoryManager.enabled=False"]  # no SQLite file and saving thread per kernel
        if not rootless():
            os.chown(self.connection_file, uid, uid)
        env = kw.get("env") or os.environ
        kw["env"] = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}  # bwrap's own; the kernel's is below
        kw["cwd"] = str(self.scratch / "work")
        if self.zygote:
            self._spawn = dict(uid=uid, cwd=kw["cwd"], argv=cmd[cmd.index("-f"):], limits=self.rlimits(),
                               env=self._env(self.scratch, env, tmp=str(self.scratch / "tmp")))
            if rootless():
                self._spawn["namespaces"] = dict(root=str(self.zygote.root), scratch=str(self.scratch), stage=STAGE,
                                                 shm_bytes=self.file_size)
            return cmd, kw
        tmp = str(self.scratch / "tmp") if rootless() else "/tmp"  # see _bwrap
        setenv = [arg for key, value in self._env(self.scratch, env, tmp).items() for arg in ("--setenv", key, value)]
        return self._bwrap(self.scratch) + setenv + ["--"] + self._limits(uid) + cmd, kw

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        if not self.zygote:
            await super()._async_launch_kernel(kernel_cmd, **kw)
            if rootless():
                self.pid_namespace = self._namespace_of_children(self.provisioner.pid)
            return
        reply = self.zygote.ask(op="spawn", **self._spawn)
        if "error" in reply:
            raise SandboxUnavailable(reply["error"])
        self.kernel_pid = reply["pid"]
        process = ZygoteProcess(self.zygote, reply["pid"])
        self.provisioner.process, self.provisioner.pid, self.provisioner.pgid = process, process.pid, None
        self._reconcile_connection_info(self.provisioner.connection_info)

    @staticmethod
    def _namespace_of_children(bwrap, timeout=10):
        """The PID namespace of the process bwrap starts in it (its pid 1), read once it exists."""
        deadline = time.monotonic() + timeout
        ours = os.readlink("/proc/self/ns/pid")
        while time.monotonic() < deadline:
            try:
                children = Path(f"/proc/{bwrap}/task/{bwrap}/children").read_text().split()
                for child in children:
                    namespace = os.readlink(f"/proc/{child}/ns/pid")
                    if namespace != ours:
                        return namespace
            except OSError:
                return None  # bwrap is gone already: so is its namespace (--die-with-parent)
            time.sleep(0.005)
        return None

    def end_processes(self):
        """Kill the kernel and everything it started; True once none of them is left."""
        if self.zygote is not None:  # the kernel and all it started: its PID namespace, or its uid
            if rootless():
                return self.kernel_pid is None or self.zygote.ask(op="purge", pid=self.kernel_pid)["clean"]
            return self.zygote.ask(op="purge", uid=self.uid)["clean"]
        if rootless():
            return self.pid_namespace is None or end_namespace(self.pid_namespace)
        return self.uid is None or kill_uid(self.uid)

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            clean = self.end_processes()
            if self.scratch is not None:
                shutil.rmtree(self.scratch, ignore_errors=True)
                self.live.pop(self.scratch, None)
                self.scratch = None
            if self._uid_lock is not None:
                if clean:
                    self._uid_lock.close()
                else:  # a process of this uid outlived every kill: no later kernel gets this uid
                    self.stuck_uids.append(self._uid_lock)
                self._uid_lock = None


class Zygote:
    """A warm sandbox: bwrap around course/zygote.py, asked over a unix socket. A grading batch
    starts one and its workers attach to it (`shared`, set in each worker); any other process
    that needs one starts its own. Each connection is served on its own; kernels are kept
    apart by namespaces of their own (and, as root, by uid)."""

    _instance = None
    shared = None  # (socket, root) of the batch's warm sandbox, in a worker of that batch
    SOURCE = (Path(__file__).parent / "zygote.py").read_text()

    @classmethod
    def of(cls, manager):
        if cls._instance is None or not cls._instance.alive():
            cls._instance = cls(*cls.shared) if cls.shared else cls.start(manager)
        return cls._instance

    def __init__(self, path, root, process=None, log=None):
        self.path, self.root, self.process, self.log = Path(path), Path(root), process, log
        self.lock, self.stream = threading.Lock(), None

    @classmethod
    def start(cls, manager, threads=None):
        """Start a warm sandbox; it is ready (imports done) when its socket answers. `threads`:
        the math libraries' threads per kernel (torch reads them when the sandbox imports it)."""
        own_folder(manager.base, 0o700 if rootless() else 0o711)
        root = Path(tempfile.mkdtemp(prefix="zygote-", dir=manager.base))
        os.chmod(root, 0o700 if rootless() else 0o711)
        env = {key: os.environ[key] for key in PASSED_ENV if key in os.environ}
        env.update(PATH=f"{sys.prefix}/bin:/usr/bin:/bin", HOME=str(root), MPLCONFIGDIR=str(root / "mpl"),
                   MPLBACKEND="module://matplotlib_inline.backend_inline", PYTHONDONTWRITEBYTECODE="1")
        if threads is not None:
            env.update({name: str(threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")})
        env.setdefault("OPENBLAS_NUM_THREADS", "1")  # no BLAS threads to lose across fork()
        args = manager._bwrap(root, private_tmp=False)
        if not rootless():  # SYS_ADMIN: a network namespace per kernel (an ordinary user's kernels need none)
            args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_KILL",
                     "--cap-add", "CAP_SYS_ADMIN"]
        args += [arg for key, value in env.items() for arg in ("--setenv", key, value)]
        log = open(root / "zygote.log", "w+")
        os.chmod(log.name, 0o600)  # kernels' stray fd output lands here: not for the next kernel
        process = subprocess.Popen(args + ["--", sys.executable, "-c", cls.SOURCE, str(root / "zygote.sock")],
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        zygote = cls(root / "zygote.sock", root, process, log)
        atexit.register(zygote.close)
        return zygote

    def alive(self):
        return self.process is None or self.process.poll() is None

    def _connect(self):
        deadline, refused = time.monotonic() + 120, 0
        while True:
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                conn.connect(str(self.path))
                self.stream = conn.makefile("rw")
                return
            except (FileNotFoundError, ConnectionRefusedError) as error:
                conn.close()
                refused += isinstance(error, ConnectionRefusedError)  # bound, not listening yet; or gone
                if not self.alive() or time.monotonic() > deadline or refused > 100:
                    why = ""
                    if self.log is not None:
                        self.log.seek(0)
                        why = f": {self.log.read()[-2000:]}"
                    raise SandboxUnavailable(f"the warm sandbox did not start{why}") from None
                time.sleep(0.05)

    def ask(self, **request):
        with self.lock:
            if self.stream is None:
                self._connect()
            self.stream.write(json.dumps(request) + "\n")
            self.stream.flush()
            line = self.stream.readline()
            if not line:
                self.stream = None
                raise SandboxUnavailable("the warm sandbox stopped answering")
        return json.loads(line)

    def close(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def shared_warm_sandbox(config, threads):
    """This process's warm sandbox, started if need be, for a batch's workers: (socket, root)."""
    if Zygote._instance is None or not Zygote._instance.alive():
        Zygote._instance = Zygote.start(SandboxKernelManager(config=config), threads)
    return str(Zygote._instance.path), str(Zygote._instance.root)


class ZygoteProcess:
    """What jupyter_client's provisioner needs of a Popen, for a kernel forked by the zygote."""

    stdin = stdout = stderr = None

    def __init__(self, zygote, pid):
        self.zygote, self.pid = zygote, pid

    def poll(self):
        return self.zygote.ask(op="poll", pid=self.pid)["status"]

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while (status := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("kernel", timeout)
            time.sleep(0.05)
        return status

    def send_signal(self, signum):
        self.zygote.ask(op="signal", pid=self.pid, signum=int(signum), wait=signum == signal.SIGKILL)

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def terminate(self):
        self.send_signal(signal.SIGTERM)


class SandboxedExecute(Execute):
    """nbgrader's Execute with every kernel sandboxed, per-cell timeouts and an output budget."""

    sandbox = Bool(True, config=True, help="Run kernels in the sandbox. Turn off only for trusted notebooks.")
    max_cell_timeout = Integer(600, config=True, help="Upper bound of a cell's metadata.course.timeout, seconds")
    max_output_bytes = Integer(1_000_000, config=True, help="Output kept per cell; the rest is dropped")

    def __init__(self, *args, **kwargs):
        # Every process of the kernel's uid is killed afterwards anyway: no polite shutdown to wait for.
        kwargs.setdefault("shutdown_kernel", "immediate")
        super().__init__(*args, **kwargs)
        if self.sandbox:
            check_available()  # refuse loudly rather than run strangers' code unconfined
            self.kernel_manager_class = SandboxKernelManager
        self.timeout_func = self.cell_timeout
        self._output_bytes = {}

    def preprocess(self, nb, resources=None, km=None):
        before = set(SandboxKernelManager.live)
        try:
            return super().preprocess(nb, resources, km)
        finally:  # a kernel that died mid-cell may skip the manager's own cleanup
            for scratch in set(SandboxKernelManager.live) - before:
                SandboxKernelManager.live.pop(scratch).end_processes()
                shutil.rmtree(scratch, ignore_errors=True)

    def cell_timeout(self, cell):
        override = cell.metadata.get("course", {}).get("timeout")
        if isinstance(override, (int, float)) and not isinstance(override, bool) and override > 0:
            return min(int(override), self.max_cell_timeout)
        return self.timeout

    def output(self, outs, msg, display_id, cell_index):
        used = self._output_bytes.get(cell_index, 0)
        if used > self.max_output_bytes:
            return None
        size = len(str(msg.get("content", "")))
        self._output_bytes[cell_index] = used + size
        if used + size > self.max_output_bytes:
            note = new_output("stream", name="stdout",
                              text=f"\n[output cut: the cell printed more than {self.max_output_bytes} bytes]\n")
            outs.append(note)
            return note
        return super().output(outs, msg, display_id, cell_index)
