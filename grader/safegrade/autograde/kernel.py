"""Run a notebook's code cells in this process and record their outputs like a kernel.

This runs in the grading child, a fork of the zygote, inside the sandbox. Answer cells
(and any cell a student added) go through IPython's ``InteractiveShell.run_cell``, so
magics, ``display()`` and rich results behave as in Jupyter. Test cells take a separate,
trusted path: the process state they depend on is restored first (see :mod:`.guard`),
their source is transformed and compiled by objects the student never saw, and any
exception that leaves them becomes an ``error`` output. Either way the outputs come out
in nbformat's JSON form, so nbgrader grades them exactly as it grades a kernel's: an
error or anything on stderr in a test cell scores 0.

Unless the course lists the assignment as ``in_process``, the child is split in two
(:mod:`.split`): answer cells run as above in a
student process it forks first, test cells here, where no student code ever runs, and a
test's ``student_call`` becomes a request to the student process. The test cells see the
notebook's globals they read as data or handles (:meth:`CellRunner._mirror`).

Limits: each cell runs under a timer (``SIGALRM``; the grader also kills the process if
the timer is ignored), output is capped per cell, the process has caps on memory, CPU
time and (in the sandbox) processes, and a ``MemoryError`` ends the run so that the
grader can start again without that cell and with all the memory back. So does a cell
that leaves threads running, and some introspection is refused (:mod:`.containment`).
"""

from __future__ import annotations

import _thread
import ast
import contextlib
import ctypes
import io
import json
import os
import resource
import signal
import sys
import time
import traceback
import types
from collections.abc import Callable, Iterator
from typing import Any

from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.inputtransformer2 import TransformerManager
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from . import containment, split
from .guard import Guard
from .protocol import EXIT_THREADS, read_frame, write_frame

# Bound at import, in the zygote, before any student code exists.
_exec = exec
_eval = eval
_compile = compile
_format_exception = traceback.format_exception
_setitimer = signal.setitimer
_signal = signal.signal
_dup2 = os.dup2
_type = type
_str = str
_list = list
_BaseException = BaseException
_libc = ctypes.CDLL(None)

TRUNCATED = "\n... output truncated by the grader ...\n"
_TRACEBACK_LINES = 100
_TEXT_CHARS = 4000


class CellTimeoutError(BaseException):
    """Raised in a cell that ran past its time limit (a BaseException, like Ctrl-C)."""


class Recorder:
    """The outputs of one cell in nbformat's JSON form, with at most ``limit`` characters
    of streams and rich data (errors are always kept, shortened)."""

    __slots__ = ("outputs", "limit", "used", "truncated", "error_names")

    def __init__(self, limit: int) -> None:
        self.outputs: list[dict[str, Any]] = []
        self.limit = limit
        self.used = 0
        self.truncated = False
        self.error_names: list[str] = []

    def stream(self, name: str, text: str) -> None:
        """Append text to stdout or stderr, merging with the stream just before it."""
        room = max(self.limit - self.used, 0)
        if len(text) > room:
            text = text[:room] + ("" if self.truncated else TRUNCATED)
            self.truncated = True
        if not text:
            return
        self.used += len(text)
        last = self.outputs[-1] if self.outputs else None
        if last and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def rich(self, kind: str, data: dict, metadata: dict, count: int | None = None) -> None:
        """Append a ``display_data`` or (with ``count``) ``execute_result`` output."""
        data = _jsonable(data)
        size = len(json.dumps(data))
        if size > self.limit - self.used:
            data = {"text/plain": f"[an output of {size} characters, over the grader's limit]"}
            size = len(data["text/plain"])
        self.used += size
        output = {"output_type": kind, "data": data, "metadata": _jsonable(metadata)}
        if kind == "execute_result":
            output["execution_count"] = count
        self.outputs.append(output)

    def error(self, ename: str, evalue: str, lines: list[str]) -> None:
        """Append an ``error`` output (traceback shortened to what a person reads)."""
        self.error_names.append(ename)
        if len(lines) > _TRACEBACK_LINES:
            half = _TRACEBACK_LINES // 2
            lines = [*lines[:half], "... traceback shortened by the grader ...", *lines[-half:]]
        self.outputs.append(
            {
                "output_type": "error",
                "ename": ename[:_TEXT_CHARS],
                "evalue": evalue[:_TEXT_CHARS],
                "traceback": [line[:_TEXT_CHARS] for line in lines],
            }
        )

    def clear(self) -> None:
        """``IPython.display.clear_output``: forget what the cell showed so far."""
        self.outputs = [o for o in self.outputs if o["output_type"] == "error"]


