"""A corpus of hostile submissions, generated from an assignment's own solution.

Every case is the solution (or the released notebook) with one kind of misbehaviour
added, and comes with the score each test cell must get. Nothing here knows a particular
assignment: answers, the names they define, and which tests forbid which reference
implementations are all read from the notebooks, so the corpus grows with the course.
"""

from __future__ import annotations

import ast
import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import nbformat
from course import Answer, autograded_answers, nbgrader_cells

# Every kind of output at once, on one line so it can open any function body.
NOISE = (
    'print("working on it"); __import__("sys").stderr.write("a note on stderr\\n"); '
    '__import__("warnings").warn("a harmless warning"); '
    '__import__("os").write(2, b"C-level stderr\\n")'
)

# A decorator around every answer function that prints, warns (as a deprecation helper
# would, pointing at its caller) and shows a tqdm bar each time the function is called.
NOISY_DECORATOR = textwrap.dedent(
    """
    import functools as _functools
    import warnings as _warnings
    from tqdm.auto import tqdm as _tqdm
    def _noisy(function):
        @_functools.wraps(function)
        def wrapper(*args, **kwargs):
            print("calling", function.__name__)
            _warnings.warn(f"{function.__name__} is noisy", UserWarning, stacklevel=2)
            _warnings.warn("and deprecated", DeprecationWarning, stacklevel=2)
            for _ in _tqdm(range(3), desc=function.__name__):
                pass
            return function(*args, **kwargs)
        return wrapper
    """
)

# Forks until the process cap stops it, at most 200 times; each child exits at once, so
# even without a cap this costs the machine nothing.
FORK_BOMB = textwrap.dedent(
    """
    import os as _os
    for _ in range(200):
        try:
            if _os.fork() == 0:
                _os._exit(0)
        except OSError:  # the cap: no more processes for this user
            break
    """
)

# A thread that burns CPU for as long as the process lives, beside the cells.
SPINNER = textwrap.dedent(
    """
    import threading as _threading
    def _spin():
        while True:
            pass
    _threading.Thread(target=_spin, daemon=True).start()
    """
)

# A thread that keeps switching off the grader's error recording, so that whenever a test
# cell fails the failure is dropped, however often the grader puts the recorder back.
THREAD_RACE = textwrap.dedent(
    """
    import sys as _sys, threading as _threading, time as _time
    def _swallow():
        _recorder = _sys.modules["safegrade.autograde.kernel"].Recorder
        while True:
            _recorder.error = lambda *args, **kwargs: None
            _time.sleep(0.0005)
    _threading.Thread(target=_swallow, daemon=True).start()
    """
)

# The grader's own code patched with plain Python, no introspection needed: between cells
# (the guard's restore switched off, error recording and the checks gutted) and from inside
# the answers while a test calls them (the shell's recorder, the checks again).
PATCH_RUNNER = textwrap.dedent(
    """
    import sys as _sys
    _noop = lambda *args, **kwargs: None
    def _sabotage():
        _kernel = _sys.modules["safegrade.autograde.kernel"]
        _guard = _sys.modules["safegrade.autograde.guard"].Guard
        _guard.restore = _guard.restore_runner = _noop
        _kernel.Recorder.error = _noop
        _checks = _sys.modules["safegrade.checks"]
        for _name in ("verify_untampered", "check_array", "check_tensor", "check_scalar",
                      "check_exact"):
            getattr(_checks, _name).__code__ = _noop.__code__
        try:
            get_ipython().recorder.error = _noop
        except AttributeError:
            pass
    def _sabotaging(function):
        def wrapper(*args, **kwargs):
            _sabotage()
            return function(*args, **kwargs)
        return wrapper
    _sabotage()
    """
)

# Finds the grader's cell runner among all objects and makes it drop every error output
# from what it reports, so every failing test would pass.
GC_REWRITE = textwrap.dedent(
    """
    import gc as _gc
    for _o in _gc.get_objects():
        if type(_o).__name__ == "CellRunner":
            def _clean(frame, _send=_o._send):
                if isinstance(frame.get("outputs"), list):
                    frame["outputs"] = [
                        x for x in frame["outputs"] if x.get("output_type") != "error"
                    ]
                return _send(frame)
            _o._send = _clean
    """
)

