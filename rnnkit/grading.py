"""Checks for nbgrader test cells: strict about types, quiet, and hard to fool.

Every assignment imports this module in its locked setup cell, before any answer cell
runs. At that moment it takes a snapshot of the modules the tests trust (numpy, math,
torch and rnnkit's own reference code). Each check then

1. verifies that no answer cell has patched those modules since (a student who replaces
   ``np.allclose`` or ``rnnkit.reference.rnn_step_forward`` loses the point, with a
   message saying why),
2. demands the exact type it expects (``numpy.ndarray``, ``torch.Tensor``, ``float``, ...),
   so an object that claims to equal everything is rejected before any comparison,
3. compares values with arithmetic on plain arrays, and says what differed and where.

:func:`student_call` runs a student's function on deep copies of the inputs with stdout,
stderr (Python and file descriptor 2) and warnings silenced, because nbgrader scores a
test cell zero as soon as it writes to stderr; and it fails the call if the function
reaches one of the implementations the question asks the student to write (for example
``rnnkit.reference.rnn_step_forward``), however the student got hold of it.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import sys
import tempfile
import types
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

import rnnkit.reference  # noqa: F401  (imported so that the snapshot below includes it)

# Bound now, before any student code runs, so later patches of numpy cannot reach them.
_asarray = np.asarray
_abs = np.abs
_isfinite = np.isfinite
_argmax = np.argmax
_unravel = np.unravel_index
_float64 = np.float64

_TRUSTED = ["numpy", "numpy.linalg", "math", "rnnkit.reference", "rnnkit.grading"]
_TRUSTED_TORCH = ["torch", "torch.nn", "torch.nn.functional", "torch.linalg"]
_SCALAR_TYPES = (float, int, np.float64, np.float32, np.int64, np.int32)


def _trusted_modules() -> dict[str, types.ModuleType]:
    names = _TRUSTED + (_TRUSTED_TORCH if "torch" in sys.modules else [])
    return {name: sys.modules[name] for name in names if name in sys.modules}


def _snapshot() -> dict[str, tuple[types.ModuleType, dict[str, Any]]]:
    return {name: (mod, dict(vars(mod))) for name, mod in _trusted_modules().items()}


def verify_untampered() -> None:
    """Fail if an answer cell replaced, added or deleted anything in a trusted module.

    Raises AssertionError naming the module and attribute that changed.
    """
    for name, (module, attributes) in _SNAPSHOT.items():
        if sys.modules.get(name) is not module:
            raise AssertionError(f"The module {name} was replaced; leave it as it is.")
        now = vars(module)
        for key, value in attributes.items():
            # Public names only: libraries may fill in private caches lazily.
            if not key.startswith("_") and now.get(key, _MISSING) is not value:
                raise AssertionError(
                    f"{name}.{key} was changed by code in this notebook; the tests use it, "
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
    """The code objects of functions, methods, and every function defined on a class."""
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
        code = getattr(function, "__code__", None)
        if code is not None:
            codes.add(code)
    return codes


class ForbiddenCall(AssertionError):
    """The student's function called an implementation it was asked to write itself."""


@contextlib.contextmanager
def _tripwire(forbid: Iterable[Any]) -> Iterator[list[str]]:
    """Record calls to forbidden functions, however they were reached (via sys.setprofile)."""
    codes = _code_objects(forbid)
    hits: list[str] = []

    def profiler(frame: types.FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code in codes and not hits:
            hits.append(frame.f_code.co_qualname)

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


def student_call(
    fn: Any,
    *args: Any,
    forbid: Iterable[Any] = (),
    replace: dict[str, Callable[..., Any]] | None = None,
    **kwargs: Any,
) -> Any:
    """Call a student's function safely and return its result.

    fn: the student's function; args/kwargs are deep-copied first, so the function cannot
    change the test's own inputs. forbid: functions, methods or classes the student must not
    call (the reference implementation of what the question asks for). replace: names in
    the function's module globals to swap for trusted versions during the call, so that a
    question building on an earlier one is graded on its own (e.g.
    ``replace={"rnn_step": trusted_step}``).
    """
    verify_untampered()
    if not isinstance(fn, types.FunctionType):
        raise AssertionError(f"Expected a function defined with def, got {type(fn).__name__}.")
    args, kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
    namespace = fn.__globals__
    saved = {k: namespace.get(k, _MISSING) for k in (replace or {})}
    namespace.update(replace or {})
    try:
        with quiet(), _tripwire(forbid) as hits:
            result = fn(*args, **kwargs)
    finally:
        for key, value in saved.items():
            if value is _MISSING:
                namespace.pop(key, None)
            else:
                namespace[key] = value
    if hits:
        raise ForbiddenCall(
            f"{fn.__name__} called {hits[0]}: this question asks for your own "
            "implementation, so write it with NumPy/torch operations instead."
        )
    verify_untampered()
    return result


def random_arrays(seed: int, **shapes: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Standard-normal float64 arrays for a test, one per keyword: ``name=shape``."""
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape) for name, shape in shapes.items()}


class _SealedModule(types.ModuleType):
    """This module refuses attribute assignment, so tests cannot be switched off by
    ``rnnkit.grading.check_array = ...`` in an answer cell."""

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"rnnkit.grading is read-only (tried to set {name}).")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"rnnkit.grading is read-only (tried to delete {name}).")


__all__ = [
    "ForbiddenCall",
    "check_array",
    "check_exact",
    "check_scalar",
    "check_tensor",
    "quiet",
    "random_arrays",
    "student_call",
    "verify_untampered",
]

# Last, so that the snapshot holds this module's own finished namespace.
_SNAPSHOT = _snapshot()
sys.modules[__name__].__class__ = _SealedModule
