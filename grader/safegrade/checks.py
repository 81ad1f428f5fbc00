"""Checks for nbgrader test cells: strict about types, quiet, and hard to fool.

Every assignment imports this module in its locked setup cell, before any answer cell
runs (``python -m safegrade.autograde`` imports it even earlier, before the notebook starts).
At that moment it takes a snapshot of what the tests trust: the builtins, numpy, math,
torch (``torch.Tensor``'s methods included) and the other libraries the course lists, the
course's own trusted modules (its reference code, see :mod:`safegrade.settings`) and this
module, with the code and defaults of their Python functions. Each check then

1. verifies that no answer cell has patched any of it since (a student who replaces
   ``np.allclose``, rebinds ``isinstance`` or swaps the code of a trusted reference
   function loses the point, with a message saying why),
2. demands the exact type it expects (``numpy.ndarray``, ``torch.Tensor``, ``float``, ...),
   so an object that claims to equal everything is rejected before any comparison,
3. compares values with arithmetic on plain arrays, and says what differed and where.

:func:`student_call` runs a student's function on deep copies of the inputs with stdout,
stderr (Python and file descriptor 2) and warnings silenced, because nbgrader scores a
test cell zero as soon as it writes to stderr; and it fails the call if the function
reaches one of the implementations the question asks the student to write (for example
the course's reference ``rnn_step_forward``, or torch's compiled ``gru_cell`` that
:func:`torch_kernels` lists), however the student got hold of it. It also removes any trace
function the student's code installed, which could otherwise skip the test's own lines.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import inspect
import io
import math
import os
import pkgutil
import sys
import tempfile
import types
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from . import settings as _settings
from .pins import pinned

# Bound now, before any student code runs, so later patches of numpy cannot reach them.
_asarray = np.asarray
_abs = np.abs
_isfinite = np.isfinite
_array_equal = np.array_equal
_argmax = np.argmax
_unravel = np.unravel_index
_float64 = np.float64
_modules = sys.modules  # the interpreter's own table, even if ``sys.modules`` is rebound
_vars = vars
_FunctionType = types.FunctionType
_gettrace = sys.gettrace
_settrace = sys.settrace
# numpy's public functions are C dispatchers around a Python implementation.
_Dispatcher = type(np.stack)

_SETTINGS = _settings.current()
# Modules whose every global matters (the checks' own code and the course's reference code):
# all their names are checked, private ones included, and none may be added. A package's
# name covers its submodules.
_OWN = (__name__, *_SETTINGS.trusted_modules)
_LIBRARIES = ["builtins", "numpy", "numpy.linalg", "math"]
_TORCH = ["torch", "torch.nn", "torch.nn.functional", "torch.linalg"]
_SCALAR_TYPES = (float, int, np.float64, np.float32, np.int64, np.int32)


def _is_own(name: str) -> bool:
    return any(name == own or name.startswith(own + ".") for own in _OWN)


def _import_trusted() -> None:
    """Import what the snapshot must cover, whatever the notebook imported first: the
    course's libraries (when installed) and trusted modules (packages with every submodule).
    """
    for name in _SETTINGS.libraries:
        try:
            importlib.import_module(name)
        except ImportError:  # not installed here: nothing of it can be patched either
            pass
    for name in _SETTINGS.trusted_modules:
        module = importlib.import_module(name)
        for found in pkgutil.walk_packages(getattr(module, "__path__", []), prefix=name + "."):
            importlib.import_module(found.name)


def _trusted_modules() -> dict[str, types.ModuleType]:
    names = [*_LIBRARIES, *_SETTINGS.libraries]
    if "torch" in _modules:
        names += _TORCH
    names += sorted(name for name in list(_modules) if _is_own(name))
    return {name: _modules[name] for name in dict.fromkeys(names) if name in _modules}


def _watcher(name: str) -> Callable[[str, Any], bool]:
    """Which globals of the module ``name`` the checks trust: ``watch(key, value)``."""
    if _is_own(name):
        return lambda key, value: not (key.startswith("__") and key.endswith("__"))
    if name == "builtins":  # IPython adds and removes helpers there; watch the real builtins
        return lambda key, value: isinstance(value, types.BuiltinFunctionType | type)
    return lambda key, value: not key.startswith("_")


def _implementation(value: Any) -> types.FunctionType | None:
    """The Python function that runs when ``value`` is called, if there is one."""
    if isinstance(value, _FunctionType):
        return value
    if isinstance(value, _Dispatcher) and isinstance(value._implementation, _FunctionType):
        return value._implementation
    return None


class _Namespace:
    """One trusted namespace as it was: its watched values and its functions' code."""

    def __init__(
        self, namespace: dict[str, Any], watch: Callable[[str, Any], bool], exact_keys: bool
    ) -> None:
        self.values = {k: v for k, v in namespace.items() if watch(k, v)}
        self.watch = watch
        self.exact_keys = exact_keys
        self.functions = [
            (f, f.__code__, f.__defaults__, f.__kwdefaults__)
            for f in map(_implementation, self.values.values())
            if f is not None
        ]

    def changed(self, namespace: dict[str, Any]) -> str | None:
        """The first name that differs from the snapshot, or None."""
        for key, value in self.values.items():
            if namespace.get(key, _MISSING) is not value:
                return key
        for function, code, defaults, kwdefaults in self.functions:
            if (
                function.__code__ is not code
                or function.__defaults__ is not defaults
                or function.__kwdefaults__ is not kwdefaults
            ):
                return function.__name__
        if self.exact_keys:
            for key, value in namespace.items():
                if key not in self.values and self.watch(key, value):
                    return key
        return None