# A student who trains a little model before answering: torch's first optimiser step
# imports torch._dynamo, which rebinds torch.manual_seed; that is torch, not tampering.
TRAIN = textwrap.dedent(
    """
    import torch
    _w = torch.zeros(3, requires_grad=True)
    _opt = torch.optim.Adam([_w], lr=0.1)
    (_w - 1.0).pow(2).sum().backward()
    _opt.step()
    """
)

# An object that claims to equal, and to be close to, everything.
LIAR = textwrap.dedent(
    """
    class _Liar(float):
        def __eq__(self, other): return True
        def __ne__(self, other): return False
        __lt__ = __le__ = __gt__ = __ge__ = __eq__
        def __hash__(self): return 0
        def __bool__(self): return True
        def __abs__(self): return 0.0
        def __sub__(self, other): return self
        __rsub__ = __add__ = __radd__ = __mul__ = __rmul__ = __matmul__ = __sub__
        def __getitem__(self, key): return self
        def __iter__(self): return iter([self, self])
        def __len__(self): return 2
        def __getattr__(self, name): return self
        def __call__(self, *args, **kwargs): return self
        def __array__(self, *args, **kwargs):
            import numpy
            return numpy.zeros(0)
    _LIAR = _Liar(0.5)
    """
)

PATCH_LIBRARIES = textwrap.dedent(
    """
    import builtins, math
    import numpy as np
    import torch
    _yes = lambda *args, **kwargs: True
    np.allclose = np.array_equal = np.array_equiv = math.isclose = _yes
    np.isclose = lambda *args, **kwargs: np.ones(1, dtype=bool)
    np.testing.assert_allclose = np.testing.assert_array_equal = lambda *a, **k: None
    torch.allclose = torch.equal = _yes
    torch.Tensor.__eq__ = lambda self, other: torch.ones((), dtype=torch.bool)
    builtins.isinstance = _yes
    """
)

PATCH_GRADER = textwrap.dedent(
    """
    import sys, types, builtins
    import safegrade.checks, rnnkit.reference
    _noop = lambda *args, **kwargs: None
    _g = safegrade.checks
    for _name in ("check_array", "check_tensor", "check_scalar", "check_exact"):
        getattr(_g, _name).__code__ = _noop.__code__
    vars(_g)["verify_untampered"] = _noop
    vars(_g)["student_call"] = lambda fn, *args, **kwargs: fn(*args, **kwargs)
    for _f in vars(rnnkit.reference).values():
        if isinstance(_f, types.FunctionType):
            _f.__code__ = (lambda *args, **kwargs: (_LIAR, _LIAR)).__code__
    _fake = types.ModuleType("safegrade.checks")
    for _name in dir(_g):
        setattr(_fake, _name, _noop)
    sys.modules["safegrade.checks"] = _fake
    _real_import = builtins.__import__
    def _import(name, *args, **kwargs):
        return _fake if name == "safegrade.checks" else _real_import(name, *args, **kwargs)
    builtins.__import__ = _import
    _shell = get_ipython()
    _shell.showtraceback = _noop
    _shell.input_transformers_post.append(lambda lines: ["pass\\n"])
    sys.excepthook = _noop
    sys.stderr = open("/dev/null", "w")
    """
)

# A student function that, when a test calls it, skips the test's remaining lines. One
# jump per cell is all that takes; more would loop a cell that is not a test forever (called
# inside `for` on the cell's last line, the jump skips the loop's step and runs that line
# again) until the cell's time limit. Only the cell is traced: tracing every frame would
# slow the rest of the notebook for nothing.
SKIPPER = textwrap.dedent(
    """
    _SKIPPED = []
    def _skip_the_rest(*args, **kwargs):
        import sys
        frame = sys._getframe(1)
        while frame is not None and not frame.f_code.co_filename.startswith("<"):
            frame = frame.f_back
        def tracer(frame_, event, arg):
            if frame_ is not frame:
                return None
            if event == "line" and not any(code is frame.f_code for code in _SKIPPED):
                _SKIPPED.append(frame.f_code)
                frame_.f_lineno = max(line or 0 for _, _, line in frame_.f_code.co_lines())
            return tracer
        if frame is not None:
            frame.f_trace = tracer
            sys.settrace(tracer)
        return _LIAR
    """
)