def _jsonable(value: Any) -> dict:
    """A JSON round trip: rich outputs must survive it, and it drops odd objects."""
    try:
        result = json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError, RecursionError):
        return {}
    return result if isinstance(result, dict) else {}


class CellStream(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` during a cell: text goes to file descriptor 1 or 2,
    which the runner captures with everything else written there. It holds nothing of the
    grader's, so a cell that finds it through ``sys.stdout`` finds nothing to change."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self._fd = 1 if name == "stdout" else 2

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        data = text.encode(errors="replace")
        try:
            while data:
                data = data[os.write(self._fd, data) :]
        except OSError:  # past the file-size cap: beyond it output is cut anyway
            pass
        return len(text)


class _DisplayPublisher(DisplayPublisher):
    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kw):
        self.shell.recorder.rich("display_data", data, metadata or {})

    def clear_output(self, wait=False):
        self.shell.recorder.clear()


class _DisplayHook(DisplayHook):
    def start_displayhook(self):
        pass

    def write_output_prompt(self):
        pass

    def write_format_data(self, format_dict, md_dict=None):
        self.shell.recorder.rich("execute_result", format_dict, md_dict or {}, self.prompt_count)

    def finish_displayhook(self):
        pass


class GradingShell(InteractiveShell):
    """An IPython shell whose results, displays and tracebacks go to ``self.recorder``."""

    recorder = Recorder(0)

    def _showtraceback(self, etype, evalue, stb):
        self.recorder.error(_name_of(etype), _text_of(evalue), list(stb))


def create_shell() -> GradingShell:
    """The shell the zygote builds once: no history file, no colours, no threads."""
    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    return GradingShell.instance(
        config=config, displayhook_class=_DisplayHook, display_pub_class=_DisplayPublisher
    )


def _name_of(etype: Any) -> str:
    try:
        return _str(etype.__name__)
    except BaseException:  # a hostile exception class: any name will do
        return "Exception"


def _text_of(value: Any) -> str:
    try:
        return _str(value)
    except BaseException:
        return "(the exception could not be converted to text)"


def _describe(error: BaseException) -> tuple[str, str, list[str]]:
    """ename, evalue and traceback lines, without the grader's own frames."""
    try:
        tb = error.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next
        lines = _format_exception(_type(error), error, tb)
    except BaseException:
        lines = []
    return _name_of(_type(error)), _text_of(error), lines


def _plain(described: tuple[Any, Any, Any]) -> tuple[str, str, list[str]]:
    """ename, evalue and traceback as exact ``str`` objects (a student's exception may hand
    back str subclasses whose methods would run inside the grader)."""
    ename, evalue, lines = described
    as_str = _str.__str__
    try:
        lines = lines if _type(lines) is _list else []
        return as_str(ename), as_str(evalue), [as_str(line) for line in lines]
    except _BaseException:
        return "Exception", "an error escaped the cell", []


def _on_alarm(signum: int, frame: types.FrameType | None) -> None:
    raise CellTimeoutError("the cell ran past its time limit and was interrupted")


class CellRunner:
    """Runs the cells of one submission and reports each over ``results_fd``.

    shell: the zygote's shell; guard: the zygote's :class:`Guard`; results_fd: where
    frames go; limits: ``cell_timeout`` (s) and ``output_chars`` from the grader; token:
    the attempt's secret, sent with every frame.

    Nothing a student's code can reach leads here (``sys.stdout`` and the shell hold no
    reference to the runner, and it has no ``__dict__``), and after a cell's code returns
    the runner first heals its own modules (:mod:`safegrade.pins`) from a local taken
    before any cell ran, so a cell that patched the grader's classes or functions cannot
    change how its outputs are recorded and reported.
    """

    __slots__ = (
        "shell",
        "token",
        "guard",
        "results_fd",
        "timeout",
        "output_chars",
        "recorder",
        "transformer",
        "user_ns",
        "count",
        "student",
        "wanted",
        "test_bound",
        "mirrored",
    )

    def __init__(
        self, shell: GradingShell, guard: Guard, results_fd: int, limits: dict, token: str
    ) -> None:
        self.shell = shell
        self.token = token
        self.guard = guard
        self.results_fd = results_fd
        self.timeout = float(limits["cell_timeout"])
        self.output_chars = int(limits["output_chars"])
        self.recorder = Recorder(0)
        self.transformer = TransformerManager()
        self.user_ns = shell.user_ns
        self.count = shell.execution_count
        # Separated jobs (see .split): the student process, and the names test cells read.
        self.student: Any = None
        self.wanted: set[str] = set()
        self.test_bound: set[str] = set()
        self.mirrored: set[str] = set()

    def run(self, cells: list[dict]) -> None:
        """Run every cell in order; stop early after a cell that ran out of memory (the
        grader reruns the notebook without it), and end the process after a cell that left
        threads running (see :mod:`.containment`)."""
        # Locals, taken before any student code exists: nothing a cell does can change them.
        tools = (*self.guard.runner, _thread._count, os._exit, time.sleep, time.monotonic)
        heal, code, defaults, saved = tools[:4]
        for cell in cells:
            heal.__code__, heal.__defaults__ = code, defaults
            heal(saved)
            self._send({"start": cell["index"]})
            count = self.count
            if self.student is not None and not cell["test"] and not cell.get("skip"):
                done = self.student.run_cell(cell, count)
                outputs, restart = done.get("outputs"), done.get("restart") is True
                outputs = outputs if type(outputs) is list else []
            else:
                self._execute(cell, count, tools)
                outputs = self.recorder.outputs
                restart = "MemoryError" in self.recorder.error_names and not cell.get("skip")
            self.count = count + 1
            self.shell.execution_count = count + 1
            heal.__code__, heal.__defaults__ = code, defaults
            heal(saved)
            self._send(
                {
                    "done": cell["index"],
                    "execution_count": count,
                    "outputs": outputs,
                    "restart": restart,
                },
            )
            if restart:
                return
        self._send({"end": True})

    def _send(self, frame: dict) -> None:
        # The token tells the grader the frame comes from here, not from a stray process.
        write_frame(self.results_fd, {**frame, "token": self.token})

    def _execute(self, cell: dict, count: int, tools: tuple) -> None:
        self.recorder = Recorder(self.output_chars)
        # A test cell's recorder is not the shell's, where a student's function could reach it.
        self.shell.recorder = Recorder(0) if cell["test"] else self.recorder
        with self._captured():
            skip = cell.get("skip")
            if skip:
                self.recorder.error(skip["ename"], skip["evalue"], skip["traceback"])
            elif cell["test"]:
                self._guarded(tools, self._run_test, cell["source"], count)
            else:
                self._guarded(tools, self.shell.run_cell, cell["source"], store_history=True)
            self.guard.restore_runner()

    def _guarded(self, tools: tuple, action: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``action`` under the cell timer; whatever escapes becomes an error output.

        Once ``action`` returns, only locals decide what happens next: the process ends
        if threads the cell started are still running a second later (the grader reruns
        the notebook without the cell), the grader's modules are healed, and only then is
        the error described and recorded (its text made plain ``str`` by healed code).
        """
        heal, code, defaults, saved, threads, exit_now, sleep, clock = tools
        real, catch, failure, status = signal.ITIMER_REAL, BaseException, None, EXIT_THREADS
        try:
            _signal(signal.SIGALRM, _on_alarm)
            _setitimer(real, self.timeout)
            try:
                action(*args, **kwargs)
            finally:
                _setitimer(real, 0)
        except catch as error:  # a cell may raise anything, SystemExit included
            failure = error
        deadline = clock() + 1.0
        while threads() and clock() < deadline:
            sleep(0.01)
        if threads():
            exit_now(status)
        described = None
        if failure is not None:
            try:
                described = _describe(failure)  # may run the student's __str__: heal after
            except catch:
                described = ("Exception", "an error escaped the cell", [])
        heal.__code__, heal.__defaults__ = code, defaults
        heal(saved)
        if described is not None:
            self.recorder.error(*_plain(described))

    def _run_test(self, source: str, count: int) -> None:
        """A test cell: restored state, trusted compilation, last expression displayed."""
        self.guard.restore()
        tree = ast.parse(self.transformer.transform_cell(source))
        if self.student is not None:  # nothing of split runs here for an in-process job
            self._mirror(tree)
            self.test_bound |= split.bound_names(tree)  # the names that stay the tests'
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        name = f"<test cell {count}>"
        _exec(_compile(tree, name, "exec"), self.user_ns)
        if last is not None:
            value = _eval(_compile(ast.Expression(last.value), name, "eval"), self.user_ns)
            if value is not None:
                data, metadata = self.shell.display_formatter.format(value)
                self.recorder.rich("execute_result", data, metadata, count)

    def _mirror(self, tree: ast.Module) -> None:
        """Separated jobs: give the test cells the notebook's globals they read (from the
        student process, as data or handles), and only those, as they are now."""
        self.wanted |= split.free_names(tree)
        for name in self.mirrored:
            self.user_ns.pop(name, None)
        found = self.student.lookup(sorted(self.wanted - self.test_bound))
        self.user_ns.update(found)
        self.mirrored = set(found)

    @contextlib.contextmanager
    def _captured(self) -> Iterator[None]:
        """Send Python-level and file-descriptor-level output of the cell to the recorder."""
        sys.stdout = CellStream("stdout")
        sys.stderr = CellStream("stderr")
        files = {name: os.memfd_create(name) for name in ("stdout", "stderr")}
        _dup2(files["stdout"], 1)
        _dup2(files["stderr"], 2)
        try:
            yield
        finally:
            _flush_everything()
            _silence_fds()
            for name, fd in files.items():
                self.recorder.stream(name, _read_start(fd, self.output_chars))
                os.close(fd)


def _flush_everything() -> None:
    for stream in (sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(BaseException):
            stream.flush()
    _libc.fflush(None)  # C stdio buffers of extension modules


def _silence_fds() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        _dup2(null, fd)
    os.close(null)


def _read_start(fd: int, limit: int) -> str:
    """The first ``limit`` characters written to a captured descriptor (a memfd)."""
    size = os.fstat(fd).st_size
    text = os.pread(fd, min(size, limit * 4), 0).decode(errors="replace")
    if size > limit * 4 or len(text) > limit:
        text = text[:limit] + TRUNCATED
    return text


def _apply_limits(limits: dict, sandboxed: bool) -> None:
    """Per-submission resource limits: address space, CPU time, file size, processes (in
    the sandbox), no core dumps.

    CPU time counts every thread of this process, so a thread spinning beside the cells
    ends the attempt (SIGXCPU, then SIGKILL at the hard limit). The process limit counts
    the processes and threads of the sandbox's user, who owns nothing else there; outside a
    sandbox it would count the instructor's own processes, so it is left alone. The kernel
    does not apply it to a user that is root outside the sandbox.
    """
    with open("/proc/self/status") as status:
        used = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize"))
    memory = used + int(limits["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    if sandboxed:
        processes = int(limits["processes"])
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    files = int(limits["file_bytes"])
    resource.setrlimit(resource.RLIMIT_FSIZE, (files, files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Past the file limit a write then fails with EFBIG instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def child_main(
    job_fd: int,
    results_fd: int,
    shell: GradingShell,
    guard: Guard,
    workdir: str,
    sandboxed: bool = False,
) -> None:
    """Entry point of a forked grading child: read the job, run it, report, and return.

    job_fd: the pipe the job frame arrives on; results_fd: the pipe frames go back on;
    workdir: an empty directory that becomes the working directory; sandboxed: whether
    this runs in the grading sandbox (where the process limit applies).
    """
    _silence_fds()
    job = read_frame(job_fd, limit=1 << 30)
    os.close(job_fd)
    if job.get("separate"):
        _run_separated(job, results_fd, shell, guard, workdir, sandboxed)
        return
    _apply_limits(job["limits"], sandboxed)
    containment.install()
    os.chdir(workdir)
    guard.workdir, guard.token = workdir, job["token"]
    CellRunner(shell, guard, results_fd, job["limits"], job["token"]).run(job["cells"])


def _run_separated(
    job: dict, results_fd: int, shell: GradingShell, guard: Guard, workdir: str, sandboxed: bool
) -> None:
    """Answer cells in a student process, test cells here (see :mod:`.split`)."""
    limits = job["limits"]

    def serve(requests_fd: int, replies_fd: int) -> None:
        os.close(results_fd)  # the student process has no way back to the grader
        _apply_limits(limits, sandboxed)
        containment.install()
        os.chdir(workdir)
        guard.workdir = workdir
        runner = CellRunner(shell, guard, replies_fd, limits, token="")
        split.StudentServer(runner, shell.user_ns).serve(requests_fd, replies_fd)

    student = split.start_student(serve)
    _apply_limits(limits, sandboxed)
    containment.quiet_tqdm()  # the tests' own progress bars start no thread either
    os.chdir(workdir)
    guard.workdir, guard.token = workdir, job["token"]
    guard.delegates = [student.call]  # student_call goes there (put back before test cells)
    runner = CellRunner(shell, guard, results_fd, limits, job["token"])
    runner.student = student
    runner.run(job["cells"])
    student.release()