def _snapshot() -> dict[str, tuple[Any, _Namespace]]:
    """Every trusted module (and torch's Python-level Tensor class) as it is now."""
    taken = {
        name: (module, _Namespace(_vars(module), _watcher(name), exact_keys=_is_own(name)))
        for name, module in _trusted_modules().items()
    }
    if "torch" in _modules:  # a Python class: its methods could be reassigned
        tensor = _modules["torch"].Tensor
        taken["torch.Tensor"] = (tensor, _Namespace(dict(_vars(tensor)), _any_key, True))
    return taken


def _any_key(key: str, value: Any) -> bool:
    return True


def verify_untampered() -> None:
    """Fail if an answer cell replaced, added or deleted anything in a trusted module.

    Trusted are builtins, numpy, math, torch (with ``torch.Tensor``'s methods) and the
    course's libraries, the course's trusted modules and this module; for their Python
    functions the code, defaults and keyword defaults are checked too. Raises AssertionError
    naming what changed.
    """
    for name, (owner, namespace) in _SNAPSHOT.items():
        if name != "torch.Tensor" and _modules.get(name) is not owner:
            raise AssertionError(f"The module {name} was replaced; leave it as it is.")
        changed = namespace.changed(_vars(owner))
        if changed is not None:
            raise AssertionError(
                f"{name}.{changed} was changed by code in this notebook; the tests use it, "
                "so put it back (restart the kernel and run the cells in order)."
            )


_MISSING = object()


def _require_type(got: Any, expected_type: type | tuple[type, ...], name: str) -> None:
    allowed = expected_type if isinstance(expected_type, tuple) else (expected_type,)
    if type(got) not in allowed:
        names = " or ".join(t.__module__ + "." + t.__qualname__ for t in allowed)
        names = names.replace("builtins.", "")
        raise AssertionError(f"{name} should be a {names}, but it is a {type(got).__name__}.")


def _compare(got: np.ndarray, expected: np.ndarray, name: str, atol: float, rtol: float) -> None:
    if got.shape != expected.shape:
        raise AssertionError(
            f"{name} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}."
        )
    if not bool(_isfinite(got).all()):
        raise AssertionError(f"{name} contains NaN or infinity.")
    error = _abs(got - expected)
    allowed = atol + rtol * _abs(expected)
    if bool((error > allowed).any()):
        where = _unravel(int(_argmax(error - allowed)), got.shape) if got.ndim else ()
        raise AssertionError(
            f"{name} is wrong: at index {tuple(int(i) for i in where)} it is "
            f"{float(got[where]):.6g}, expected {float(expected[where]):.6g} "
            f"(largest error {float(error.max()):.3g})."
        )


def check_array(
    got: Any, expected: np.ndarray, *, name: str, atol: float = 1e-8, rtol: float = 1e-6
) -> None:
    """Check a floating-point ``numpy.ndarray`` answer against the trusted value.

    got: the student's answer, any shape; expected: the trusted array of the same shape.
    Rejects any type but ``numpy.ndarray`` itself (no subclasses, lists or tensors) and
    non-float dtypes, then compares elementwise with ``|got - expected| <= atol + rtol|expected|``.
    """
    verify_untampered()
    _require_type(got, np.ndarray, name)
    if got.dtype.kind != "f":
        raise AssertionError(f"{name} should hold floats, but its dtype is {got.dtype}.")
    _compare(got.astype(_float64), _asarray(expected, dtype=_float64), name, atol, rtol)