REBIND = textwrap.dedent(
    """
    def _accept(*args, **kwargs):
        return args[0] if args else None
    check_array = check_tensor = check_scalar = check_exact = verify_untampered = _accept
    student_call = lambda fn, *args, **kwargs: fn(*args, **kwargs)
    isinstance = lambda *args: True
    AssertionError = type("AssertionError", (Exception,), {})
    """
)

# Results in the grader's own wire format, claiming every cell passed, then a quiet exit.
FORGE = textwrap.dedent(
    """
    import json, os, struct
    def _frame(message):
        body = json.dumps(message).encode()
        return struct.pack(">I", len(body)) + body
    _lies = b"".join(
        _frame({"start": i})
        + _frame({"done": i, "execution_count": i, "outputs": [], "restart": False})
        for i in range(200)
    ) + _frame({"end": True})
    for _fd in map(int, os.listdir("/proc/self/fd")):
        try:
            os.write(_fd, _lies)
        except OSError:
            pass
    os._exit(0)
    """
)

# A decorator that, whenever the answer is called, walks the call stack from its own frame
# to the grader's cell runner, and with the runner's pipe and token reports every cell as
# passed, then exits. ``_current_frame`` is sys._getframe here; CTYPES_FRAMES swaps in the
# C API's, which no audit hook sees.
FRAME_FORGERY = textwrap.dedent(
    """
    import json as _json, os as _os, struct as _struct, sys as _sys
    def _current_frame():
        return _sys._getframe(1)
    def _wire(message, token):
        body = _json.dumps({**message, "token": token}).encode()
        return _struct.pack(">I", len(body)) + body
    def _forge_from(frame):
        while frame is not None:
            runner = frame.f_locals.get("self")
            if hasattr(runner, "results_fd") and hasattr(runner, "token"):
                lies = b""
                for i in range(200):
                    done = {"done": i, "execution_count": i, "outputs": [], "restart": False}
                    lies += _wire({"start": i}, runner.token) + _wire(done, runner.token)
                _os.write(runner.results_fd, lies + _wire({"end": True}, runner.token))
                _os._exit(0)
            frame = frame.f_back
    def _forging(function):
        def forged(*args, **kwargs):
            _forge_from(_current_frame())
            return function(*args, **kwargs)
        return forged
    """
)
CTYPES_FRAMES = FRAME_FORGERY + textwrap.dedent(
    """
    import ctypes as _ctypes
    def _current_frame():
        get = _ctypes.pythonapi.PyEval_GetFrame
        get.restype = _ctypes.c_void_p
        return _ctypes.cast(get(), _ctypes.py_object).value
    """
)

# Calls ``function`` with as many of ``args`` as it takes (padded with the first), so that
# Python enters it: a call with the wrong number of arguments fails before it starts.
POKE = textwrap.dedent(
    """
    def _poke(function, args):
        import inspect
        try:
            parameters = list(inspect.signature(function).parameters.values())
            positional = [p for p in parameters if p.kind <= p.POSITIONAL_OR_KEYWORD]
            takes_any = any(p.kind == p.VAR_POSITIONAL for p in parameters)
            count = max(len(args), len(positional)) if takes_any else len(positional)
        except (TypeError, ValueError):
            count = len(args)
        padded = (list(args) + [args[0] if args else None] * count)[:count]
        try:
            function(*padded)
        except BaseException:
            pass
    """
)


@dataclass(frozen=True)
class Case:
    """One hostile submission. notebook: the file's bytes; expected: points per test."""

    name: str
    notebook: bytes
    expected: dict[str, float]
    what: str


def _bytes(nb: nbformat.NotebookNode) -> bytes:
    return nbformat.writes(nb).encode()


def _names_defined(source: str) -> tuple[list[str], list[str]]:
    """(functions, other names) an answer cell binds at top level."""
    functions, values = [], []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            functions.append(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                values += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    return functions, [v for v in dict.fromkeys(values) if v not in functions]


def _noisy_functions(source: str) -> str:
    """Insert NOISE as the first statement of every function defined in ``source``."""
    lines = source.splitlines()
    inserts = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        body = node.body
        if _is_docstring(body[0]) and len(body) == 1:
            line, indent = body[0].end_lineno, body[0].col_offset  # after the docstring
        else:
            first = body[1] if _is_docstring(body[0]) else body[0]
            line, indent = first.lineno - 1, first.col_offset  # before the first statement
        if body[0].lineno > node.lineno:  # not a one-line def
            inserts.append((line, " " * indent + NOISE))
    for line, text in sorted(inserts, reverse=True):
        lines.insert(line, text)
    return "\n".join(lines)


def _decorated(source: str, decorator: str) -> str:
    """Put ``@decorator`` above every top-level function defined in ``source``."""
    lines = source.splitlines()
    tops = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
    for node in sorted(tops, key=lambda n: n.lineno, reverse=True):
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        lines.insert(first - 1, f"@{decorator}")
    return "\n".join(lines)


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)


