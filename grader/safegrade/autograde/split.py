"""Test cells in one process, students' code in another.

For a separated job the grading child (the *tests* process) forks a *student* process
before any student code exists, closes every way from it back to the grader, and keeps
the only channel to the grader itself. The student process runs the answer cells and,
when a test calls :func:`safegrade.checks.student_call`, the student's function; the tests
process runs the test cells, so the expected values, the checks and the verdict live
where no student code ever ran. Whatever a student's code does to its own process (walks
the call stack with ``sys._getframe``, writes memory with ``ctypes``, patches the grader's
modules), it can only change what it hands back, and that is checked like any answer.

What crosses from the student process is data in JSON (:func:`encode`): numbers,
strings, exact containers, NumPy arrays and torch tensors rebuilt from their bytes, names
of trusted library objects (looked up again on the tests' side), and opaque handles for
everything else. Never pickle, never code. What crosses the other way is a pickle
(cloudpickle, so that a test's own helper functions travel by value), which the student
process may trust: the tests process wrote it.

Two checks of :func:`~safegrade.checks.student_call` still run beside the student's code:
which functions it called (``forbid``) and whether it changed its inputs in place
(``keep_inputs``). A student who rewrites their own process's memory can get past those,
never past a comparison of values.
"""

from __future__ import annotations

import _thread
import ast
import base64
import builtins
import io
import os
import pickle
import signal
import sys
import time
import traceback
import types
from collections import OrderedDict
from typing import Any, NoReturn

import cloudpickle
import numpy as np

from ..settings import current
from .protocol import EXIT_THREADS, ProtocolError, read_blob, read_frame, write_blob, write_frame
from .zygote import _PR_SET_DUMPABLE, _prctl

_PR_SET_PDEATHSIG = 1
#: The largest reply the tests process accepts from the student process.
REPLY_LIMIT = 256 << 20
#: How deep a reply's containers may nest, and how many values it may hold.
_DEPTH, _VALUES = 32, 1_000_000
_BUILTIN_ERRORS = {
    name: value
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, Exception)
}


_MISSING = object()


# --------------------------------------------------------------------- replies as data


def encode(value: Any, handles: dict[int, Any], known: dict[int, Any] | None = None) -> Any:
    """``value`` as JSON-ready data; objects that are not data go into ``handles``.

    known: ``id(obj) -> key`` of objects the tests process sent (they go back by key).
    """
    return _Encoder(handles, known or {}).encode(value, 0)


