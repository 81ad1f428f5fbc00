"""Run a notebook's code cells in a worker, so that a fault costs only its own cell.

A cell that stops the grading process (``os._exit``, a signal, a memory bomb, a loop
that ignores the timer) would end a kernel and with it every later test. Here the
faulty cell is marked with an error output and the notebook runs again, from the start,
in a fresh child with that cell skipped. Each attempt is bounded by the cell limit and
all of them together by the submission's limit; after ``max_attempts`` the cells not run
yet get an error (and so score 0).

Outputs from the child are untrusted: :func:`clean_output` rebuilds each one from its
expected fields before it reaches nbgrader.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .worker import Attempt, Worker


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission.

    cell_timeout: seconds per cell; submission_timeout: seconds for the whole notebook,
    retries included; memory_bytes: address space a child may add to the zygote's;
    output_chars: characters of output kept per cell; file_bytes: the largest file it may
    write; processes: processes and threads the sandbox's user may run at once (the
    zygote and the child included); max_attempts: how many times the notebook may be
    started. Each attempt may use the submission's time limit plus a minute of CPU time,
    all its threads together.
    """

    cell_timeout: float = 30.0
    submission_timeout: float = 600.0
    memory_bytes: int = 2 << 30
    output_chars: int = 100_000
    file_bytes: int = 64 << 20
    processes: int = 64
    max_attempts: int = 4

    def for_child(self) -> dict[str, Any]:
        return {
            "cell_timeout": self.cell_timeout,
            "memory_bytes": self.memory_bytes,
            "cpu_seconds": int(self.submission_timeout) + 60,
            "output_chars": self.output_chars,
            "file_bytes": self.file_bytes,
            "processes": self.processes,
        }


@dataclass(frozen=True)
class Cell:
    """A code cell to run. index: its position in the notebook; test: a test cell."""

    index: int
    source: str
    test: bool


@dataclass
class Execution:
    """The result: index -> (execution_count, outputs) for every cell, the incidents
    (one line per cell that was stopped or skipped), and index -> (start, end) times of
    the cells that ran in the last attempt."""

    results: dict[int, tuple[int, list[dict[str, Any]]]]
    incidents: list[str]
    timing: dict[int, tuple[float, float]]


def error_output(ename: str, evalue: str) -> dict[str, Any]:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [evalue]}


def execute(worker: Worker, cells: list[Cell], limits: Limits, separate: bool = True) -> Execution:
    """Run ``cells`` in ``worker``, retrying without each cell that brought a run down.
    separate: run the test cells in another process than the student's code (:mod:`.split`).
    """
    deadline = time.monotonic() + limits.submission_timeout
    skipped: dict[int, dict[str, Any]] = {}
    incidents: list[str] = []
    attempt = Attempt()
    for number in range(1, limits.max_attempts + 1):
        job = {
            "cells": [
                {"index": c.index, "source": c.source, "test": c.test, "skip": skipped.get(c.index)}
                for c in cells
            ],
            "limits": limits.for_child(),
            "separate": separate,
        }
        attempt = worker.attempt(job, limits.cell_timeout, deadline)
        if attempt.finished or attempt.failed_cell is None:
            break
        if number == limits.max_attempts or time.monotonic() > deadline:
            break
        failure = _failure(attempt)
        skipped[attempt.failed_cell] = {k: failure[k] for k in ("ename", "evalue", "traceback")}
        incidents.append(f"cell {attempt.failed_cell}: {attempt.reason}")
    return Execution(_complete(cells, attempt, incidents), incidents, attempt.timing)


def _failure(attempt: Attempt) -> dict[str, Any]:
    """The error output that stands for the cell that brought the run down."""
    if attempt.restart:  # the child's own outputs for it, MemoryError included
        outputs = attempt.done[attempt.failed_cell][1]
        errors = [o for o in map(clean_output, outputs) if o["output_type"] == "error"]
        if errors:
            return errors[-1]
    ename = attempt.ename or ("CellTimeoutError" if attempt.timed_out else "DeadKernelError")
    return error_output(ename, attempt.reason)


def _complete(
    cells: list[Cell], attempt: Attempt, incidents: list[str]
) -> dict[int, tuple[int, list[dict[str, Any]]]]:
    """Every cell's outputs: what the last attempt produced, an error for the rest."""
    results = {}
    if not attempt.finished and attempt.failed_cell is None and not attempt.restart:
        incidents.append(f"submission: {attempt.reason or 'the grading process stopped'}")
    count = max((c for c, _ in attempt.done.values()), default=0)
    for cell in cells:
        if cell.index in attempt.done:
            count_, outputs = attempt.done[cell.index]
            results[cell.index] = (count_, [clean_output(o) for o in outputs])
            continue
        count += 1
        reason = attempt.reason if cell.index == attempt.failed_cell else ""
        reason = reason or "not run: the grader stopped this submission before this cell"
        if cell.index == attempt.failed_cell:
            incidents.append(f"cell {cell.index}: {reason}")
        results[cell.index] = (count, [error_output("DeadKernelError", reason)])
    return results


def clean_output(raw: Any) -> dict[str, Any]:
    """A well-formed nbformat output built from what a child sent, or an error output."""
    if not isinstance(raw, dict):
        return error_output("GraderError", "the grading process sent a malformed output")
    kind = raw.get("output_type")
    if kind == "stream" and raw.get("name") in ("stdout", "stderr"):
        return {"output_type": "stream", "name": raw["name"], "text": _text(raw.get("text"))}
    if kind in ("display_data", "execute_result") and isinstance(raw.get("data"), dict):
        output = {
            "output_type": kind,
            "data": {str(k): _mime(v) for k, v in raw["data"].items()},
            "metadata": raw["metadata"] if isinstance(raw.get("metadata"), dict) else {},
        }
        if kind == "execute_result":
            count = raw.get("execution_count")
            output["execution_count"] = count if isinstance(count, int) else None
        return output
    if kind == "error":
        lines = raw.get("traceback")
        return {
            "output_type": "error",
            "ename": _text(raw.get("ename")) or "Error",
            "evalue": _text(raw.get("evalue")),
            "traceback": [_text(x) for x in lines] if isinstance(lines, list) else [],
        }
    return error_output("GraderError", "the grading process sent a malformed output")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _mime(value: Any) -> Any:
    """MIME bundles hold text, lists of text, or JSON objects (for application/json)."""
    if isinstance(value, str | dict):
        return value
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return "".join(value)
    return ""