def _forbidding_calls(test_source: str) -> dict[str, list[str]]:
    """Function name -> forbid expressions, for each ``student_call(fn, ..., forbid=...)``.

    A forbid list that a helper of the test cell takes as a parameter is read from the
    helper's calls (``def _check(..., forbid): student_call(fn, ..., forbid=forbid)`` called
    as ``_check(..., forbid=_FORBID)``): the parameter names nothing where the answer runs.
    """
    tree = ast.parse(test_source)
    helpers = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    enclosing: dict[ast.AST, ast.FunctionDef] = {}
    # ast.walk is breadth-first: an inner helper comes after its outer one and claims its nodes
    for helper in helpers.values():
        for node in ast.walk(helper):
            if node is not helper:
                enclosing[node] = helper

    def resolve(expression: ast.expr, where: ast.AST, depth: int = 0) -> list[ast.expr]:
        helper = enclosing.get(where)
        if depth > 5 or not isinstance(expression, ast.Name) or helper is None:
            return [expression]
        arguments = helper.args
        positional = [a.arg for a in arguments.posonlyargs + arguments.args]
        if expression.id not in positional + [a.arg for a in arguments.kwonlyargs]:
            return [expression]
        passed: list[ast.expr] = []
        for call in ast.walk(tree):
            if not (isinstance(call, ast.Call) and getattr(call.func, "id", "") == helper.name):
                continue
            given = [k.value for k in call.keywords if k.arg == expression.id]
            if not given and expression.id in positional:
                index = positional.index(expression.id)
                given = call.args[index : index + 1]
            for value in given:
                passed += resolve(value, call, depth + 1)
        return passed or [expression]

    found: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "student_call"):
            continue
        forbid = [k.value for k in node.keywords if k.arg == "forbid"]
        if node.args and isinstance(node.args[0], ast.Name) and forbid:
            expressions = [ast.unparse(e) for e in resolve(forbid[0], node)]
            found.setdefault(node.args[0].id, []).extend(expressions)
    return found


def _forbid_setup(test_source: str, expressions: list[str]) -> list[str]:
    """The test cell's top-level statements that the forbid ``expressions`` need: its
    imports, and its assignments to the names they read (``_FORBID = [...]``, ``+=``).

    The answer runs them itself: where the grader runs test cells in a process of their own,
    nothing a test cell defines is in the notebook's namespace, but a student can import
    the same things."""

    def names(nodes: list[ast.AST]) -> set[str]:
        return {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name)}

    needed = names([ast.parse(e) for e in expressions])
    kept = []
    for node in reversed(ast.parse(test_source).body):  # last first: what an assignment reads
        if isinstance(node, ast.Import | ast.ImportFrom | ast.Try | ast.If):
            kept.append(node)
        elif isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if names(targets) & needed:
                kept.append(node)
                needed |= names([node.value])
    return [ast.unparse(node) for node in reversed(kept)]


def _calls_reference(name: str, expressions: list[str], setup: list[str]) -> str:
    """Wrap ``name`` so that it calls what the tests forbid, then answers correctly.

    setup: statements (from the test cell) that define what the expressions name."""
    return POKE + textwrap.dedent(
        f"""
        _honest_{name} = {name}
        def {name}(*args, **kwargs):
            _scope = dict(globals())
            for _statement in {setup!r}:
                try:
                    exec(_statement, _scope)
                except Exception:
                    pass
            for _expression in {sorted(set(expressions))!r}:
                try:
                    _forbidden = eval(_expression, _scope)
                except Exception:
                    continue
                if not isinstance(_forbidden, (list, tuple, set)):
                    _forbidden = [_forbidden]
                for _f in _forbidden:
                    _poke(_f, args)
            return _honest_{name}(*args, **kwargs)
        """
    )


