"""A warm kernel factory that runs inside one sandbox per grading batch (course/sandbox.py).

It imports what every kernel needs once (torch and the part an optimizer's first step
loads, numpy, matplotlib, ipykernel), then forks
a kernel on request. The child drops to the uid it was given, with its limits and no
privileges, before it runs anything a student wrote. Requests are JSON lines on a unix
socket; this file is passed to `python -c`, so it uses nothing of the course package.
"""
import ctypes
import json
import os
import resource
import selectors
import signal
import socket
import sys
import tempfile
import time


libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET, CLONE_NEWIPC = 0x40000000, 0x08000000


def run_kernel(request, sockets):
    """In the forked child: become the student's unprivileged process, then start ipykernel."""
    try:
        os.setsid()
        for sock in sockets:
            sock.close()
        # A network and an IPC namespace of its own: nothing to reach, not even the other kernels.
        if libc.unshare(CLONE_NEWNET | CLONE_NEWIPC) != 0:
            raise OSError(ctypes.get_errno(), "unshare")
        for name, value in request["limits"].items():
            resource.setrlimit(getattr(resource, name), (value, value))
        uid = request["uid"]
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None  # the zygote's cached choice (/tmp) is not this kernel's TMPDIR
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from ipykernel.kernelapp import IPKernelApp

        IPKernelApp.launch_instance(argv=request["argv"])
    finally:
        os._exit(0)


def purge(uid):
    """Kill every process of `uid` (a helper that becomes uid sends kill(-1)) until none is left."""
    for _ in range(50):
        helper = os.fork()
        if helper == 0:
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            try:
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(helper, 0)
        reap()
        if not processes_of(uid):
            return True
        time.sleep(0.05)
    return False


def processes_of(uid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    found.append(int(entry))
            except OSError:
                pass
    return found


exit_codes = {}


def reap():
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        exit_codes[pid] = os.waitstatus_to_exitcode(status)


def handle(request, sockets):
    op = request["op"]
    if op == "spawn":
        pid = os.fork()
        if pid == 0:
            run_kernel(request, sockets)
        return {"pid": pid}
    if op == "poll":
        reap()
        return {"status": exit_codes.get(request["pid"]) if request["pid"] in exit_codes
                else (None if os.path.exists(f"/proc/{request['pid']}") else 0)}
    if op == "signal":
        try:
            os.killpg(request["pid"], request["signum"])
        except ProcessLookupError:
            pass
        if request.get("wait") and request["pid"] not in exit_codes:  # SIGKILL: reap it now, no polling
            try:
                exit_codes[request["pid"]] = os.waitstatus_to_exitcode(os.waitpid(request["pid"], 0)[1])
            except ChildProcessError:
                pass
        return {}
    if op == "purge":
        return {"clean": purge(request["uid"])}
    return {"error": f"unknown op {op!r}"}


def main(path):
    import ipykernel.kernelapp  # noqa: F401 -- imported once here, inherited by every kernel
    import ipykernel.debugger  # noqa: F401 -- the kernel imports debugpy at start (~0.5 s)
    import ipykernel.ipkernel  # noqa: F401
    # What a kernel's start imports besides (its shell's debugger, history, completer).
    import IPython.core.completerlib, IPython.core.debugger, IPython.core.oinspect  # noqa: F401, E401
    import IPython.extensions.storemagic, faulthandler  # noqa: F401, E401
    import sqlite3, tornado.platform.asyncio  # noqa: F401, E401
    import matplotlib_inline.backend_inline  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import numpy  # noqa: F401
    import torch  # noqa: F401
    import torch._dynamo  # noqa: F401 -- what an optimizer's first step would import (~1 s)

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    os.chmod(path, 0o600)  # only the grader (root) may ask for kernels
    server.listen(16)
    chosen = selectors.DefaultSelector()  # one connection per grading worker, served in turn
    chosen.register(server, selectors.EVENT_READ)
    pending = {}
    while True:
        for key, _ in chosen.select():
            if key.fileobj is server:
                conn, _ = server.accept()
                chosen.register(conn, selectors.EVENT_READ)
                pending[conn] = b""
                continue
            conn = key.fileobj
            data = conn.recv(1 << 16)
            if not data:
                chosen.unregister(conn)
                conn.close()
                del pending[conn]
                continue
            pending[conn] += data
            while b"\n" in pending[conn]:
                line, pending[conn] = pending[conn].split(b"\n", 1)
                reply = handle(json.loads(line), [chosen, server, *pending])
                conn.sendall((json.dumps(reply) + "\n").encode())


if __name__ == "__main__":
    main(sys.argv[1])
