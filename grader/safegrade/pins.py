"""Put a module's code back the moment a student's code returns, by code that cannot be hijacked.

A restore written as ordinary Python (look up a helper, call it) runs whatever the
student's code rebound in the meantime: replace ``Guard.restore`` with a function that does
nothing, or a checker's ``__code__`` with ``lambda *a: None``, and the grader itself skips the
restore. :func:`pin` takes, while no student code exists, everything :func:`heal` needs:
the modules' classes and globals, their Python classes' attributes, their functions'
code, defaults and closures, and the builtins it uses. :func:`heal` uses nothing but its
argument: no global or builtin name, only dict operations and attribute assignment. A
caller keeps the tuple :func:`pinned` returns in a local variable taken before the
student's code ran, and resets ``heal``'s own code and defaults before calling it::

    heal, code, defaults, saved = pins  # locals, taken before the student's code ran
    heal.__code__, heal.__defaults__ = code, defaults
    heal(saved)

Frames are the way around it (a student's function can walk ``f_back`` to the caller's
locals and change what is saved): see the course README's safety model.
"""

from __future__ import annotations

import types
from typing import Any

_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class defined in Python, whose attributes can change
_LAYOUT = ("__dict__", "__weakref__")  # a class's own slots for its instances: left alone


def pin(modules: list[types.ModuleType], shared: tuple[types.ModuleType, ...] = ()) -> tuple:
    """What :func:`heal` puts back in ``modules``: their class (a module's ``__class__`` can
    be reassigned), their globals, the attributes of the Python classes they define and the
    code, defaults, keyword defaults and closure contents of their functions (methods and
    wrapped originals included). Of the ``shared`` modules (such as ``builtins``, where
    IPython adds and removes helpers) only the globals are put back, and names added since
    are left."""
    shared_namespaces = [(vars(module), dict(vars(module))) for module in shared]
    kinds = [(module, type(module)) for module in modules]
    namespaces, classes, functions = [], [], []
    for module in modules:
        namespaces.append((vars(module), dict(vars(module))))
        for value in _defined_in(module):
            if isinstance(value, type) and value.__flags__ & _HEAPTYPE:
                attributes = {k: v for k, v in vars(value).items() if k not in _LAYOUT}
                classes.append((value, attributes))
            elif isinstance(value, types.FunctionType):
                cells = [(c, c.cell_contents) for c in value.__closure__ or () if _filled(c)]
                parts = (value.__code__, value.__defaults__, value.__kwdefaults__, cells)
                functions.append((value, *parts))
    tools = (_LAYOUT, type, object.__setattr__, setattr, delattr)
    return kinds, namespaces, shared_namespaces, classes, functions, tools


def pinned(
    modules: list[types.ModuleType],
    shared: tuple[types.ModuleType, ...] = (),
    name: str | None = None,
) -> tuple:
    """``(heal, its code, its defaults, pin(...))``: what a caller keeps in a local.

    name: also keep it as that global of ``modules[0]``, among the globals it puts back.
    """
    pins = (heal, heal.__code__, heal.__defaults__, pin(modules, shared))
    if name is not None:
        namespaces = pins[3][1]
        namespace, values = namespaces[0]
        namespace[name] = values[name] = pins
    return pins


def heal(saved: tuple) -> None:
    """Put back what :func:`pin` took (see the module docstring). Names added since go
    first, since testing them may run a student's ``__hash__``; then every saved value is
    put back, which compares only the saved names, all of them strings."""
    kinds, namespaces, shared, classes, functions, tools = saved
    layout, type_of, set_slot, set_attribute, delete_attribute = tools
    for module, kind in kinds:
        if type_of(module) is not kind:  # e.g. a sealed module unsealed by __class__
            set_slot(module, "__class__", kind)
    for namespace, values in namespaces:
        for key in [*namespace]:
            if key not in values:
                del namespace[key]
    for cls, values in classes:
        for key in [*cls.__dict__]:
            if key not in values and key not in layout:
                delete_attribute(cls, key)
    for namespace, values in [*shared, *namespaces]:
        for key, value in values.items():
            if namespace.get(key, values) is not value:
                namespace[key] = value
    for cls, values in classes:
        current = cls.__dict__
        for key, value in values.items():
            if current.get(key, values) is not value:
                set_attribute(cls, key, value)
    for function, code, defaults, kwdefaults, cells in functions:
        function.__code__ = code
        function.__defaults__ = defaults
        function.__kwdefaults__ = kwdefaults
        for cell, contents in cells:
            cell.cell_contents = contents


def _defined_in(module: types.ModuleType) -> list[Any]:
    """Classes and functions defined in ``module``, with their methods, properties' getters
    and setters, closures' functions and the originals behind decorators."""
    found: list[Any] = []
    seen: set[int] = set()
    pending = list(vars(module).values())
    while pending:
        value = pending.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, type) and value.__module__ == module.__name__:
            found.append(value)
            pending.extend(vars(value).values())
        elif isinstance(value, staticmethod | classmethod):
            pending.append(value.__func__)
        elif isinstance(value, property):
            pending += [value.fget, value.fset, value.fdel]
        elif isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
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