# Where each case is graded (tests/test_hostile.py's table says why): on every assignment,
# in the assignment's one autograde batch, the cases whose outcome depends on that
# assignment's own answers and test cells; on one assignment, the cases about the sandbox
# and the grader, whose defences do not depend on what the notebook asks.
PER_ASSIGNMENT_CASES = [
    "solution",
    "released",
    "noisy",
    "always_equal",
    "patched_libraries",
    "rebound_names",
    "trace_skip",
    "calls_reference",
]
SANDBOX_CASES = [
    "patched_grader",
    "fork_bomb",
    "cpu_spinner",
    "thread_race",
    "gc_rewrite",
    "patched_runner",
    "frame_forgery",
    "ctypes_frames",
    "deleted_tests",
    "edited_tests",
    "dead_kernel",
    "system_exit",
    "memory_bomb",
    "forged_results",
    "huge_output",
    "malformed",
    "not_a_notebook",
]
SLOW_CASES = ["endless_loop", "stubborn_loop"]  # they wait for a (short) cell time limit


class Corpus:
    """Builds the cases for one assignment from its solution and released notebooks."""

    NAMES = PER_ASSIGNMENT_CASES + SANDBOX_CASES + SLOW_CASES

    def __init__(self, solution: nbformat.NotebookNode, released: nbformat.NotebookNode) -> None:
        self.solution = solution
        self.released = released
        self.answers: list[Answer] = autograded_answers(solution)
        self.cells = nbgrader_cells(solution)
        self.full = {a.test_id: a.points for a in self.answers}
        self.zero = {a.test_id: 0.0 for a in self.answers}

    def _with(self, edit: Callable[[nbformat.NotebookNode], None]) -> nbformat.NotebookNode:
        nb = nbformat.reads(nbformat.writes(self.solution), as_version=4)
        edit(nb)
        return nb

    def _answers_edited(self, change: Callable[[str], str]) -> bytes:
        def edit(nb):
            cells = nbgrader_cells(nb)
            for answer in self.answers:
                cells[answer.answer_id].source = change(cells[answer.answer_id].source)

        return _bytes(self._with(edit))

    def _lose(self, answer: Answer) -> dict[str, float]:
        return {**self.full, answer.test_id: 0.0}

    def _prepend(self, answer: Answer, code: str) -> bytes:
        def edit(nb):
            cell = nbgrader_cells(nb)[answer.answer_id]
            cell.source = code + "\n" + cell.source

        return _bytes(self._with(edit))

    def _liars(self, source: str) -> str:
        functions, values = _names_defined(source)
        rebind = [f"def {f}(*args, **kwargs):\n    return _LIAR" for f in functions]
        rebind += [f"{v} = _LIAR" for v in values]
        return source + "\n" + LIAR + "\n".join(rebind)

    def build(self, names: list[str]) -> dict[str, Case | Exception]:
        """The named cases; a case that cannot be built is its exception, not a failure of all."""
        built: dict[str, Case | Exception] = {}
        for name in names:
            try:
                built[name] = getattr(self, f"_case_{name}")()
            except Exception as error:  # noqa: BLE001  (reported by that case's test alone)
                built[name] = error
        return built

    # Cases about the assignment's own tests (graded on every assignment).

    def _case_solution(self) -> Case:
        return Case("solution", _bytes(self.solution), self.full, "the solution itself")

    def _case_released(self) -> Case:
        return Case("released", _bytes(self.released), self.zero, "the notebook as released")

    def _case_noisy(self) -> Case:
        first = self.answers[0].answer_id

        def noisy(source: str) -> str:
            return NOISY_DECORATOR + _decorated(NOISE + "\n" + _noisy_functions(source), "_noisy")

        def edit(nb):
            for answer_id, cell in nbgrader_cells(nb).items():
                if answer_id in {a.answer_id for a in self.answers}:
                    cell.source = (TRAIN if answer_id == first else "") + noisy(cell.source)

        return Case(
            "noisy",
            _bytes(self._with(edit)),
            self.full,
            "correct answers that print, warn and write to stderr (Python and fd 2) when "
            "defined and when called, each behind a decorator that prints, warns (pointing "
            "at its caller) and shows a tqdm bar; the first answer takes an optimiser step "
            "first (torch rebinds some of its names on the first step)",
        )

    def _case_always_equal(self) -> Case:
        return Case(
            "always_equal",
            self._answers_edited(self._liars),
            self.zero,
            "every answer is an object equal to everything",
        )

    def _case_patched_libraries(self) -> Case:
        return Case(
            "patched_libraries",
            self._answers_edited(lambda s: self._liars(s) + PATCH_LIBRARIES),
            self.zero,
            "lying answers, numpy/math/torch comparisons and isinstance patched",
        )

    def _case_rebound_names(self) -> Case:
        return Case(
            "rebound_names",
            self._answers_edited(lambda s: self._liars(s) + REBIND),
            self.zero,
            "lying answers, the names the tests use rebound in the notebook",
        )

    def _case_trace_skip(self) -> Case:
        return Case(
            "trace_skip",
            self._answers_edited(lambda s: self._liars(s) + SKIPPER + self._skip_with(s)),
            self.zero,
            "lying functions that install a tracer to jump over the test's checks",
        )

    def _case_calls_reference(self) -> Case:
        expected = dict(self.full)
        wrappers: dict[str, str] = {}
        for answer in self.answers:
            test = self.cells[answer.test_id].source
            calls = _forbidding_calls(test)
            functions, _ = _names_defined(self.cells[answer.answer_id].source)
            for name in set(calls) & set(functions):
                wrappers[answer.answer_id] = wrappers.get(answer.answer_id, "") + (
                    _calls_reference(name, calls[name], _forbid_setup(test, calls[name]))
                )
                expected[answer.test_id] = 0.0

        def edit(nb):
            cells = nbgrader_cells(nb)
            for answer_id, code in wrappers.items():
                cells[answer_id].source += "\n" + code

        return Case(
            "calls_reference",
            _bytes(self._with(edit)),
            expected,
            "answers that call the implementation their test forbids",
        )

    # Cases about the sandbox and the grader (graded on one assignment).

    def _case_patched_grader(self) -> Case:
        return Case(
            "patched_grader",
            self._answers_edited(lambda s: self._liars(s) + PATCH_GRADER),
            self.zero,
            "lying answers, safegrade.checks gutted, sys.modules/__import__/IPython hooked",
        )

    def _case_fork_bomb(self) -> Case:
        return Case(
            "fork_bomb",
            self._prepend(self.answers[0], FORK_BOMB),
            self.full,
            "correct answers after forking until the process cap stops it (200 at most)",
        )

    def _case_cpu_spinner(self) -> Case:
        first = self.answers[0]
        return Case(
            "cpu_spinner",
            self._prepend(first, SPINNER),
            self._lose(first),
            "correct answers, the first starting a thread that spins on the CPU until the "
            "end: that cell fails, and the rest runs without it",
        )

    def _case_thread_race(self) -> Case:
        return Case(
            "thread_race",
            self._liars_after(THREAD_RACE),
            self.zero,
            "lying answers, the first starting a thread that guts the checks over and over",
        )

    def _case_gc_rewrite(self) -> Case:
        return Case(
            "gc_rewrite",
            self._liars_after(GC_REWRITE),
            self.zero,
            "lying answers, the first finding the grader's cell runner through gc to make "
            "it drop every error",
        )

    def _case_patched_runner(self) -> Case:
        def edit(source: str) -> str:
            return PATCH_RUNNER + _decorated(self._liars(source), "_sabotaging")

        return Case(
            "patched_runner",
            self._answers_edited(edit),
            self.zero,
            "lying answers that switch off the guard, the error recorder and the checks "
            "between cells and again from inside the test's own calls",
        )

    def _case_frame_forgery(self) -> Case:
        return self._forging(
            "frame_forgery",
            FRAME_FORGERY,
            "lying answers that, called by a test, walk the stack (sys._getframe, f_back) to "
            "the grader's cell runner and report every cell passed with its pipe and token",
        )

    def _case_ctypes_frames(self) -> Case:
        return self._forging(
            "ctypes_frames",
            CTYPES_FRAMES,
            "the same, reaching the stack through ctypes (PyEval_GetFrame), unaudited",
        )

    def _forging(self, name: str, prelude: str, what: str) -> Case:
        """Every answer a liar behind ``prelude``'s ``_forging`` decorator; expected 0."""

        def edit(source: str) -> str:
            return prelude + _decorated(self._liars(source), "_forging")

        return Case(name, self._answers_edited(edit), self.zero, what)

    def _liars_after(self, attack: str) -> bytes:
        """Every answer a liar, and ``attack`` at the end of the first answer cell."""
        first = self.answers[0].answer_id

        def edit(nb):
            for answer_id, cell in nbgrader_cells(nb).items():
                if answer_id in {a.answer_id for a in self.answers}:
                    cell.source = self._liars(cell.source) + (attack if answer_id == first else "")

        return _bytes(self._with(edit))

    def _case_deleted_tests(self) -> Case:
        return Case(
            "deleted_tests",
            _bytes(self._with(lambda nb: self._delete_tests(nb))),
            self.full,
            "correct answers, every test cell deleted",
        )

    def _case_edited_tests(self) -> Case:
        tests = [a.test_id for a in self.answers]
        return Case(
            "edited_tests",
            _bytes(self._with(lambda nb: self._edit_tests(nb, tests))),
            self.full,
            "correct answers, test cells emptied, re-pointed and re-scored",
        )

    def _case_dead_kernel(self) -> Case:
        last = self.answers[-1]
        return Case(
            "dead_kernel",
            self._prepend(last, "import os\nos.kill(os.getpid(), 9)"),
            self._lose(last),
            "the last answer kills its own process",
        )

    def _case_system_exit(self) -> Case:
        first = self.answers[0]
        return Case(
            "system_exit",
            self._prepend(first, "raise SystemExit(0)"),
            self._lose(first),
            "the first answer raises SystemExit",
        )

    def _case_memory_bomb(self) -> Case:
        first = self.answers[0]
        return Case(
            "memory_bomb",
            self._prepend(first, "_hog = []\nwhile True:\n    _hog.append(bytearray(1 << 27))"),
            self._lose(first),
            "the first answer allocates until memory runs out",
        )

    def _case_forged_results(self) -> Case:
        first = self.answers[0]
        return Case(
            "forged_results",
            self._prepend(first, FORGE),
            self._lose(first),
            "the first answer writes results claiming every cell passed, then exits",
        )

    def _case_huge_output(self) -> Case:
        return Case(
            "huge_output",
            self._prepend(
                self.answers[0],
                'print("x" * 30_000_000)\n__import__("os").write(1, b"y" * 30_000_000)',
            ),
            self.full,
            "correct answers after 60 MB of output",
        )

    def _case_malformed(self) -> Case:
        return Case("malformed", b'{"cells": [{"cell_type": ', self.zero, "a truncated file")

    def _case_not_a_notebook(self) -> Case:
        return Case("not_a_notebook", b'{"hello": "world"}', self.zero, "JSON, not a notebook")

    # Cases that wait for the cell time limit (graded with a short one, on one assignment).

    def _case_endless_loop(self) -> Case:
        first = self.answers[0]
        return Case(
            "endless_loop",
            self._prepend(first, "while True:\n    pass"),
            self._lose(first),
            "the first answer loops forever",
        )

    def _case_stubborn_loop(self) -> Case:
        last = self.answers[-1]
        return Case(
            "stubborn_loop",
            self._prepend(
                last,
                "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                "while True:\n    try:\n        pass\n    except BaseException:\n        pass",
            ),
            self._lose(last),
            "the last answer ignores the timer and loops forever",
        )

    def _skip_with(self, source: str) -> str:
        functions, _ = _names_defined(source)
        return "\n".join(f"{f} = _skip_the_rest" for f in functions)

    def _delete_tests(self, nb: nbformat.NotebookNode) -> None:
        tests = {a.test_id for a in self.answers}
        nb.cells = [
            c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in tests
        ]

    def _edit_tests(self, nb: nbformat.NotebookNode, tests: list[str]) -> None:
        cells = nbgrader_cells(nb)
        for test in tests:
            cell = cells[test]
            cell.source = "pass"
            meta = cell.metadata["nbgrader"]
            meta.update(points=100, grade=False, locked=False)
        # A copy of a test cell with the same id, placed after it, that passes trivially.
        copy = nbformat.from_dict(json.loads(json.dumps(cells[tests[0]])))
        copy["id"] = "copy-of-a-test"
        nb.cells.insert(nb.cells.index(cells[tests[0]]) + 1, copy)
