"""Put back what test cells rely on before each one runs (inside the grading child).

The zygote takes a :class:`Guard` once, before any student code exists in the process.
Before every test cell the child calls :meth:`Guard.restore`, which undoes what an
answer cell could have done to switch the tests off with ordinary Python: replacing
entries of ``sys.modules`` (``sys.modules["rnnkit.grading"] = fake``), rebinding
builtins or ``__import__``, installing import hooks, trace or profile functions, or
editing ``rnnkit.grading`` itself (its globals, its functions' code, its classes, its
snapshot of the trusted modules). Changes to numpy, torch or rnnkit's reference code are
left in place on purpose: the checks in ``rnnkit.grading`` detect them and fail, so a
student who patched them loses the points instead of having the patch quietly undone.

Some interpreter-wide settings are reset for fairness, not safety: warning filters, NumPy's
floating-point error mode, the recursion limit and the working directory, so that an answer
which, say, turned warnings into errors does not break the test code that follows it.
"""

from __future__ import annotations

import builtins
import os
import sys
import types
import warnings
from typing import Any

import numpy as np

_settrace = sys.settrace
_setprofile = sys.setprofile
_setrecursionlimit = sys.setrecursionlimit
_chdir = os.chdir
_seterr = np.seterr
_FunctionType = types.FunctionType


class _FunctionState:
    """A Python function's replaceable parts: code, defaults and closure contents."""

    def __init__(self, function: types.FunctionType) -> None:
        self.function = function
        self.code = function.__code__
        self.defaults = function.__defaults__
        self.kwdefaults = function.__kwdefaults__
        self.cells = [cell.cell_contents for cell in function.__closure__ or ()]

    def restore(self) -> None:
        f = self.function
        f.__code__, f.__defaults__, f.__kwdefaults__ = self.code, self.defaults, self.kwdefaults
        for cell, contents in zip(f.__closure__ or (), self.cells, strict=True):
            cell.cell_contents = contents


def _functions_of(module: types.ModuleType) -> list[types.FunctionType]:
    """Functions defined in ``module``: globals, class methods and wrapped originals."""
    found: list[types.FunctionType] = []
    pending = list(vars(module).values())
    for value in pending:
        if isinstance(value, type) and value.__module__ == module.__name__:
            pending.extend(vars(value).values())
        elif isinstance(value, _FunctionType) and value not in found:
            found.append(value)
            pending.extend(c.cell_contents for c in value.__closure__ or () if _filled(c))
            pending.append(getattr(value, "__wrapped__", None))
    return found


def _filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018  (an empty cell raises on access)
    except ValueError:
        return False
    return True


class Guard:
    """The interpreter state test cells depend on, as it was in the zygote.

    grading: the imported ``rnnkit.grading`` module; workdir: the child's working directory.
    """

    def __init__(self, grading: types.ModuleType, workdir: str) -> None:
        self.workdir = workdir
        self.modules = dict(sys.modules)
        self.modules_table = sys.modules
        self.builtins = dict(vars(builtins))
        self.path = list(sys.path)
        self.meta_path = list(sys.meta_path)
        self.path_hooks = list(sys.path_hooks)
        self.importer_cache = dict(sys.path_importer_cache)
        self.hooks = {name: getattr(sys, name) for name in ("excepthook", "unraisablehook")}
        self.warning_filters = list(warnings.filters)
        self.showwarning = warnings.showwarning
        self.numpy_errors = np.geterr()
        self.recursion_limit = sys.getrecursionlimit()
        self.grading = grading
        self.grading_type = type(grading)
        self.grading_globals = dict(vars(grading))
        self.grading_snapshot = dict(grading._SNAPSHOT)
        self.namespaces = [
            (namespace, dict(vars(namespace)), dict(namespace.values), list(namespace.functions))
            for _, namespace in grading._SNAPSHOT.values()
        ]
        self.grading_classes = {
            cls: dict(vars(cls))
            for cls in vars(grading).values()
            if isinstance(cls, type) and cls.__module__ == grading.__name__
        }
        self.functions = [_FunctionState(f) for f in _functions_of(grading)]

    def restore(self) -> None:
        """Undo every change to the state listed in the module docstring."""
        _settrace(None)
        _setprofile(None)
        self._restore_imports()
        _restore_dict(vars(builtins), self.builtins, remove_extra=False)
        for name, hook in self.hooks.items():
            setattr(sys, name, hook)
        self._restore_grading()
        warnings.filters[:] = self.warning_filters
        warnings.showwarning = self.showwarning
        _seterr(**self.numpy_errors)
        _setrecursionlimit(self.recursion_limit)
        _chdir(self.workdir)

    def _restore_imports(self) -> None:
        sys.modules = self.modules_table
        _restore_dict(self.modules_table, self.modules, remove_extra=False)
        sys.path[:] = self.path
        sys.meta_path[:] = self.meta_path
        sys.path_hooks[:] = self.path_hooks
        _restore_dict(sys.path_importer_cache, self.importer_cache, remove_extra=True)

    def _restore_grading(self) -> None:
        if type(self.grading) is not self.grading_type:  # unsealed by __class__ assignment
            object.__setattr__(self.grading, "__class__", self.grading_type)
        _restore_dict(vars(self.grading), self.grading_globals, remove_extra=True)
        snapshot = self.grading._SNAPSHOT
        snapshot.clear()
        snapshot.update(self.grading_snapshot)
        for namespace, attributes, values, functions in self.namespaces:
            vars(namespace).clear()
            vars(namespace).update(attributes)
            namespace.values, namespace.functions = dict(values), list(functions)
        for cls, attributes in self.grading_classes.items():
            for key in set(vars(cls)) - set(attributes):
                delattr(cls, key)
            for key, value in attributes.items():
                if key not in ("__dict__", "__weakref__") and vars(cls).get(key) is not value:
                    setattr(cls, key, value)
        for function in self.functions:
            function.restore()


def _restore_dict(target: dict[str, Any], saved: dict[str, Any], remove_extra: bool) -> None:
    """Make ``target`` hold ``saved``'s entries again (and only those, if ``remove_extra``)."""
    if remove_extra:
        for key in [k for k in target if k not in saved and not k.startswith("__")]:
            del target[key]
    for key, value in saved.items():
        if target.get(key, _MISSING) is not value:
            target[key] = value


_MISSING = object()
