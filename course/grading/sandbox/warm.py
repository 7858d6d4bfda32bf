"""The warm sandbox's client: one bwrap around zygote.py, which forks each kernel on request.

A grading batch starts one and its workers attach to it; the kernels it forks are kept apart by
namespaces of their own (and, as root, by uid). kernel.py's SandboxKernelManager uses it."""
import atexit
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from course.grading.sandbox.base import PASSED_ENV, SandboxUnavailable, own_folder, rootless


def interpreter():
    """This Python as an absolute, normalised path: started as ../.venv/bin/python it is
    <cwd>/../.venv/bin/python, and the sandbox has no <cwd> to climb out of (sys.prefix, which
    it mounts, is normalised). Not realpath: a virtual environment's python is a link."""
    return os.path.normpath(os.path.abspath(sys.executable))


class Zygote:
    """A warm sandbox: bwrap around course/grading/sandbox/zygote.py, asked over a unix socket. A grading batch
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
        self.pid = None  # the zygote's, in this process's PID namespace: known once connected

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
        process = subprocess.Popen(args + ["--", interpreter(), "-c", cls.SOURCE, str(root / "zygote.sock")],
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
                # The listener's pid, as this process sees it (the zygote's own is the sandbox's).
                self.pid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
                self.stream = conn.makefile("rw")
                return
            except (FileNotFoundError, ConnectionRefusedError) as error:
                conn.close()
                refused += isinstance(error, ConnectionRefusedError)  # bound, not listening yet; or gone
                if not self.alive() or time.monotonic() > deadline or refused > 100:
                    why = ""
                    if self.log is not None:
                        self.log.seek(0)
                        why = f": {self.log.read()[-2000:].strip()}"
                    raise SandboxUnavailable(f"the warm sandbox did not start{why}") from None
                time.sleep(0.05)

    def ready(self):
        """Wait until it answers; if it stopped first, raise SandboxUnavailable with bwrap's words."""
        with self.lock:
            if self.stream is None:
                self._connect()

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
