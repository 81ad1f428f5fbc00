"""The warm process in the sandbox that forks one grading child per submission.

Started once per grading worker (``python -m safegrade.autograde.zygote``, inside
bubblewrap), it imports what the course preloads (NumPy, torch, its own package), then
the checks and IPython, builds the IPython shell and takes the :class:`~.guard.Guard`
snapshot, then serves requests on a Unix socket from the grader: for each ``run``
request it forks a child that reads its job from a fresh pipe, runs the notebook
(:mod:`.kernel`) and reports on another pipe. A fork costs milliseconds where starting a
kernel and importing torch costs seconds, and every child starts from the same pristine
memory, so no submission sees another's state.

The zygote never reads a notebook itself (its memory, which every child inherits, holds
no student's work), is not dumpable (a child cannot read or write its memory through
``/proc``), adopts orphans, and after each child kills whatever that child left running
and empties the writable directories, so each submission starts from a clean slate.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import importlib
import json
import os
import pkgutil
import re
import select
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from typing import Any

_PR_SET_DUMPABLE = 4
_PR_SET_CHILD_SUBREAPER = 36
_MESSAGE_BYTES = 1 << 16


def _prctl(option: int, value: int) -> None:
    if ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def _preload(modules: list[str]) -> dict[str, str]:
    """Import the modules students' notebooks use, once (``pkg.*``: pkg and all its
    submodules); returns those that failed, with their errors."""
    failed = {}
    for name in modules:
        package = name.removesuffix(".*")
        try:
            module = importlib.import_module(package)
            if name.endswith(".*"):
                for found in pkgutil.walk_packages(module.__path__, prefix=package + "."):
                    try:
                        importlib.import_module(found.name)
                    except Exception as error:
                        failed[found.name] = f"{type(error).__name__}: {error}"
        except Exception as error:  # reported to the grader, which refuses to go on
            failed[package] = f"{type(error).__name__}: {error}"
    return failed


def send(control: socket.socket, message: dict[str, Any]) -> None:
    control.send(json.dumps(message).encode())


def receive(control: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    """One request and the descriptors sent with it; ``None`` when the grader has gone."""
    data, fds, _, _ = socket.recv_fds(control, _MESSAGE_BYTES, 2)
    return (json.loads(data) if data else None), fds


class Zygote:
    """Serves fork requests. control: the socket to the grader; sandboxed: whether this
    process is alone in its own PID namespace (only then may it signal every process)."""

    def __init__(self, control: socket.socket, sandboxed: bool) -> None:
        self.control = control
        self.sandboxed = sandboxed
        self.tmp = tempfile.gettempdir()

    def serve(self, shell: Any, guard: Any) -> None:
        from .kernel import child_main
        from .protocol import write_frame

        self._clean_up(workdir="")  # what start-up left in /tmp is no submission's business
        while True:
            request, fds = receive(self.control)
            if request is None:
                self._kill_children()
                return
            if request.get("op") != "run" or len(fds) != 2:
                for fd in fds:
                    os.close(fd)
                continue
            workdir = tempfile.mkdtemp(prefix="submission-", dir=self.tmp)
            pid = os.fork()
            if pid == 0:
                self._become_child(fds, shell, guard, workdir, child_main, write_frame)
            for fd in fds:
                os.close(fd)
            send(self.control, {"forked": pid})
            status = self._wait(pid)
            self._clean_up(workdir)
            send(self.control, {"exited": status})

    def _become_child(self, fds, shell, guard, workdir, child_main, write_frame) -> None:
        code = 0
        try:
            self.control.close()
            if not self.sandboxed:
                os.setpgid(0, 0)  # so the zygote can kill everything it starts
            child_main(fds[0], fds[1], shell, guard, workdir, self.sandboxed)
        except BaseException:
            code = 70
            with contextlib.suppress(BaseException):  # tell the grader what went wrong
                token = getattr(guard, "token", "")
                write_frame(fds[1], {"fatal": traceback.format_exc()[-4000:], "token": token})
        finally:
            os._exit(code)

    def _wait(self, pid: int) -> int:
        """Wait for the child, killing it if the grader asks; its exit code (or -signal)."""
        pidfd = os.pidfd_open(pid)
        try:
            while True:
                ready, _, _ = select.select([pidfd, self.control], [], [])
                if self.control in ready:
                    request, fds = receive(self.control)
                    for fd in fds:
                        os.close(fd)
                    if request is None or request.get("op") == "kill":
                        self._kill(pid)
                    if request is None:
                        os.waitpid(pid, 0)
                        self._kill_children()
                        sys.exit(0)
                if pidfd in ready:
                    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        finally:
            os.close(pidfd)

    def _kill(self, pid: int) -> None:
        try:
            os.kill(pid if self.sandboxed else -pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _kill_children(self) -> None:
        """Kill and reap every process the child left behind."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.sandboxed:
                try:  # in our own PID namespace: everyone but us and bwrap's init
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            else:
                for pid in _adopted():
                    self._kill(pid)
            try:
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            except ChildProcessError:
                return
            time.sleep(0.01)

    def _clean_up(self, workdir: str) -> None:
        self._kill_children()
        if self.sandboxed:  # the sandbox's own tmpfs: empty all but the read-only binds
            keep = _mount_points()
            for folder in (self.tmp, "/dev/shm"):
                _empty(folder, keep)
        elif workdir:
            _remove(workdir)


