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
  process limit binds and nothing of root's is writable; its processes end by uid; a seccomp
  filter (seccomp.py) keeps it from creating user namespaces, where it could mount a tmpfs;
- prlimit: address space, processes, CPU seconds, file size, open files.

The kernel talks to the grader over ipc sockets (TCP cannot cross the network namespace). It
binds them in its own scratch folder, inside its disk budget; the grader reaches them through
the kernel's root (/proc/<pid>/root), by links in a folder of its own (see `link_sockets`).
`SandboxedExecute` adds a per-cell timeout (default, or the cell's `metadata.course.timeout`,
capped) and a per-cell output budget.
"""
import fcntl
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Integer, List, Type, Unicode, default

from course.grading.sandbox.base import (CONNECTION_STAGE, NAMESPACE_UID, PASSED_ENV, STAGE, SYSTEM_PATHS,
                                         SandboxUnavailable, end_namespace, kill_uid, own_folder, rootless)
from course.grading.sandbox.seccomp import no_new_user_namespaces, pipe_of
from course.grading.sandbox.warm import Zygote, ZygoteProcess


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

    def start_channels(self, *args, **kwargs):
        # zmq retries a connection to a socket the kernel has not bound yet every 100 ms by default.
        self.context.setsockopt(zmq.RECONNECT_IVL, 5)
        return super().start_channels(*args, **kwargs)


def gpu_devices():
    """The GPU's device files a kernel gets: /dev/nvidia* where the grader has one, none when
    COURSE_DEVICE=cpu (its kernels then keep the address-space limit, as on a machine without)."""
    return [] if os.environ.get("COURSE_DEVICE") == "cpu" else sorted(glob.glob("/dev/nvidia*"))


class SandboxKernelManager(AsyncKernelManager):
    """An ipykernel in a scratch folder of its own, forked from the warm sandbox (Zygote) or,
    with warm = False, started in a fresh bwrap + setpriv + prlimit."""

    client_factory = Type(ReadyKernelClient, klass=AsyncKernelClient, config=True)

    base = Unicode(config=True, help="Folder for the scratch folders (kept off /tmp: the sandbox's /tmp lives in "
                                     "them); default $COURSE_SANDBOX_BASE or /var/tmp/course-sandbox, with -<uid> "
                                     "for an ordinary user")
    first_uid = Integer(61000, config=True, help="Kernels run as first_uid, first_uid + 1, ...")
    uids = Integer(1000, config=True, help="How many uids the sandbox may use at once")
    uid_locks = Unicode("/var/tmp/course-sandbox/uids", config=True,
                        help="As root: the folder of the locks that share the uids out among every grader of "
                             "this machine (uids are the machine's), whatever each grader's base")
    memory = Integer(4 * 2**30, config=True, help="Address-space limit of the kernel, bytes")
    processes = Integer(256, config=True, help="Processes and threads the kernel's uid may have")
    cpu_seconds = Integer(900, config=True, help="CPU seconds for the whole notebook")
    file_size = Integer(256 * 2**20, config=True, help="Largest file the kernel may write, bytes; also the size of its /dev/shm")
    disk = Integer(2**30, config=True, help="Bytes the kernel may write in its scratch folder (working folder, HOME, "
                                            "TMPDIR): a tmpfs, held in memory or swap, freed when the kernel ends")
    open_files = Integer(1024, config=True)
    extra_ro_paths = List(Unicode(), config=True, help="More read-only paths the kernel may see")
    warm = Bool(True, config=True, help="Fork kernels from a warm sandboxed Python (course/grading/sandbox/zygote.py)")

    scratch = zygote = uid = pid_namespace = kernel_pid = seccomp_fd = None
    _uid_lock = None
    live = {}  # scratch folder -> its manager, not yet cleaned up, for SandboxedExecute's last resort
    stuck_uids = []  # locks kept for uids whose processes could not be killed

    @default("base")
    def _default_base(self):
        base = os.environ.get("COURSE_SANDBOX_BASE", "/var/tmp/course-sandbox")
        return base + (f"-{os.geteuid()}" if rootless() else "")

    def _claim_uid(self):
        """A uid no other sandbox holds now: an flock on <uid_locks>/<n>.lock, held until cleanup.
        An ordinary user's kernels all see NAMESPACE_UID, each in a user namespace of its own."""
        if rootless():
            return NAMESPACE_UID
        own_folder(Path(self.uid_locks).parent, 0o711)
        folder = own_folder(self.uid_locks, 0o755)
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
        (scratch / "kernel").mkdir()  # the grader's: the connection file, links to the kernel's sockets
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
        # A /dev/shm of the sandbox's own, bounded (shared memory is memory a tmpfs holds).
        args += ["--size", str(self.file_size), "--perms", "1777", "--tmpfs", "/dev/shm"]
        for device in gpu_devices():
            args += ["--dev-bind", device, device]
        # /tmp first: Python or the scratch folder may live below it and must stay visible. Nobody
        # writes there (an ordinary user's kernel owns the folders made below: it is remounted
        # read-only); a kernel's TMPDIR is its scratch folder's tmp, inside its disk budget.
        args += ["--perms", "0755", "--tmpfs", "/tmp"]
        made = {Path("/tmp")}
        for path in [sys.prefix, sys.base_prefix, *self.extra_ro_paths, str(scratch)]:
            for parent in reversed(Path(path).parents):
                if str(parent) != "/" and not any(str(parent).startswith(p) for p in SYSTEM_PATHS) \
                        and parent not in made:
                    args += ["--perms", "0755", "--dir", str(parent)]
                    made.add(parent)
            if path != str(scratch):
                args += ["--ro-bind", path, path]
        if private_tmp:  # a cold kernel: see _disk_budget
            args += self._disk_budget(scratch)
            if rootless():  # no user namespace of its own inside: it could mount a tmpfs past its disk budget
                args += ["--disable-userns"]
        else:
            args += ["--bind", str(scratch), str(scratch), "--dir", STAGE]
        if rootless():
            # bwrap's own root and /dev belong to the sandbox's uid, which a kernel has too (mapped
            # to the grader's): read-only, or any kernel could write there, and a warm sandbox's
            # kernels would share what it wrote.
            args += ["--remount-ro", "/dev", "--remount-ro", "/"]
            args += ["--remount-ro", "/tmp"]
        return args + ["--chdir", str(scratch)]

    def _disk_budget(self, scratch):
        """A cold kernel's scratch folder, as it sees it: a tmpfs of `disk` bytes (freed with its
        namespace) holding work, tmp and kernel (its connection file and ipc sockets). Its copy of
        the submission and its connection file are bound read-only at STAGE and CONNECTION_STAGE,
        and copied in as the kernel starts: nothing of the grader's disk is writable to it."""
        perms = "0700" if rootless() else "0777"  # as root, bwrap's folders are root's: the kernel's uid writes there
        return ["--perms", "0755", "--dir", str(Path(STAGE).parent), "--ro-bind", str(scratch / "work"), STAGE,
                "--ro-bind", str(scratch / "kernel" / "connection.json"), CONNECTION_STAGE,
                "--size", str(self.disk), "--perms", perms, "--tmpfs", str(scratch),
                *[arg for name in ("kernel", "tmp") for arg in ("--perms", perms, "--dir", str(scratch / name))]]

    def _limits(self, uid):
        limits = [f"--{name[len('RLIMIT_'):].lower()}={value}" for name, value in self.rlimits().items()]
        # The kernel copies its submission into its disk budget first, as itself (see _disk_budget).
        copy = ["sh", "-c", f'cp -R -p {STAGE} work && cp -p {CONNECTION_STAGE} kernel/ && cd work && exec "$@"',
                "sh"]
        if rootless():  # bwrap already dropped every capability and set no_new_privs
            return ["prlimit", *limits, "--", *copy]
        return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all", "--no-new-privs", "prlimit", *limits, "--", *copy]

    def _env(self, scratch, env, tmp):
        clean = {key: env[key] for key in PASSED_ENV if key in env}
        clean.update(PATH=f"{sys.prefix}/bin:/usr/bin:/bin", HOME=str(scratch / "work"), TMPDIR=tmp,
                     MPLCONFIGDIR=f"{tmp}/matplotlib", PYTHONDONTWRITEBYTECODE="1",
                     # A kernel's uid has no passwd entry: getpass.getuser() (torch 2.11's inductor,
                     # imported by a first optimizer step on CUDA) reads these before asking pwd.
                     USER="sandbox", LOGNAME="sandbox")
        return clean  # no JPY_PARENT_PID: ipykernel would exit, its parent being pid 1 in here

    def rlimits(self):
        # CUDA reserves address space far past any useful RLIMIT_AS (docs/design.md): with a GPU
        # the bound is on private writable memory instead, which is what tensors on the CPU take.
        memory = "RLIMIT_DATA" if gpu_devices() else "RLIMIT_AS"
        return {memory: self.memory, "RLIMIT_NPROC": self.processes, "RLIMIT_CPU": self.cpu_seconds,
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
                               env=self._env(self.scratch, env, tmp=str(self.scratch / "tmp")),
                               disk=dict(scratch=str(self.scratch), stage=STAGE, size=self.disk, uid=uid,
                                         shm_bytes=self.file_size))
            if rootless():
                self._spawn["namespaces"] = dict(root=str(self.zygote.root), scratch=str(self.scratch), stage=STAGE)
            else:
                self._spawn["seccomp"] = no_new_user_namespaces().hex()
            return cmd, kw
        # No descriptor of the grader's: its stdout and stderr are the grading log's pipe.
        kw.update(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        setenv = [arg for key, value in self._env(self.scratch, env, str(self.scratch / "tmp")).items()
                  for arg in ("--setenv", key, value)]
        args = self._bwrap(self.scratch) + setenv
        if not rootless():  # bwrap reads the filter from a pipe it inherits, closed here once it has started
            self.seccomp_fd = pipe_of(no_new_user_namespaces())
            args += ["--seccomp", str(self.seccomp_fd)]
            kw["pass_fds"] = (self.seccomp_fd,)
        return args + ["--"] + self._limits(uid) + cmd, kw

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        if not self.zygote:
            try:
                await super()._async_launch_kernel(kernel_cmd, **kw)
            finally:
                if self.seccomp_fd is not None:
                    os.close(self.seccomp_fd)
                    self.seccomp_fd = None
            init, self.pid_namespace = self._init_of(self.provisioner.pid)
            # bwrap's pid 1 has the sandbox's root (from the moment it has made it: until then the
            # links below lead back to themselves, and zmq tries again).
            self.link_sockets(f"/proc/{init}/root" if init else None)
            return
        reply = self.zygote.ask(op="spawn", **self._spawn)
        if "error" in reply:
            raise SandboxUnavailable(reply["error"])
        self.kernel_pid = reply["pid"]
        # The kernel's pid is the warm sandbox's: its /proc, seen from the warm sandbox's root.
        self.link_sockets(f"/proc/{self.zygote.pid}/root/proc/{self.kernel_pid}/root")
        process = ZygoteProcess(self.zygote, reply["pid"])
        self.provisioner.process, self.provisioner.pid, self.provisioner.pgid = process, process.pid, None
        self._reconcile_connection_info(self.provisioner.connection_info)

    def link_sockets(self, kernel_root):
        """The grader's side of the ipc sockets: in its own kernel folder, for each one a link to the
        socket the kernel binds in its scratch folder, reached through `kernel_root` (a /proc/<pid>/root
        of a process with the kernel's mounts: one more path across mount namespaces, resolved by each
        connect). The sockets live in the kernel's tmpfs, so the kernel writes nothing on the
        grader's disk; and a link's length does not count against the 107 bytes of a socket's path."""
        if kernel_root is None:  # the sandbox is gone already: the client finds the kernel dead
            return
        for port in (self.shell_port, self.iopub_port, self.stdin_port, self.control_port, self.hb_port):
            link = f"{self.ip}-{port}"
            if os.path.lexists(link):  # a restart's links point to the kernel before it
                os.remove(link)
            os.symlink(f"{kernel_root}{link}", link)

    @staticmethod
    def _init_of(bwrap, timeout=10):
        """The process bwrap starts in its PID namespace (its pid 1) and that namespace, once it exists."""
        deadline = time.monotonic() + timeout
        ours = os.readlink("/proc/self/ns/pid")
        while time.monotonic() < deadline:
            try:
                children = Path(f"/proc/{bwrap}/task/{bwrap}/children").read_text().split()
                for child in children:
                    namespace = os.readlink(f"/proc/{child}/ns/pid")
                    if namespace != ours:
                        return int(child), namespace
            except OSError:
                return None, None  # bwrap is gone already: so is its namespace (--die-with-parent)
            time.sleep(0.005)
        return None, None

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
        if not restart and self._created_context:
            # The kernel is killed by now: what is queued for it (a shutdown request on the control
            # socket) is never read, and jupyter_client's destroy(linger=100) waits 100 ms for it.
            self.context.destroy(linger=0)
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


def shared_warm_sandbox(config, threads):
    """This process's warm sandbox, started if need be, for a batch's workers: (socket, root)."""
    if Zygote._instance is None or not Zygote._instance.alive():
        Zygote._instance = Zygote.start(SandboxKernelManager(config=config), threads)
    return str(Zygote._instance.path), str(Zygote._instance.root)