class _Encoder:
    def __init__(self, handles: dict[int, Any], known: dict[int, Any]) -> None:
        self.handles = handles
        self.known = known
        self.seen: dict[int, int] = {}  # id -> position, so that shared objects stay shared
        self.keep: list[Any] = []
        self.count = 0
        self.remote_models = 0

    def encode(self, value: Any, depth: int) -> Any:
        self.count += 1
        if depth > _DEPTH or self.count > _VALUES:
            raise ValueError("the value is nested too deeply or holds too many parts to hand over")
        kind = type(value)
        if kind in (type(None), bool, int, str):
            return value
        if id(value) in self.seen:
            return {"$": "again", "n": self.seen[id(value)]}
        if id(value) in self.known:
            return {"$": "sent", "key": self.known[id(value)]}
        encoded = self._plain(value, kind, depth)
        if encoded is None:
            encoded = self._object(value, kind, depth)
        if kind not in (float, complex):
            encoded["n"] = self._number(value)
        return encoded

    def _number(self, value: Any) -> int:
        if id(value) not in self.seen:
            self.seen[id(value)] = len(self.keep)
            self.keep.append(value)
        return self.seen[id(value)]

    def _plain(self, value: Any, kind: type, depth: int) -> dict[str, Any] | None:
        if kind is float:
            return {"$": "float", "v": repr(value)}
        if kind is complex:
            return {"$": "complex", "v": [repr(value.real), repr(value.imag)]}
        if kind is bytes:
            return {"$": "bytes", "b": _b64(value)}
        if kind in (tuple, list, set, frozenset):
            self._number(value)  # a container's own number comes first, for cycles
            items = [self.encode(v, depth + 1) for v in value]
            return {"$": kind.__name__, "items": items}
        if kind in (dict, OrderedDict):
            self._number(value)
            pairs = [
                [self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()
            ]
            return {"$": "dict" if kind is dict else "odict", "items": pairs}
        if kind is np.ndarray and value.dtype.kind not in "OV":
            data = np.ascontiguousarray(value).tobytes()
            return {
                "$": "ndarray",
                "dtype": value.dtype.str,
                "shape": list(value.shape),
                "b": _b64(data),
            }
        if (
            isinstance(value, np.generic)
            and kind is value.dtype.type
            and value.dtype.kind not in "OV"
        ):
            return {"$": "npscalar", "dtype": value.dtype.str, "b": _b64(value.tobytes())}
        return None

    def _object(self, value: Any, kind: type, depth: int) -> dict[str, Any]:
        torch = sys.modules.get("torch")
        if torch is not None:
            if kind in (torch.Tensor, torch.nn.Parameter) and value.layout == torch.strided:
                return _encode_tensor(value, torch, kind is torch.nn.Parameter)
            if kind is torch.Size:
                return {"$": "size", "items": [int(v) for v in value]}
            if kind is torch.dtype:
                return {"$": "ref", "module": "torch", "name": str(value).removeprefix("torch.")}
            if isinstance(value, torch.nn.Module) and _reference(kind) is not None:
                state = self._model_state(value, depth)
                if state is not None:  # rebuilt on the tests' side from its state
                    return {"$": "nnmodule", "class": _reference(kind), "state": state}
                return self._remote(value, kind, _reference(kind))
        reference = _reference(value)
        if reference is not None:
            return reference
        bases = [c for c in kind.__mro__[1:] if c.__module__ != "builtins"]
        return self._remote(
            value, kind, next((_reference(c) for c in bases if _reference(c)), None)
        )

    def _model_state(self, model: Any, depth: int) -> Any:
        """A trusted model's state, or None if a part of it is a model of the notebook's
        own class (then the whole model stays a handle: its state is not all data)."""
        mark, models = len(self.keep), self.remote_models
        self._number(model)
        state = self.encode(model.__getstate__(), depth + 1)
        if self.remote_models == models:
            return state
        for dropped in self.keep[mark:]:  # forget what was numbered inside it
            del self.seen[id(dropped)]
        del self.keep[mark:]
        return None

    def _remote(self, value: Any, kind: type, base: dict[str, Any] | None) -> dict[str, Any]:
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(value, torch.nn.Module):
            self.remote_models += 1
        key = next((k for k, v in self.handles.items() if v is value), None)
        if key is None:
            key = len(self.handles) + 1  # the table only grows, so numbers are never reused
            self.handles[key] = value
        return {
            "$": "remote",
            "id": key,
            "type": kind.__name__[:200],
            "callable": callable(value),
            "base": base,
        }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _encode_tensor(value: Any, torch: Any, parameter: bool) -> dict[str, Any]:
    flat = value.detach().cpu().contiguous().reshape(-1)
    data = flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""
    return {
        "$": "parameter" if parameter else "tensor",
        "dtype": str(value.dtype).removeprefix("torch."),
        "shape": list(value.shape),
        "requires_grad": bool(value.requires_grad),
        "b": _b64(data),
    }


def _reference(value: Any) -> dict[str, Any] | None:
    """A module, or a function or class of a trusted library, by name (else None)."""
    if isinstance(value, types.ModuleType):
        name = getattr(value, "__name__", None)
        if type(name) is str and sys.modules.get(name) is value and _trusted(name):
            return {"$": "module", "name": name}
        return None
    if not isinstance(value, types.FunctionType | types.BuiltinFunctionType | type):
        return None
    module, name = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if type(module) is not str or type(name) is not str or not _trusted(module):
        return None
    if not isinstance(value, type) and not _functions_trusted(module):
        return None
    if _lookup(module, name) is not value:
        return None
    return {"$": "ref", "module": module, "name": name}


def _trusted(module: str) -> bool:
    """Whether a reply may name a class of ``module``: builtins, math, NumPy, safegrade,
    and the libraries and course packages the course's settings name."""
    settings = current()
    roots = {"builtins", "math", "numpy", "safegrade"}
    roots |= {name.split(".")[0] for name in (*settings.libraries, *settings.trusted_modules)}
    return module.split(".")[0] in roots


def _functions_trusted(module: str) -> bool:
    """Whether a reply may name a function of ``module``: math's and the course's own
    (the packages of its trusted modules), which tests call by the names students import.
    A library's functions stay handles: none is called with what a student chose."""
    roots = {"math"} | {name.split(".")[0] for name in current().trusted_modules}
    return module.split(".")[0] in roots


def _lookup(module: str, name: str) -> Any:
    found: Any = sys.modules.get(module)
    for part in name.split("."):
        found = getattr(found, part, None) if found is not None else None
    return found


def decode(data: Any, remote: Any, sent: Any = None) -> Any:
    """The tests' side of :func:`encode`: exact types, built from data only.

    remote: ``remote(id, type_name, callable, base)`` makes the stand-in for a handle;
    sent: ``sent(key)`` gives back an object the tests process sent.
    """
    return _Decoder(remote, sent).decode(data)


class _Decoder:
    def __init__(self, remote: Any, sent: Any) -> None:
        self.remote = remote
        self.sent = sent
        self.made: dict[int, Any] = {}

    def decode(self, data: Any) -> Any:
        if data is None or type(data) in (bool, int, str):
            return data
        if type(data) is not dict or type(data.get("$")) is not str:
            raise ProtocolError("the student process sent a value in an unknown form")
        kind = data["$"]
        if kind == "again":
            if data.get("n") not in self.made:
                raise ProtocolError("the student process referred to a value it never sent")
            return self.made[data["n"]]
        if kind == "sent" and self.sent is not None:
            return self.sent(data.get("key"))
        value = self._value(kind, data)
        if type(data.get("n")) is int:
            self.made[data["n"]] = value
        return value

    def _value(self, kind: str, data: dict[str, Any]) -> Any:
        if kind == "float":
            return float(_text(data["v"]))
        if kind == "complex":
            real, imag = data["v"]
            return complex(float(_text(real)), float(_text(imag)))
        if kind == "bytes":
            return base64.b64decode(_text(data["b"]))
        if kind in ("list", "set", "dict", "odict"):
            made = {"list": list, "set": set, "dict": dict, "odict": OrderedDict}[kind]()
            if type(data.get("n")) is int:  # before its items, which may refer to it
                self.made[data["n"]] = made
            for item in _items(data):
                if kind == "list":
                    made.append(self.decode(item))
                elif kind == "set":
                    made.add(self.decode(item))
                elif type(item) is list and len(item) == 2:
                    made[self.decode(item[0])] = self.decode(item[1])
                else:
                    raise ProtocolError("the student process sent a malformed dict")
            return made
        if kind in ("tuple", "frozenset", "size"):
            items = [self.decode(v) for v in _items(data)]
            if kind == "size":
                import torch

                return torch.Size([int(v) for v in items])
            return tuple(items) if kind == "tuple" else frozenset(items)
        if kind == "ndarray":
            return _array(data).copy()
        if kind == "npscalar":
            return _array({**data, "shape": []})[()]
        if kind in ("tensor", "parameter"):
            return _tensor(data, kind == "parameter")
        if kind == "ref":
            return _named(data)
        if kind == "module":
            name = _text(data["name"])
            if not _trusted(name) or name not in sys.modules:
                raise ProtocolError(f"the student process named an unknown module {name!r}")
            return sys.modules[name]
        if kind == "nnmodule":
            return self._model(data)
        if kind == "remote":
            key = data["id"]
            if type(key) is not int:
                raise ProtocolError("a handle from the student process has no number")
            base = _named(data["base"]) if type(data.get("base")) is dict else None
            return self.remote(key, _text(data["type"]), data.get("callable") is True, base)
        raise ProtocolError(f"the student process sent a value of unknown kind {kind!r}")

    def _model(self, data: dict[str, Any]) -> Any:
        """A torch module of a trusted class, from its state (what unpickling does)."""
        import torch

        cls = _named(data["class"]) if type(data.get("class")) is dict else None
        if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
            raise ProtocolError("the student process sent a model of an unknown class")
        model = cls.__new__(cls)
        if type(data.get("n")) is int:
            self.made[data["n"]] = model
        state = self.decode(data.get("state"))
        if type(state) is not dict:
            raise ProtocolError("the student process sent a model without its state")
        model.__setstate__(state)
        return model


def _named(data: dict[str, Any]) -> Any:
    module, name = _text(data.get("module")), _text(data.get("name"))
    found = _lookup(module, name)
    if found is None or not _trusted(module) or _reference(found) is None and not _dtype(found):
        raise ProtocolError(f"the student process named an unknown {name!r}")
    return found


def _dtype(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.dtype)


def _text(value: Any) -> str:
    if type(value) is not str:
        raise ProtocolError("the student process sent a malformed value")
    return value


def _items(data: dict[str, Any]) -> list[Any]:
    items = data.get("items")
    if type(items) is not list:
        raise ProtocolError("the student process sent a malformed container")
    return items


def _shape(data: dict[str, Any]) -> tuple[int, ...]:
    shape = data.get("shape")
    if type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape):
        raise ProtocolError("the student process sent an array with a malformed shape")
    return tuple(shape)


