"""The grader's handle on one sandboxed zygote: start it, run one attempt, restart it.

One :class:`Worker` grades one submission at a time, so everything that happens in its
sandbox while a submission runs is that submission's doing. :meth:`Worker.attempt` runs
the job once and reports which cells finished; a cell that never finished (the child
died, ran past the cell's deadline, or sent malformed frames) is named in the result, and
:mod:`.execution` decides what to do about it.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..settings import Settings
from .protocol import EXIT_THREADS, FrameReader, ProtocolError, write_frame
from .sandbox import Sandbox

# Frames from a child: one cell's outputs are capped well below this by the child.
FRAME_LIMIT = 64 << 20
_GRACE = 2.0  # seconds past a cell's own timer before the grader kills it


class WorkerError(RuntimeError):
    """The zygote could not be started (or could not import what it must) or stopped
    answering."""


@dataclass
class Attempt:
    """What one run of a job produced.

    done: cell index -> ``(execution_count, outputs)`` for the cells that finished;
    timing: cell index -> (start, end) wall-clock times, as the grader saw them;
    finished: whether the child reached the end; failed_cell: the cell it was in when it
    stopped early (None if before the first); reason: why, in words; restart: the child
    stopped itself after that cell (it ran out of memory); ename: the error to show for the
    cell when it is not the usual one (ThreadError).
    """

    done: dict[int, tuple[int, list[dict[str, Any]]]] = field(default_factory=dict)
    timing: dict[int, tuple[float, float]] = field(default_factory=dict)
    finished: bool = False
    failed_cell: int | None = None
    reason: str = ""
    timed_out: bool = False
    restart: bool = False
    ename: str = ""


class Worker:
    """One sandboxed zygote. sandbox: how to start it; preload: modules it imports;
    settings: what the checks trust (the course's)."""

    def __init__(
        self,
        sandbox: Sandbox,
        preload: list[str],
        settings: Settings | None = None,
        startup_timeout: float = 300,
    ) -> None:
        self.sandbox = sandbox
        self.preload = preload
        self.settings = settings or Settings()
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self.control: socket.socket | None = None
        self.log = tempfile.TemporaryFile()
        self.ready: dict[str, Any] = {}

    def start(self) -> None:
        """Start the zygote and wait until it has imported everything.

        Raises WorkerError if it did not start, or could not import a module it was asked to
        preload (grading with a broken environment would fail every submission quietly),
        or runs more than one thread (forking it would not be safe).
        """
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command = self.sandbox.command(theirs.fileno(), self.preload, self.settings)
        self.process = subprocess.Popen(
            command,
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
            env=self.sandbox.environment(),
            start_new_session=True,
        )
        theirs.close()
        self.control = ours
        self.ready = self._receive(self.startup_timeout) or {}
        if not self.ready.get("ready"):
            self.close()
            raise WorkerError(f"the grading sandbox did not start:\n{self._log_tail()}")
        problem = _unready(self.ready)
        if problem:
            self.close()
            raise WorkerError(problem)

    def close(self) -> None:
        """Stop the zygote (closing its socket ends it; kill it if it lingers)."""
        if self.control is not None:
            self.control.close()
            self.control = None
        if self.process is not None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def restart(self) -> None:
        if self.process is not None:
            self.process.kill()
        self.close()
        self.start()

    def attempt(self, job: dict[str, Any], cell_timeout: float, deadline: float) -> Attempt:
        """Run ``job`` once in a fresh child; ``deadline`` is a ``time.monotonic()`` value."""
        if self.process is None or self.process.poll() is not None:
            self.restart()
        job_read, job_write = os.pipe()
        result_read, result_write = os.pipe()
        try:
            socket.send_fds(self.control, [b'{"op": "run"}'], [job_read, result_write])
        finally:
            os.close(job_read)
            os.close(result_write)
        token = secrets.token_hex(16)
        job = {**job, "token": token}
        threading.Thread(target=_write_job, args=(job_write, job), daemon=True).start()
        try:
            forked = self._receive(30)
            if not forked or "forked" not in forked:
                self.restart()
                return Attempt(reason="the grading sandbox did not answer")
            cells = {cell["index"] for cell in job["cells"]}
            return self._follow(result_read, cell_timeout, deadline, token, cells)
        finally:
            os.close(result_read)

    def _follow(
        self, result_read: int, cell_timeout: float, deadline: float, token: str, cells: set[int]
    ) -> Attempt:
        """Collect the child's frames until it exits, killing it when a deadline passes
        (frames about cells the job does not have are ignored)."""
        os.set_blocking(result_read, False)
        reader = FrameReader(result_read, FRAME_LIMIT)
        attempt, running, cell_deadline = Attempt(), None, deadline
        exited, killed_at = False, None
        while not (exited and reader.closed):
            now = time.monotonic()
            if killed_at is None and now > min(deadline, cell_deadline):
                attempt.timed_out = True
                attempt.reason = (
                    f"the cell ran past its time limit ({cell_timeout:g} s) and was stopped"
                    if cell_deadline <= deadline
                    else "the submission ran past its total time limit and was stopped"
                )
                killed_at = self._request_kill(now)
            if killed_at is not None and now > killed_at + 15:
                self.restart()  # the zygote itself stopped answering
                break
            sources = [s for s in (result_read, self.control) if not _closed(s, reader)]
            wait = max(0.0, min(deadline, cell_deadline) - now) if killed_at is None else 1.0
            ready, _, _ = select.select(sources, [], [], min(wait, 1.0))
            if result_read in ready:
                try:
                    frames = reader.feed()
                except ProtocolError as error:
                    attempt.reason = f"the grading process sent malformed output ({error})"
                    killed_at = killed_at or self._request_kill(now)
                    reader.closed = True
                    frames = []
                for frame in (f for f in frames if f.get("token") == token and _about(f, cells)):
                    running, cell_deadline = _apply(
                        frame, attempt, running, cell_deadline, cell_timeout
                    )
            if self.control in ready:
                message = self._receive(0)
                if message is None:  # the child took the zygote down with it
                    attempt.reason = attempt.reason or "the grading sandbox stopped"
                    self.restart()
                    break
                exited = exited or "exited" in message
                if exited and not attempt.finished and not attempt.reason:
                    attempt.reason = _death(message["exited"])
                    if message["exited"] == EXIT_THREADS:
                        attempt.ename = "ThreadError"
        if not attempt.finished and not attempt.restart:
            attempt.failed_cell = running
        return attempt

    def _request_kill(self, now: float) -> float:
        self.control.send(b'{"op": "kill"}')
        return now

    def _receive(self, timeout: float) -> dict[str, Any] | None:
        ready, _, _ = select.select([self.control], [], [], timeout)
        if not ready:
            return None
        data = self.control.recv(1 << 16)
        return json.loads(data) if data else None

    def _log_tail(self) -> str:
        self.log.seek(0)
        return self.log.read()[-4000:].decode(errors="replace")


def _unready(report: dict[str, Any]) -> str:
    """What is wrong with a zygote's ready report, in words ("" if nothing)."""
    failed = report.get("failed_imports") or {}
    if failed:
        listed = "; ".join(f"{name} ({error})" for name, error in sorted(failed.items()))
        return f"the grading sandbox could not import {listed}"
    tasks = report.get("tasks")
    if isinstance(tasks, int) and tasks > 1:
        return (
            f"the grading sandbox runs {tasks} threads after its imports, and forking a "
            "process with threads is not safe: a preloaded module started them"
        )
    return ""


def _about(frame: dict[str, Any], cells: set[int]) -> bool:
    """Whether a frame's ``start`` or ``done`` (if any) names one of the job's cells."""
    return all(frame[key] in cells for key in ("start", "done") if key in frame)


def _closed(source: Any, reader: FrameReader) -> bool:
    return source == reader.fd and reader.closed


def _apply(
    frame: dict[str, Any],
    attempt: Attempt,
    running: int | None,
    cell_deadline: float,
    cell_timeout: float,
) -> tuple[int | None, float]:
    """Record one frame; returns the cell now running and its deadline."""
    no_deadline = float("inf")
    if isinstance(frame.get("start"), int) and running is None:
        attempt.timing[frame["start"]] = (time.time(), time.time())
        return frame["start"], time.monotonic() + cell_timeout + _GRACE
    if isinstance(frame.get("done"), int) and frame["done"] == running:
        count = frame.get("execution_count")
        outputs = frame.get("outputs")
        attempt.done[running] = (
            count if isinstance(count, int) else 0,
            outputs if isinstance(outputs, list) else [],
        )
        attempt.timing[running] = (attempt.timing[running][0], time.time())
        if frame.get("restart") is True:
            attempt.restart, attempt.failed_cell = True, running
            attempt.reason = "the cell ran out of memory"
        return None, no_deadline
    if isinstance(frame.get("fatal"), str):
        attempt.reason = f"the grader failed while running this cell:\n{frame['fatal']}"
    if frame.get("end") is True and running is None:
        attempt.finished = True
    return running, cell_deadline


def _death(code: Any) -> str:
    if code == EXIT_THREADS:
        return (
            "the cell left threads running: the grader runs each cell on its own, so finish "
            "(join) every thread you start before the cell ends"
        )
    if code == -signal.SIGXCPU:
        return "the grading process used up its CPU time (all its threads) in this cell"
    if isinstance(code, int) and code < 0:
        return f"the grading process was killed by signal {-code} while running this cell"
    return f"the grading process exited (status {code}) while running this cell"


def _write_job(fd: int, job: dict[str, Any]) -> None:
    try:
        write_frame(fd, job)
    except OSError:  # the child died before reading it all
        pass
    finally:
        os.close(fd)
