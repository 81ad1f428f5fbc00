"""Put back what test cells, and the grader itself, rely on (inside the grading child).

The zygote takes a :class:`Guard` once, before any student code exists in the process.
Before every test cell the child calls :meth:`Guard.restore`, which undoes what an
answer cell could have done to switch the tests off with ordinary Python: replacing
entries of ``sys.modules`` (``sys.modules["safegrade.checks"] = fake``), rebinding
builtins or ``__import__``, installing import hooks, trace or profile functions, or
editing ``safegrade.checks`` itself (its globals, its functions' code, its classes, its
snapshot of the trusted modules). Changes to numpy, torch or the course's trusted code are
left in place on purpose: the checks in ``safegrade.checks`` detect them and fail, so a
student who patched them loses the points instead of having the patch quietly undone.

After every cell, :meth:`Guard.restore_runner` puts back the builtins and the modules the
grader's own code runs on (its cell runner, ``json``, ``traceback`` and a few more), so that
what a cell patched cannot change how its outputs are recorded and reported.

Some settings are reset before test cells for fairness, not safety: warning filters,
NumPy's floating-point error mode and the working directory, so that an answer which, say,
turned warnings into errors does not break the test code that follows it.
"""

from __future__ import annotations

import builtins
import importlib
import os
import sys
import types
import warnings
from typing import Any

import numpy as np

from ..pins import pinned

_settrace = sys.settrace
_setprofile = sys.setprofile
_chdir = os.chdir
_seterr = np.seterr

# Modules the grader's own code uses after a student's cell has run.
RUNNER_MODULES = [
    "safegrade.autograde.kernel",
    "safegrade.autograde.containment",
    "safegrade.autograde.guard",
    "safegrade.autograde.protocol",
    "json",
    "json.encoder",
    "json.decoder",
    "json.scanner",
    "traceback",
    "linecache",
    "ast",
    "contextlib",
    "signal",
    "IPython.core.inputtransformer2",
]


class Guard:
    """The interpreter state test cells and the grader depend on, as it was in the zygote.

    grading: the imported ``safegrade.checks`` module; workdir: the working directory to
    restore (the child sets its own).
    """

    def __init__(self, grading: types.ModuleType, workdir: str) -> None:
        self.workdir = workdir
        self.modules = dict(sys.modules)
        self.modules_table = sys.modules
        self.path = list(sys.path)
        self.meta_path = list(sys.meta_path)
        self.path_hooks = list(sys.path_hooks)
        self.importer_cache = dict(sys.path_importer_cache)
        self.hooks = {name: getattr(sys, name) for name in ("excepthook", "unraisablehook")}
        self.warning_filters = list(warnings.filters)
        self.showwarning = warnings.showwarning
        self.numpy_errors = np.geterr()
        self.grading = grading
        self.grading_pins = pinned([grading])
        self.grading_snapshot = dict(grading._SNAPSHOT)
        # What safegrade.checks.student_call hands calls to: the grader's handle on the
        # student process, for separated jobs (set there); nothing a notebook put there.
        self.delegates: list[Any] = []
        self.namespaces = [
            (namespace, dict(vars(namespace)), dict(namespace.values), list(namespace.functions))
            for _, namespace in grading._SNAPSHOT.values()
        ]
        runner_modules = [importlib.import_module(name) for name in RUNNER_MODULES]
        self.runner = pinned(runner_modules, shared=(builtins,))

    def restore_runner(self) -> None:
        """Builtins and the grader's own modules, as they were (after every cell). The
        cell runner also heals them itself, from ``runner`` kept in a local, before it
        relies on them (see :mod:`safegrade.pins`)."""
        heal, code, defaults, saved = self.runner
        heal.__code__, heal.__defaults__ = code, defaults
        heal(saved)

    def restore(self) -> None:
        """Everything listed in the module docstring (before every test cell)."""
        _settrace(None)
        _setprofile(None)
        self.restore_runner()
        self._restore_imports()
        for name, hook in self.hooks.items():
            setattr(sys, name, hook)
        self._restore_grading()
        warnings.filters[:] = self.warning_filters
        warnings.showwarning = self.showwarning
        _seterr(**self.numpy_errors)
        _chdir(self.workdir)

    def _restore_imports(self) -> None:
        sys.modules = self.modules_table
        _restore_dict(self.modules_table, self.modules, remove_extra=False)
        sys.path[:] = self.path
        sys.meta_path[:] = self.meta_path
        sys.path_hooks[:] = self.path_hooks
        _restore_dict(sys.path_importer_cache, self.importer_cache, remove_extra=True)

    def _restore_grading(self) -> None:
        heal, code, defaults, saved = self.grading_pins
        heal.__code__, heal.__defaults__ = code, defaults
        heal(saved)
        self.grading._DELEGATE[:] = self.delegates
        snapshot = self.grading._SNAPSHOT
        snapshot.clear()
        snapshot.update(self.grading_snapshot)
        for namespace, attributes, values, functions in self.namespaces:
            vars(namespace).clear()
            vars(namespace).update(attributes)
            namespace.values, namespace.functions = dict(values), list(functions)


def _restore_dict(target: dict[str, Any], saved: dict[str, Any], remove_extra: bool) -> None:
    """Make ``target`` hold ``saved``'s entries again (and only those, if ``remove_extra``)."""
    if remove_extra:
        for key in [k for k in target if k not in saved and not k.startswith("__")]:
            del target[key]
    for key, value in saved.items():
        if target.get(key, _MISSING) is not value:
            target[key] = value


_MISSING = object()