def _array(data: dict[str, Any]) -> np.ndarray:
    try:
        dtype = np.dtype(_text(data["dtype"]))
    except TypeError:
        raise ProtocolError("the student process sent an array of unknown dtype") from None
    if dtype.kind in "OV":
        raise ProtocolError("the student process sent an array of objects")
    shape, raw = _shape(data), base64.b64decode(_text(data["b"]))
    if len(raw) != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
        raise ProtocolError("the student process sent an array whose size does not match")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def _tensor(data: dict[str, Any], parameter: bool) -> Any:
    import torch

    dtype = getattr(torch, _text(data["dtype"]), None)
    if not isinstance(dtype, torch.dtype):
        raise ProtocolError("the student process sent a tensor of unknown dtype")
    shape, raw = _shape(data), bytearray(base64.b64decode(_text(data["b"])))
    size = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
    if len(raw) != size:
        raise ProtocolError("the student process sent a tensor whose size does not match")
    flat = torch.frombuffer(raw, dtype=dtype) if size else torch.empty(0, dtype=dtype)
    tensor = flat.reshape(shape).clone()
    grad = data.get("requires_grad") is True and (dtype.is_floating_point or dtype.is_complex)
    if parameter:
        return torch.nn.Parameter(tensor, requires_grad=grad)
    return tensor.requires_grad_(True) if grad else tensor