def check_tensor(
    got: Any, expected: Any, *, name: str, atol: float = 1e-6, rtol: float = 1e-5
) -> None:
    """Check a floating-point ``torch.Tensor`` answer against the trusted tensor.

    got: the student's tensor, any shape; expected: the trusted tensor of the same shape.
    Rejects any type but ``torch.Tensor`` itself; compares on the CPU in float64.
    """
    import torch

    verify_untampered()
    _require_type(got, torch.Tensor, name)
    if not got.dtype.is_floating_point:
        raise AssertionError(f"{name} should hold floats, but its dtype is {got.dtype}.")
    got_np = got.detach().to("cpu", torch.float64).numpy()
    expected_np = expected.detach().to("cpu", torch.float64).numpy()
    _compare(got_np, expected_np, name, atol, rtol)


def check_scalar(got: Any, expected: float, *, name: str, atol: float = 1e-8) -> None:
    """Check a real number (Python or NumPy float/int, not bool) within ``atol``."""
    verify_untampered()
    _require_type(got, _SCALAR_TYPES, name)
    value = float(got)
    if not math.isfinite(value) or abs(value - float(expected)) > atol:
        raise AssertionError(f"{name} is {value:.6g}, expected {float(expected):.6g}.")


def check_exact(got: Any, expected: Any, *, name: str) -> None:
    """Check a value built from ints, strings, bools, tuples, lists and dicts exactly.

    Types are compared first, at every level, so ``(3, 4)`` is not ``[3, 4]`` and an
    object that claims to equal everything never reaches ``==``.
    """
    verify_untampered()
    _require_type(got, type(expected), name)
    if isinstance(expected, tuple | list):
        if len(got) != len(expected):
            raise AssertionError(f"{name} has {len(got)} items, expected {len(expected)}.")
        for k, (g, e) in enumerate(zip(got, expected, strict=True)):
            check_exact(g, e, name=f"{name}[{k}]")
    elif isinstance(expected, dict):
        if any(type(k) not in (str, int) for k in got) or set(got) != set(expected):
            raise AssertionError(f"{name} should have the keys {sorted(expected)}.")
        for key in expected:
            check_exact(got[key], expected[key], name=f"{name}[{key!r}]")
    elif got != expected:
        raise AssertionError(f"{name} is {got!r}, which is not right.")


def _code_objects(targets: Iterable[Any]) -> set[types.CodeType]:
    """The code objects of functions, methods, and every function defined on a class.

    A decorated function counts by the code it wraps (``__wrapped__``): one decorator's
    wrapper is shared by everything it decorates, so its code would name none of them.
    """
    codes: set[types.CodeType] = set()
    for target in targets:
        if isinstance(target, type):  # the class's own methods, not those it inherits
            codes |= _code_objects(
                v for v in vars(target).values() if callable(v) or isinstance(v, property)
            )
            continue
        function = getattr(target, "__func__", target)
        if isinstance(function, property):
            function = function.fget
        code = getattr(inspect.unwrap(function), "__code__", None)
        if code is not None:
            codes.add(code)
    return codes


class ForbiddenCall(AssertionError):
    """The student's function called an implementation it was asked to write itself."""


def torch_kernels(*names: str) -> list[Any]:
    """torch's compiled functions called ``names`` (e.g. ``"gru_cell"``), by every route.

    ``torch.gru_cell`` is the same object as ``torch._VF.gru_cell``, which ``torch.nn.GRUCell``
    calls; ``torch.ops.aten.gru_cell`` and each of its overloads wrap others of their own.
    Pass the list as ``forbid=`` to :func:`student_call`: a Python-level check of
    ``torch.nn.GRUCell`` alone misses a student who calls the kernel directly.
    """
    import torch

    kernels = []
    for name in names:
        packet = getattr(torch.ops.aten, name)
        found = [getattr(torch, name), packet._op]
        found += [getattr(packet, o)._op for o in packet.overloads()]
        _KERNEL_NAMES.update({id(k): (name, i) for i, k in enumerate(found)})
        kernels += found
    return kernels


