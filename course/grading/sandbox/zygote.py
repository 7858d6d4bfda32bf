"""A warm kernel factory that runs inside one sandbox per grading batch (course/grading/sandbox/kernel.py).

It imports what every kernel needs once (torch and the part an optimizer's first step
loads, numpy, matplotlib, ipykernel), then forks a kernel on request. Before the child runs
anything a student wrote it is confined, with its limits and no privileges:

- as root: it drops to the uid it was given, with a seccomp filter (seccomp.py's, sent with
  the request) that allows no new user namespace; every process of that uid is killed afterwards;
- as an ordinary user: it enters a user, PID, mount, network, IPC and UTS namespace of its
  own as the init of that PID namespace, mounts its own /proc, hides every folder of the
  warm sandbox but its scratch folder, and drops every capability. Killing it kills all it
  started, and the process limit counts per user namespace (Linux >= 5.14).

Requests are JSON lines on a unix socket; this file is passed to `python -c`, so it uses
nothing of the course package.
"""
import ctypes
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import sys
import tempfile
import time


libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER = 24, 38, 36
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2


def _check(result, what):
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _mount(source, target, fstype, flags, data=None):
    encode = lambda text: None if text is None else text.encode()  # noqa: E731
    _check(libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)), f"mount {target}")


def enter_namespaces(uid, gid):
    """In the forked child of an ordinary user's zygote: new namespaces, this process's ids
    mapped to `uid` in them. Its next child is the init of the new PID namespace."""
    outer_uid, outer_gid = os.geteuid(), os.getegid()  # read first: unmapped once unshared
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS),
           "unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {outer_uid} 1"), ("gid_map", f"{gid} {outer_gid} 1")):
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)