# --------------------------------------------------------------------- the tests' side


class Remote:
    """Something of the student's that is not data (a function, a model): it stays in the
    student process, and a test can hand it back (to :func:`~safegrade.checks.student_call`),
    call it or read its attributes, each a request to that process."""

    __slots__ = ("_student", "_id", "_type", "_callable", "_base")

    def __init__(
        self, student: StudentProcess, key: int, kind: str, is_callable: bool, base: type | None
    ) -> None:
        self._student, self._id, self._type = student, key, kind
        self._callable, self._base = is_callable, base

    @property
    def __class__(self) -> type:
        # For an object of the notebook's own class derived from a library's (a model):
        # a stand-in class of the same name derived from that library class, so that
        # isinstance(handle, torch.nn.Module) holds as it does there.
        return self._base or Remote

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self._callable:
            raise TypeError(f"'{self._type}' object is not callable")
        return self._student.call(self, args, kwargs, (), None, False)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._student.getattr(self, name)

    def __repr__(self) -> str:
        return f"<{self._type} from the notebook>"


class StudentError(Exception):
    """An exception of the student's own kind, raised in the student process."""


class StudentProcess:
    """The tests process's handle on the student process: requests, one at a time.

    pid: the student process; requests_fd/replies_fd: the pipes to and from it;
    timeout_error: the exception a call that ran out of time raises here.
    """

    def __init__(self, pid: int, requests_fd: int, replies_fd: int, timeout_error: type) -> None:
        self.pid = pid
        self.requests_fd = requests_fd
        self.replies_fd = replies_fd
        self.timeout_error = timeout_error
        self.remotes: dict[int, Remote] = {}
        self.classes: dict[tuple[str, type], type] = {}
        self.sent: dict[tuple[int, int], Any] = {}  # what calls sent, which may come back

    def request(self, message: tuple) -> dict[str, Any]:
        """Send ``message`` (pickled) and read the reply; if the student process has died,
        end this one the same way, so the grader treats the cell as the one that did it."""
        buffer = io.BytesIO()
        _Pickler(buffer).dump(message)
        try:
            write_blob(self.requests_fd, buffer.getvalue())
        except OSError:  # it has gone
            self.follow_into_death(grace=5.0)
        return self._next()

    def follow_into_death(self, grace: float = 0.0) -> NoReturn:
        """End this process as the student process ended (its exit status or signal),
        waiting ``grace`` seconds for it to end; if it has not, or it broke the protocol,
        kill it and end with status 70."""
        deadline, ended = time.monotonic() + grace, 0
        while not ended and time.monotonic() < deadline:
            ended, status = os.waitpid(self.pid, os.WNOHANG)
            time.sleep(0.01)
        if not ended:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            os._exit(70)
        code = os.waitstatus_to_exitcode(status)
        if code < 0:
            if -code != signal.SIGKILL:
                signal.signal(-code, signal.SIG_DFL)
            os.kill(os.getpid(), -code)
        os._exit(code if code > 0 else 70)

    def run_cell(self, cell: dict[str, Any], count: int) -> dict[str, Any]:
        """Run an answer cell there; its ``done`` frame (outputs, restart). Anything but
        ``start``, ``done`` and ``end`` for this very cell ends both processes, so that the
        grader blames this cell (and reruns without it)."""
        index = cell["index"]
        if self.request(("cell", cell, count)).get("start") != index:
            self.follow_into_death()
        done = self._next()
        if done.get("done") != index:
            self.follow_into_death()
        if done.get("restart") is not True and self._next().get("end") is not True:
            self.follow_into_death()
        return done

    def _next(self) -> dict[str, Any]:
        try:
            return read_frame(self.replies_fd, REPLY_LIMIT)
        except (OSError, EOFError):  # it has gone
            self.follow_into_death(grace=5.0)
        except ProtocolError:
            self.follow_into_death()

    def lookup(self, names: list[str]) -> dict[str, Any]:
        """The student's globals called ``names`` that exist, as data or handles."""
        found = self.request(("lookup", names)).get("found")
        if type(found) is not dict:
            self.follow_into_death()
        return {name: self._decode(value) for name, value in found.items() if name in names}

    def getattr(self, target: Remote, name: str) -> Any:
        return self._answer(self.request(("getattr", target, name)), {})

    def call(
        self,
        fn: Any,
        args: tuple,
        kwargs: dict[str, Any],
        forbid: Any,
        replace: dict[str, Any] | None,
        keep_inputs: bool,
    ) -> Any:
        """What :func:`~safegrade.checks.student_call` does, done in the student process;
        the cell's timer is paused here and handed over, so the call has what is left."""
        shared = _shared_globals((fn, args, kwargs))
        left = signal.getitimer(signal.ITIMER_REAL)[0]
        signal.setitimer(signal.ITIMER_REAL, 0)
        started = time.monotonic()
        try:
            number = len(self.sent)
            for i, sent in enumerate(_functions((fn, args, kwargs))):
                self.sent[(number, i)] = sent
            message = ("call", fn, args, kwargs, list(forbid), replace, keep_inputs, number)
            reply = self.request((*message, sorted(shared), left))
        finally:
            if left > 0:
                signal.setitimer(signal.ITIMER_REAL, max(left - (time.monotonic() - started), 1e-3))
        return self._answer(reply, shared)

    def release(self) -> None:
        """Let the student process go (it ends itself), and wait for it."""
        try:
            write_blob(self.requests_fd, pickle.dumps(("release",)))
        except OSError:
            pass
        os.waitpid(self.pid, 0)

    def _answer(self, reply: dict[str, Any], shared: dict[str, Any]) -> Any:
        if not ("value" in reply or "error" in reply):  # not an answer: a forgery, say
            self.follow_into_death()
        if "error" in reply:
            raise self._error(reply["error"])
        synced = reply.get("shared")
        for name, value in (synced if type(synced) is dict else {}).items():
            _update(shared.get(name), self._decode(value))
        return self._decode(reply.get("value"))

    def _decode(self, data: Any) -> Any:
        return decode(data, self._remote, self._sent)

    def _remote(self, key: int, kind: str, is_callable: bool, base: Any) -> Remote:
        if key not in self.remotes:  # one stand-in per object, so `is` works as there
            shown = None
            if isinstance(base, type):  # a class of the notebook's, named as there
                shown = self.classes.setdefault((kind, base), type(kind, (base,), {}))
            self.remotes[key] = Remote(self, key, kind, is_callable, shown)
        return self.remotes[key]

    def _sent(self, key: Any) -> Any:
        if type(key) is not list or len(key) != 2 or tuple(key) not in self.sent:
            raise ProtocolError("the student process referred to something never sent")
        return self.sent[tuple(key)]

    def _error(self, error: Any) -> BaseException:
        """The student's exception, rebuilt here: a builtin kind as itself, the grader's
        own kinds as themselves, any other kind as :class:`StudentError`."""
        error = error if type(error) is dict else {}
        ename, evalue = _text(error.get("ename", "")), _text(error.get("evalue", ""))
        lines = error.get("traceback")
        from ..checks import ForbiddenCall

        kind = {"ForbiddenCall": ForbiddenCall, "CellTimeoutError": self.timeout_error}.get(ename)
        kind = kind or _BUILTIN_ERRORS.get(ename)
        try:
            raised = kind(evalue) if kind else StudentError(f"{ename}: {evalue}")
        except Exception:
            raised = StudentError(f"{ename}: {evalue}")
        if type(lines) is list and all(type(line) is str for line in lines) and lines:
            raised.add_note("Raised in the notebook's code:\n" + "".join(lines)[-8000:])
        return raised