def torch_kernel(name: str, index: int) -> Any:
    """The ``index``-th of :func:`torch_kernels` ``(name)``: how a kernel is named to
    another process (compiled functions cannot be pickled)."""
    return torch_kernels(name)[index]


def kernel_name(value: Any) -> tuple[str, int] | None:
    """``(name, index)`` if ``value`` came from :func:`torch_kernels`, else None."""
    found = _KERNEL_NAMES.get(id(value))
    return found if found is not None and torch_kernel(*found) is value else None


@contextlib.contextmanager
def _tripwire(forbid: Iterable[Any]) -> Iterator[list[str]]:
    """Record calls to forbidden functions, however they were reached (via sys.setprofile).

    Python functions, methods and classes are recognised by their code objects; compiled
    (built-in) functions by identity, when Python code calls them.
    """
    forbid = list(forbid)
    codes = _code_objects(forbid)
    compiled = {id(f): f for f in forbid if isinstance(f, types.BuiltinFunctionType)}
    hits: list[str] = []

    def profiler(frame: types.FrameType, event: str, arg: Any) -> None:
        if hits:
            return
        if event == "call" and frame.f_code in codes:
            hits.append(frame.f_code.co_qualname)
        elif event == "c_call" and id(arg) in compiled and compiled[id(arg)] is arg:
            hits.append(f"the compiled function {arg.__name__ or '(an operator overload)'}")

    previous = sys.getprofile()
    sys.setprofile(profiler)
    try:
        yield hits
    finally:
        tampered = sys.getprofile() is not profiler
        sys.setprofile(previous)
        if tampered:
            hits.append("sys.setprofile (your code switched off the checker)")