def _adopted() -> list[int]:
    """Processes whose parent is this one (orphans come here: we are a subreaper)."""
    me, found = str(os.getpid()), []
    for entry in _entries("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if stat.read().rsplit(")", 1)[1].split()[1] == me:
                        found.append(int(entry))
            except (OSError, IndexError):
                continue
    return found


def _entries(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _mount_points() -> set[str]:
    """Every path something is mounted on in this namespace (from /proc/self/mountinfo)."""
    with open("/proc/self/mountinfo") as mountinfo:
        # field 5 is the mount point, with space, tab, newline and backslash as octal escapes
        return {
            re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            for line in mountinfo
        }


def _empty(folder: str, keep: set[str]) -> None:
    """Delete everything inside ``folder`` except the mount points in ``keep``.

    A course that lives under /tmp has its virtual environment bound read-only inside the
    sandbox's /tmp; those binds and the folders that lead to them stay, all else goes.
    """
    for entry in _entries(folder):
        path = os.path.join(folder, entry)
        if path in keep:
            continue
        leads_to_a_bind = any(point.startswith(path + "/") for point in keep)
        if leads_to_a_bind and os.path.isdir(path) and not os.path.islink(path):
            _empty(path, keep)
        else:
            _remove(path)


def _remove(path: str) -> None:
    """Delete a file or a tree, even one whose permissions a student took away."""

    def make_writable_and_retry(function, target, _):
        os.chmod(os.path.dirname(target), 0o700)
        os.chmod(target, 0o700)
        function(target)

    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, onerror=make_writable_and_retry)
    else:
        with contextlib.suppress(OSError):
            os.unlink(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--control", type=int, required=True, help="socket descriptor")
    parser.add_argument("--sandboxed", action="store_true", help="alone in a PID namespace")
    parser.add_argument("--preload", nargs="*", default=[], help="modules to import first")
    parser.add_argument("--trust", nargs="*", default=[], help="the checks' trusted modules")
    parser.add_argument("--library", nargs="*", default=[], help="libraries the checks watch")
    args = parser.parse_args(argv)
    control = socket.socket(fileno=args.control)
    failed = _preload(args.preload)
    import safegrade.settings

    from . import split

    split.prepare()  # before the checks' snapshot: what pickling caches on torch's classes

    safegrade.settings.use(safegrade.settings.Settings(tuple(args.trust), tuple(args.library)))
    # Last, so that its snapshot of the trusted modules includes everything preloaded.
    import safegrade.checks

    from .guard import Guard
    from .kernel import create_shell

    shell = create_shell()
    guard = Guard(safegrade.checks, workdir=tempfile.gettempdir())
    gc.collect()
    gc.freeze()  # children then never touch (and so never copy) the zygote's objects
    _prctl(_PR_SET_DUMPABLE, 0)
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    send(
        control,
        {
            "ready": True,
            "failed_imports": failed,
            "threads": threading.active_count(),
            "tasks": len(os.listdir("/proc/self/task")),
        },
    )
    Zygote(control, args.sandboxed).serve(shell, guard)


if __name__ == "__main__":
    try:
        main()
    except Exception:
        traceback.print_exc()
        sys.exit(1)