class _Pickler(cloudpickle.Pickler):
    """cloudpickle, with the student's handles sent back by number and torch's compiled
    kernels (from :func:`~safegrade.checks.torch_kernels`) by name."""

    def persistent_id(self, obj: Any) -> Any:
        return ("remote", object.__getattribute__(obj, "_id")) if type(obj) is Remote else None

    def reducer_override(self, obj: Any) -> Any:
        from ..checks import kernel_name, torch_kernel

        found = kernel_name(obj)
        if found is not None:
            return torch_kernel, found
        return super().reducer_override(obj)


def _functions(value: Any, depth: int = 0) -> list[types.FunctionType]:
    """The Python functions in ``value`` and its containers (a few levels deep), in the
    same order on both sides (a handle to a student's function stands for it)."""
    if isinstance(value, types.FunctionType):
        return [value]
    if type(value) is Remote and object.__getattribute__(value, "_type") == "function":
        return [value]
    if depth < 3 and type(value) in (tuple, list):
        return [f for v in value for f in _functions(v, depth + 1)]
    if depth < 3 and type(value) is dict:
        return [f for v in value.values() for f in _functions(v, depth + 1)]
    return []


def _shared_globals(value: Any) -> dict[str, Any]:
    """The lists, dicts and sets that the test's own functions in ``value`` use as
    globals: they travel by value, so their final contents come back after the call."""
    shared, seen, todo = {}, set(), _functions(value)
    while todo:
        fn = todo.pop()
        if type(fn) is Remote or fn in seen or fn.__module__ not in (None, "__main__"):
            continue
        seen.add(fn)
        for name in _code_names(fn.__code__):
            found = fn.__globals__.get(name)
            if type(found) in (list, dict, set):
                shared[name] = found
            elif isinstance(found, types.FunctionType):
                todo.append(found)
    return shared


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _update(target: Any, value: Any) -> None:
    """Give a shared list, dict or set the contents it has in the student process."""
    if type(target) is list and type(value) is list:
        target[:] = value
    elif type(target) is dict and type(value) is dict:
        target.clear()
        target.update(value)
    elif type(target) is set and type(value) is set:
        target.clear()
        target.update(value)