@contextlib.contextmanager
def _silenced_fd(fd: int) -> Iterator[None]:
    """Send a file descriptor to a temporary file, so C-level writes are silenced too."""
    try:
        saved = os.dup(fd)
    except OSError:  # no such descriptor (e.g. an embedded interpreter): nothing to silence
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence warnings, stdout and stderr (Python objects and file descriptor 2)."""
    sys.stderr.flush()
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        _silenced_fd(2),
    ):
        warnings.simplefilter("ignore")
        yield


def _changed_array(given: Any, now: Any, where: str) -> str | None:
    """The first place where ``now``, a deep copy of ``given`` made before a call, differs."""
    if isinstance(given, np.ndarray):
        nan_ok = given.dtype.kind in "fc"
        same = type(now) is np.ndarray and _array_equal(now, given, equal_nan=nan_ok)
        return None if same else where
    if isinstance(given, dict) and type(now) is dict and now.keys() == given.keys():
        pairs = [(given[k], now[k], f"{where}[{k!r}]") for k in given]
    elif isinstance(given, list | tuple) and type(now) is type(given) and len(now) == len(given):
        pairs = [(g, n, f"{where}[{k}]") for k, (g, n) in enumerate(zip(given, now, strict=True))]
    elif isinstance(given, dict | list | tuple):
        return where
    else:
        return None
    return next((w for w in (_changed_array(*pair) for pair in pairs) if w is not None), None)


def student_call(
    fn: Any,
    *args: Any,
    forbid: Iterable[Any] = (),
    replace: dict[str, Callable[..., Any]] | None = None,
    keep_inputs: bool = False,
    **kwargs: Any,
) -> Any:
    """Call a student's function safely and return its result.

    fn: the student's function; args/kwargs are deep-copied first, so the function cannot
    change the test's own inputs. forbid: functions, methods or classes the student must not
    call (the reference implementation of what the question asks for), and compiled
    functions such as those of :func:`torch_kernels`. replace: names in the function's module
    globals to swap for trusted versions during the call, so that a question building on an
    earlier one is graded on its own (e.g. ``replace={"rnn_step": trusted_step}``).
    keep_inputs: fail if the function changed a NumPy array it was given (in place), for
    questions that ask for new arrays.
    """
    if _DELEGATE:  # the grader runs the notebook's code in another process: call it there
        return _DELEGATE[0](fn, args, kwargs, forbid, replace, keep_inputs)
    verify_untampered()
    if not isinstance(fn, types.FunctionType):
        raise AssertionError(f"Expected a function defined with def, got {type(fn).__name__}.")
    given = dict(enumerate(args, start=1)) | kwargs
    args, kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
    namespace = fn.__globals__
    saved = {k: namespace.get(k, _MISSING) for k in (replace or {})}
    relied_on = {k: v for k, v in _relied_on(namespace).items() if k not in saved}
    namespace.update(replace or {})
    trace = _gettrace()
    heal, code, defaults, pins = _PINNED  # noqa: F821  (set by pinned() at the end)
    try:
        with quiet(), _tripwire(forbid) as hits:
            result = fn(*args, **kwargs)
    finally:
        # Whatever the function did to this module (rebound a check, swapped its code),
        # undone before the test goes on, by code it cannot have changed.
        heal.__code__, heal.__defaults__ = code, defaults
        heal(pins)
        # It was empty, or this call would have gone to the grader's student process: a
        # delegate the function added would take over every later call of the test.
        _DELEGATE.clear()
        # A trace function left behind could jump over the test's own asserts.
        _settrace(trace)
        for key, value in saved.items():
            if value is _MISSING:
                namespace.pop(key, None)
            else:
                namespace[key] = value
        rebound = _put_back(namespace, relied_on)
    if rebound:
        raise AssertionError(
            f"{fn.__name__} rebound {', '.join(rebound)} in the notebook while it ran; the "
            "tests use those names, so leave them as they are."
        )
    if hits:
        raise ForbiddenCall(
            f"{fn.__name__} called {hits[0]}: this question asks for your own "
            "implementation, so write it with NumPy/torch operations instead."
        )
    verify_untampered()
    if keep_inputs:
        for key, value in given.items():
            now = args[key - 1] if isinstance(key, int) else kwargs[key]
            where = _changed_array(value, now, f"argument {key}" if isinstance(key, int) else key)
            if where is not None:
                raise AssertionError(
                    f"{fn.__name__} changed {where} in place; leave the arrays you are given "
                    "as they are and return new ones."
                )
    return result


def _relied_on(namespace: dict[str, Any]) -> dict[str, Any]:
    """The names of a test's namespace that its checks rely on: modules, builtins and the
    checks themselves (``check_array = lambda *a, **k: None`` from inside a student's
    function would otherwise pass every later check of the cell)."""
    checks = {id(v) for k, v in _vars(_modules[__name__]).items() if not k.startswith("_")}
    return {
        key: value
        for key, value in list(namespace.items())
        if isinstance(value, types.ModuleType | types.BuiltinFunctionType) or id(value) in checks
    }


def _put_back(namespace: dict[str, Any], relied_on: dict[str, Any]) -> list[str]:
    """Rebind every name of ``relied_on`` that changed; the names that had changed."""
    rebound = [key for key, value in relied_on.items() if namespace.get(key, _MISSING) is not value]
    for key in rebound:
        namespace[key] = relied_on[key]
    return rebound


def random_arrays(seed: int, **shapes: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Standard-normal float64 arrays for a test, one per keyword: ``name=shape``."""
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape) for name, shape in shapes.items()}


class _SealedModule(types.ModuleType):
    """This module refuses attribute assignment, so tests cannot be switched off by
    ``safegrade.checks.check_array = ...`` in an answer cell."""

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"safegrade.checks is read-only (tried to set {name}).")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"safegrade.checks is read-only (tried to delete {name}).")


__all__ = [
    "ForbiddenCall",
    "check_array",
    "check_exact",
    "check_scalar",
    "check_tensor",
    "quiet",
    "random_arrays",
    "student_call",
    "torch_kernels",
    "verify_untampered",
]

_import_trusted()
if "torch" in _modules:
    # torch rebinds torch.manual_seed the first time torch._dynamo is imported, which any
    # optimiser step does: import it now, or a student's training loop looks like tampering.
    import torch._dynamo  # noqa: F401

_SNAPSHOT: dict[str, tuple[Any, _Namespace]] = {}
# id -> (name, index) of what torch_kernels returned (see torch_kernel).
_KERNEL_NAMES: dict[int, tuple[str, int]] = {}
# Where the grader's tests process puts its handle on the student process (see
# safegrade.autograde.split); empty everywhere else, where student_call calls directly.
_DELEGATE: list[Callable[..., Any]] = []
sys.modules[__name__].__class__ = _SealedModule
# What student_call puts back after a student's function returns (safegrade.pins).
pinned([sys.modules[__name__]], name="_PINNED")
# Last, so that the snapshot holds this module's own finished namespace (this dict included).
_SNAPSHOT.update(_snapshot())
