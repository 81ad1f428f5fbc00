"""The bubblewrap sandbox each grading worker runs in: what students' code can see.

Inside, the only files are the operating system's programs and libraries (``/usr``, the
dynamic loader's cache and a few settings from ``/etc``), the Python installation, the
course's virtual environment and the packages the course names (its own, such as
``rnnkit``, and ``safegrade``), all read-only; ``/tmp`` and
``/dev/shm`` are fresh in-memory file systems that the zygote empties after every
submission. The course directory (``solutions/``, the gradebook, ``submitted/``,
``autograded/``) is not there at all; notebooks come in through a pipe. There is no
network (a new, empty network namespace), no view of the host's processes (a new PID
namespace), no capabilities, and the user is ``nobody`` (65534) inside a new user
namespace. ``--die-with-parent`` ends the sandbox if the grader dies.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass

from ..settings import Settings

NOBODY = "65534"
# Files from /etc that programs read at start-up; everything else in /etc stays hidden.
_ETC = [
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
]
_ENVIRONMENT = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "MPLBACKEND": "Agg",
    "MPLCONFIGDIR": "/tmp/matplotlib",
    # One thread each: submissions run in parallel already, and fork() after an
    # OpenMP pool has started is not safe.
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    # What nbgrader sets while it autogrades; notebooks may check it.
    "NBGRADER_EXECUTION": "autograde",
}


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces on this machine."""


@dataclass(frozen=True)
class Sandbox:
    """How to start the zygote. enabled: inside bubblewrap (False only when asked for);
    packages: importable packages whose folders the sandbox shows read-only (safegrade's
    own is always shown)."""

    enabled: bool = True
    packages: tuple[str, ...] = ()

    def command(self, control_fd: int, preload: list[str], settings: Settings) -> list[str]:
        """The argv that starts a zygote talking on descriptor ``control_fd``, importing
        ``preload`` and taking the checks' snapshot with ``settings``."""
        python = [interpreter(), "-I", "-B", "-m", "safegrade.autograde.zygote"]
        python += ["--control", str(control_fd), "--preload", *preload]
        python += ["--trust", *settings.trusted_modules, "--library", *settings.libraries]
        if not self.enabled:
            return python
        return [*self._bwrap(), *python, "--sandboxed"]

    def check(self) -> None:
        """Raise SandboxUnavailable now, rather than once per worker, if bwrap is missing."""
        if self.enabled:
            self._bwrap()

    def environment(self) -> dict[str, str]:
        """The environment the zygote gets without a sandbox (bubblewrap sets its own)."""
        return {**_ENVIRONMENT, "PATH": os.environ.get("PATH", _ENVIRONMENT["PATH"])}

    def _bwrap(self) -> list[str]:
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise SandboxUnavailable(
                "bubblewrap (bwrap) is not installed: `apt-get install bubblewrap` "
                "(make autograde and make test install it), or pass --no-sandbox to grade "
                "without isolation on a machine where students' code is trusted."
            )
        argv = [bwrap, "--unshare-all", "--unshare-user", "--uid", NOBODY, "--gid", NOBODY]
        argv += ["--cap-drop", "ALL", "--die-with-parent", "--new-session", "--clearenv"]
        for name, value in _ENVIRONMENT.items():
            argv += ["--setenv", name, value]
        argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/dev/shm"]
        argv += _system_mounts()
        for path in _python_paths():
            argv += ["--ro-bind", path, path]
        for package in ("safegrade", *self.packages):
            for real, seen in package_folders(package):
                argv += ["--ro-bind", real, seen]
        # The root bubblewrap builds is a tmpfs: make it read-only once everything is in place.
        return [*argv, "--remount-ro", "/", "--chdir", "/tmp"]


def _system_mounts() -> list[str]:
    """``/usr`` read-only, the merged-/usr links (or directories) beside it, bits of /etc."""
    argv = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    for path in _ETC:
        if os.path.exists(path):
            argv += ["--ro-bind", path, path]
    return argv


def interpreter() -> str:
    """The virtual environment's python, by the venv's real path.

    ``.venv`` may be a link to a venv elsewhere; inside the sandbox only real paths are
    bound, so the link's path would not exist there. The interpreter inside the real venv
    folder (itself usually a link to the base installation, which is bound too) still
    finds ``pyvenv.cfg`` beside it and so the venv's packages.
    """
    return os.path.join(os.path.realpath(sys.prefix), "bin", os.path.basename(sys.executable))


def package_folders(name: str) -> list[tuple[str, str]]:
    """(real folder, folder as imported) pairs of an importable package, without importing it.

    Only the package's own folder: its parent may be the course repository, whose
    ``solutions/`` must stay invisible. The path the import system uses is bound too when
    it runs through a link (an editable install made from a linked checkout).
    """
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SandboxUnavailable(
            f"the package {name!r}, which the sandbox must show, is not installed"
        )
    pairs = []
    for folder in spec.submodule_search_locations:
        folder = os.path.abspath(folder)
        real = os.path.realpath(folder)
        pairs.append((real, real))
        if folder != real:
            pairs.append((real, folder))
    return pairs


def _python_paths() -> list[str]:
    """The interpreter's installation and the virtual environment, by their real paths."""
    paths = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    # The venv's python is a link to the base interpreter: bind where it really lives.
    paths.add(os.path.dirname(os.path.dirname(os.path.realpath(interpreter()))))
    return sorted(p for p in paths if not p.startswith("/usr/") and p != "/usr")