def free_names(tree: ast.AST) -> set[str]:
    """The global names a test cell reads that it does not bind itself (nor builtins)."""
    loaded, bound = set(), set(bound_names(tree))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.Constant) and type(node.value) is str:
            if node.value.isidentifier():  # globals().get("name") reads a global too
                loaded.add(node.value)
    return loaded - bound - set(dir(builtins))


def bound_names(tree: ast.AST) -> set[str]:
    """The names a cell binds anywhere in it (assignments, definitions, imports): the
    tests' own, never looked up in the notebook."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
    return bound


def prepare() -> None:
    """Pickle a tensor and a parameter once, so that the slot names ``copyreg`` caches on
    their classes the first time are there before the checks take their snapshot (the
    checks would otherwise see torch's classes change when a test first sends a tensor)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        cloudpickle.dumps([torch.zeros(1), torch.nn.Parameter(torch.zeros(1))])


def start_student(serve: Any) -> StudentProcess:
    """Fork the student process, which runs ``serve(requests_fd, replies_fd)`` and ends;
    this process keeps the other ends and can no longer be traced or read by it."""
    requests_read, requests_write = os.pipe()
    replies_read, replies_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            os.close(requests_write)
            os.close(replies_read)
            serve(requests_read, replies_write)
        except BaseException:
            code = 70
        finally:
            os._exit(code)
    os.close(requests_read)
    os.close(replies_write)
    _prctl(_PR_SET_DUMPABLE, 0)
    from .kernel import CellTimeoutError

    return StudentProcess(pid, requests_write, replies_read, CellTimeoutError)


# --------------------------------------------------------------------- the student's side


class StudentServer:
    """Answers the tests process's requests in the student process.

    runner: the :class:`~.kernel.CellRunner` for answer cells (reporting to the tests
    process); namespace: the notebook's globals.
    """

    def __init__(self, runner: Any, namespace: dict[str, Any]) -> None:
        self.runner = runner
        self.namespace = namespace
        self.handles: dict[int, Any] = {}
        self.known: dict[int, list[int]] = {}  # id -> key of what the tests process sent
        self.kept: list[Any] = []  # ... kept alive, so that no id is reused

    def serve(self, requests_fd: int, replies_fd: int) -> None:
        while True:
            message = _Unpickler(io.BytesIO(read_blob(requests_fd, REPLY_LIMIT)), self.handles)
            request = message.load()
            if request[0] == "release":
                return
            if request[0] == "cell":
                self.runner.count = request[2]
                self.runner.run([request[1]])
                continue
            write_frame(replies_fd, self._answer(request))

    def _answer(self, request: tuple) -> dict[str, Any]:
        if request[0] == "lookup":
            found = {n: self.namespace[n] for n in request[1] if n in self.namespace}
            return {"found": {n: self._encode(v) for n, v in found.items()}}
        try:
            if request[0] == "getattr":
                return {"value": self._encode(getattr(request[1], request[2]))}
            return self._call(*request[1:])
        except BaseException as error:  # the student's to explain, in the tests process
            return {"error": _described(error)}

    def _call(self, fn, args, kwargs, forbid, replace, keep_inputs, number, shared, seconds):
        """Run the call under what is left of the cell's time; then, as after a cell, end
        this process if it left threads running (the grader reruns without the cell)."""
        from .. import checks
        from ..checks import quiet, student_call
        from .kernel import _on_alarm

        checks._DELEGATE.clear()  # here student_call calls; a delegate is the notebook's

        for i, sent in enumerate(_functions((fn, args, kwargs))):
            self.known[id(sent)] = [number, i]
            self.kept.append(sent)

        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3) if seconds > 0 else 0)
        # A test's own function that calls the notebook's (it came by value, with globals of
        # its own): the stand-ins go where the notebook's functions look, as in one process.
        elsewhere = isinstance(fn, types.FunctionType) and fn.__globals__ is not self.namespace
        saved = {k: self.namespace.get(k, _MISSING) for k in (replace or {}) if elsewhere}
        self.namespace.update({k: replace[k] for k in saved})
        try:
            if isinstance(fn, types.FunctionType):
                options = {"forbid": forbid, "replace": replace, "keep_inputs": keep_inputs}
                value = student_call(fn, *args, **options, **kwargs)
            else:  # something callable of the student's that is not a function (a model)
                with quiet():
                    value = fn(*args, **kwargs)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            for key, before in saved.items():
                if before is _MISSING:
                    self.namespace.pop(key, None)
                else:
                    self.namespace[key] = before
            _end_if_threads_left()
        synced = {}
        spaces = {id(f.__globals__): f.__globals__ for f in _functions((fn, args, kwargs))}
        for space in spaces.values():
            for name in shared:
                if space is not self.namespace and name in space:
                    synced[name] = self._encode(space[name])
        return {"value": self._encode(value), "shared": synced}

    def _encode(self, value: Any) -> Any:
        return encode(value, self.handles, self.known)


def _end_if_threads_left() -> None:
    deadline = time.monotonic() + 1.0
    while _thread._count() and time.monotonic() < deadline:
        time.sleep(0.01)
    if _thread._count():
        os._exit(EXIT_THREADS)


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, handles: dict[int, Any]) -> None:
        super().__init__(file)
        self.handles = handles

    def persistent_load(self, pid: Any) -> Any:
        return self.handles[pid[1]]


def _described(error: BaseException) -> dict[str, Any]:
    """An exception as plain text: its kind, its message and the student's frames."""
    try:
        ename = type(error).__name__
        evalue = str(error)
        lines = traceback.format_exception(type(error), error, error.__traceback__)
    except BaseException:
        ename, evalue, lines = "Exception", "an error escaped the call", []
    split_file = __file__
    lines = [line for line in lines if split_file not in line]
    return {"ename": str(ename), "evalue": str(evalue)[:4000], "traceback": lines[-60:]}
