"""Real, ordinary Unix users for tests that must not run as root (the hub, rootless grading).

Creating users needs root: tests that use them are skipped otherwise. Each user is removed
afterwards with its home, and every folder that had to become traversable for them (the
path to the environment's Python, e.g. a pyenv under /root) gets its mode back.
"""
import contextlib
import fcntl
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from course import ROOT

VENV_BIN = ROOT / ".venv" / "bin"


def need_root():
    if os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("creating test users needs root and useradd")


@contextlib.contextmanager
def traversable(*paths):
    """Let everyone pass through every folder above `paths` for the duration (mode o+x)."""
    changed = {}
    for path in paths:
        for folder in Path(os.path.realpath(path)).parents:
            mode = folder.stat().st_mode
            if folder not in changed and not mode & stat.S_IXOTH:
                changed[folder] = stat.S_IMODE(mode)
                os.chmod(folder, stat.S_IMODE(mode) | stat.S_IXOTH)
    try:
        yield
    finally:
        for folder, mode in changed.items():
            os.chmod(folder, mode)


def kill_processes_of(uid, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _owner(p) == uid]
        if not left:
            return
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def _owner(path):
    try:
        return path.stat().st_uid
    except OSError:
        return None


def processes_of(uid, commands=False):
    """The pids of `uid`'s processes; with commands=True, each with its command line."""
    found = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _owner(p) == uid]
    if not commands:
        return [p.name for p in found]
    return [f"{p.name}: {_command(p)}" for p in found]


def _command(proc):
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
    except OSError:
        return "?"


class User:
    def __init__(self, name):
        entry = pwd.getpwnam(name)
        self.name, self.uid, self.gid, self.home = name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir)

    def env(self, **more):
        env = {"HOME": str(self.home), "USER": self.name, "LOGNAME": self.name, "LANG": "C.UTF-8",
               "PATH": f"{VENV_BIN}:/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
        env.update(more)
        return env

    def run(self, *args, cwd=None, env=None, check=True, timeout=3600, stdin=None):
        """Run a command as this user, with their own ids and groups only."""
        try:
            result = subprocess.run(["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups",
                                     *map(str, args)], cwd=cwd or self.home, env=self.env(**(env or {})),
                                    capture_output=True, text=True, timeout=timeout, input=stdin)
        except subprocess.TimeoutExpired:
            kill_processes_of(self.uid)  # what the command started too, not only the command
            raise
        if check and result.returncode != 0:
            raise AssertionError(f"{self.name}: {' '.join(map(str, args))} failed ({result.returncode}):\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def python(self, code, *args, **kw):
        return self.run(VENV_BIN / "python", "-c", code, *args, **kw)

    def give(self, path):
        """Hand a folder the test prepared to this user."""
        for folder, _, files in os.walk(path):
            os.chown(folder, self.uid, self.gid)
            for name in files:
                os.lchown(os.path.join(folder, name), self.uid, self.gid)


@contextlib.contextmanager
def ordinary_users(*names):
    """Create the users (each with a private home), yield them, then remove them and all they left."""
    need_root()
    made = []
    # One test at a time on the machine, across checkouts: the users' names are fixed, and the
    # modes traversable() restores are shared by every such test (two at once undo each other).
    lock = open(os.path.join(tempfile.gettempdir(), "course-test-users.lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        with traversable(sys.executable, ROOT):
            for name in names:
                with contextlib.suppress(KeyError):  # left by a run that was killed
                    kill_processes_of(pwd.getpwnam(name).pw_uid)
                    subprocess.run(["userdel", "--remove", name], capture_output=True)
                subprocess.run(["useradd", "--create-home", "--user-group", "--shell", "/bin/sh", name], check=True,
                               capture_output=True)
                made.append(User(name))
                os.chmod(made[-1].home, 0o700)
            yield made
    finally:
        for user in made:
            kill_processes_of(user.uid)
            for shared in (Path("/tmp"), Path("/var/tmp")):  # their sandbox folder, torch's caches, ...
                for entry in shared.iterdir():
                    if _owner(entry) == user.uid:
                        shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink()
            subprocess.run(["userdel", "--remove", user.name], capture_output=True)
        lock.close()  # releases the lock