def confine_view(root, scratch, stage):
    """The kernel's own mounts: a /proc of its PID namespace, and of the zygote's folder (its
    socket, its log, other kernels' scratch folders) only its scratch folder.
    /tmp is the warm sandbox's, read-only (Python itself may live below it: a bind over /tmp would
    hide it); the kernel's TMPDIR is its scratch folder's tmp."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount(scratch, stage, None, MS_BIND | MS_REC)  # kept aside while an empty tmpfs covers the zygote's folder
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")
    os.mkdir(scratch)
    _mount(stage, scratch, None, MS_BIND | MS_REC)
    _check(libc.umount2(stage.encode(), 2), "umount")  # MNT_DETACH
    libc.sethostname(b"sandbox", 7)
    with open("/proc/sys/user/max_user_namespaces", "w") as handle:  # no namespaces nested in the kernel's
        handle.write("0")


def bound_disk(scratch, stage, size, uid, shm_bytes):
    """The kernel's writable folders as it sees them, in a mount namespace of its own: a /dev/shm
    of its own, and its scratch folder a tmpfs of `size` bytes (freed with the namespace) holding
    a copy of work, an empty tmp and kernel, a copy of the connection file where it binds its
    ipc sockets (the grader reaches them through its root). Nothing of the grader's disk is
    writable to it."""
    _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={shm_bytes}")
    _mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=0700,uid={uid},gid={uid},size={size}")
    for name in ("kernel", "tmp"):
        os.mkdir(os.path.join(stage, name))
    shutil.copytree(os.path.join(scratch, "work"), os.path.join(stage, "work"), symlinks=True)
    shutil.copy2(os.path.join(scratch, "kernel", "connection.json"), os.path.join(stage, "kernel"))
    for folder, names, files in os.walk(stage):
        for name in [*names, *files]:
            os.lchown(os.path.join(folder, name), uid, uid)
    _mount(stage, scratch, None, MS_BIND | MS_REC)
    _check(libc.umount2(stage.encode(), 2), "umount")  # MNT_DETACH


def no_inherited_descriptors():
    """Stdio on /dev/null and nothing else open: the zygote's are its log (shared by every
    kernel) and whatever the imports opened."""
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[1])


def drop_capabilities():
    """No capability left, in the kernel's own namespaces or anywhere: a student cannot mount,
    unshare or map ids. (The kernel's uid 0 view never exists: it is mapped to `uid`.)"""
    cap = 0
    while libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable: all zero (two words each)
    _check(libc.capset(header, data), "capset")


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_filter(program):
    """A seccomp filter (course/grading/sandbox/seccomp.py's bytes) on this process and all it
    starts, for good: no_new_privs must be set, or CAP_SYS_ADMIN held."""
    code = ctypes.create_string_buffer(program, len(program))
    fprog = SockFprog(len(program) // 8, ctypes.addressof(code))
    _check(libc.prctl(ctypes.c_int(PR_SET_SECCOMP), ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(fprog),
                      ctypes.c_ulong(0), ctypes.c_ulong(0)), "seccomp")


def run_kernel(request, sockets):
    """In the forked child: become the student's unprivileged process, then start ipykernel."""
    try:
        os.setsid()
        for sock in sockets:
            sock.close()
        no_inherited_descriptors()
        uid = request["uid"]
        if request.get("namespaces"):  # an ordinary user's zygote: confined by namespaces, not by uid
            confine_view(**request["namespaces"])
            bound_disk(**request["disk"])
            drop_capabilities()
        else:
            # A network and an IPC namespace of its own: nothing to reach, not even the other kernels.
            _check(libc.unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWNS), "unshare")
            _mount(None, "/", None, MS_REC | MS_PRIVATE)
            bound_disk(**request["disk"])
        for name, value in request["limits"].items():
            resource.setrlimit(getattr(resource, name), (value, value))
        if not request.get("namespaces"):
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        if not request.get("namespaces"):  # root's kernel: no user namespace (and tmpfs) of its own making
            install_filter(bytes.fromhex(request["seccomp"]))
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None  # the zygote's cached choice (/tmp) is not this kernel's TMPDIR
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from ipykernel.kernelapp import IPKernelApp
        import matplotlib_inline.backend_inline

        app = IPKernelApp.instance()
        app.initialize(request["argv"])
        # The inline backend was imported here before any IPython shell existed, so its import hook
        # (figures shown as PNG, as in a fresh kernel) found none: run it with this kernel's shell.
        matplotlib_inline.backend_inline._enable_matplotlib_integration()
        app.start()
    finally:
        os._exit(0)


def purge(uid):
    """Kill every process of `uid` (a helper that becomes uid sends kill(-1)) until none is left
    (for 2.5 s at most; a killed kernel is usually gone within milliseconds)."""
    for _ in range(500):
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
        time.sleep(0.005)
    return False


def end_namespace(pid):
    """Kill a kernel that is the init of its PID namespace and reap it. The kernel lets its
    init exit only once every other process of the namespace is gone, so then none is left."""
    if pid not in exit_codes:
        try:
            os.kill(pid, signal.SIGKILL)
            exit_codes[pid] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        except (ProcessLookupError, ChildProcessError):
            pass
    return True


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


def spawn_in_namespaces(request, sockets):
    """Fork a child that enters new namespaces and forks the kernel as their PID 1; the
    child exits at once and the kernel is re-parented to this zygote (a subreaper)."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(read)
            enter_namespaces(request["uid"], request["uid"])
            kernel = os.fork()
            if kernel == 0:
                os.close(write)
                run_kernel(request, sockets)
            os.write(write, json.dumps({"pid": kernel}).encode())
        except BaseException as error:
            os.write(write, json.dumps({"error": f"the kernel's namespaces: {error}"}).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        reply = json.loads(answer.read() or '{"error": "the kernel\'s namespaces: no answer"}')
    os.waitpid(child, 0)
    return reply


def handle(request, sockets):
    op = request["op"]
    if op == "spawn":
        if request.get("namespaces"):
            return spawn_in_namespaces(request, sockets)
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
        if request.get("pid"):  # the init of the kernel's PID namespace: all its processes die with it
            return {"clean": end_namespace(request["pid"])}
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

    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # kernels whose namespace-entering parent exited are ours
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    os.chmod(path, 0o600)  # only the grader may ask for kernels
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
