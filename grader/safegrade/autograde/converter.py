"""nbgrader's own autograde steps around sandboxed execution, one submission at a time.

:class:`SandboxedAutograde` is nbgrader's ``Autograde`` converter with two changes to the
preprocessor lists nbgrader configures (``Autograde.sanitize_preprocessors`` and
``Autograde.autograde_preprocessors``, see :data:`REPLACED`). The ``Execute`` step runs
the notebook in this grader's worker (:class:`SandboxExecute`), and the sanitising steps
are stricter: every cell that carries nbgrader metadata gets back
the role, points and schema the instructors' source gave it (:class:`RestoreCellRoles`),
and test cells a student deleted are put back (``OverwriteCells.add_missing_cells``), as
are edited ones (nbgrader restores locked cells already). Everything else is nbgrader's
code unchanged: creating the student and submission, timestamps and late penalties,
copying files, clearing and limiting output, and saving the scores.

All gradebook access is serialised with one lock, so the grader stays the only writer
even while several workers run; a notebook that cannot be read is reported by name and
scored 0, and the other submissions are graded as usual.
"""

from __future__ import annotations

import functools
import glob
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import nbformat
import nbgrader.api
import sqlalchemy
from nbconvert.exporters import NotebookExporter
from nbconvert.writers import FilesWriter
from nbformat.v4.nbbase import random_cell_id
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.converters import Autograde
from nbgrader.nbgraderformat import SCHEMA_VERSION
from nbgrader.preprocessors import (
    CheckCellMetadata,
    DeduplicateIds,
    Execute,
    NbGraderPreprocessor,
    OverwriteCells,
)
from traitlets.utils.importstring import import_item

from .config import Safegrade
from .execution import Cell, Limits, execute
from .worker import Worker


@functools.cache
def _engine(url: str, **options: Any) -> sqlalchemy.engine.Engine:
    return sqlalchemy.create_engine(url, **options)


def share_gradebook_engines() -> None:
    """Make nbgrader's ``Gradebook`` reuse one SQLAlchemy engine per database URL.

    nbgrader opens a Gradebook, and with it a new engine, about ten times per submission;
    each new engine starts with an empty cache of compiled SQL, which made compiling the
    same queries again half of the grader's own CPU time. Engines are thread-safe, and the
    grader uses the gradebook under one lock anyway.
    """
    nbgrader.api.create_engine = _engine


class RestoreCellRoles(NbGraderPreprocessor):
    """Give each nbgrader cell the role (test, answer, task), points and schema version
    recorded in the gradebook, and strip nbgrader metadata the gradebook does not know.

    nbgrader itself restores a locked cell's source and a grade cell's points, but trusts
    the submission for whether a cell is graded at all.
    """

    def preprocess(self, nb, resources):
        names = resources["nbgrader"]
        with Gradebook(names["db_url"]) as gb:
            notebook = gb.find_notebook(names["notebook"], names["assignment"])
            points = {cell.name: cell.max_score for cell in notebook.grade_cells}
            solutions = {cell.name for cell in notebook.solution_cells}
            tasks = {cell.name for cell in notebook.task_cells}
            known = {cell.name for cell in notebook.source_cells} | set(points) | tasks
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader")
            if meta is None:
                continue
            if not isinstance(meta, dict) or meta.get("grade_id") not in known:
                del cell.metadata["nbgrader"]
                continue
            name = meta["grade_id"]
            meta.update(grade=name in points, solution=name in solutions, task=name in tasks)
            meta["schema_version"] = SCHEMA_VERSION
            if name in points:
                meta["points"] = points[name]
            else:
                meta.pop("points", None)
        return nb, resources


class DropDuplicateIds(DeduplicateIds):
    """nbgrader's DeduplicateIds (the last cell with an id keeps it), except that the
    earlier copies lose their nbgrader metadata altogether: the empty metadata nbgrader
    leaves behind fails its own validation, which would cost the student every point."""

    def preprocess(self, nb, resources):
        nb, resources = super().preprocess(nb, resources)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader") == {}:
                del cell.metadata["nbgrader"]
        return nb, resources


class SandboxExecute(NbGraderPreprocessor):
    """Run the notebook's code cells in the worker given in ``resources["sandbox"]``."""

    def preprocess(self, nb, resources):
        worker, limits, separate = resources["sandbox"]
        cells = [
            Cell(i, cell.source, utils.is_grade(cell) and not utils.is_solution(cell))
            for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code"
        ]
        execution = execute(worker, cells, limits, separate)
        for index, (count, outputs) in execution.results.items():
            nb.cells[index].execution_count = count
            nb.cells[index].outputs = [nbformat.from_dict(o) for o in outputs]
        for index, (start, end) in execution.timing.items():
            # The keys nbclient uses, so tools that read kernels' timings read these too.
            nb.cells[index].metadata["execution"] = {
                "iopub.execute_input": _iso(start),
                "shell.execute_reply": _iso(end),
            }
        resources["incidents"] = execution.incidents
        return nb, resources


# How this grader's steps differ from nbgrader's own lists (``Autograde.sanitize_preprocessors``
# and ``Autograde.autograde_preprocessors``, read from the configuration as nbgrader reads
# them): these preprocessors are swapped for others, and some get options.
REPLACED: dict[type, list[type]] = {
    # RestoreCellRoles first: DeduplicateIds skips cells that claim no role.
    DeduplicateIds: [RestoreCellRoles, DropDuplicateIds],
    Execute: [SandboxExecute],
}
OPTIONS: dict[type, dict[str, Any]] = {OverwriteCells: {"add_missing_cells": True}}

Steps = list[tuple[type, dict[str, Any]]]


def sanitize_steps(preprocessors: list[Any]) -> Steps:
    """nbgrader's sanitising preprocessors, with this grader's replacements and options."""
    return [(p, OPTIONS.get(p, {})) for p in _replaced(preprocessors)]


def autograde_steps(preprocessors: list[Any]) -> tuple[Steps, Steps, Steps]:
    """nbgrader's autograding preprocessors as (before, execution, after) the sandbox runs
    the notebook. nbgrader checks the cells' metadata again after executing; execution here
    touches only outputs and timings, so that second (and slowest) check is left out."""
    steps = [(p, OPTIONS.get(p, {})) for p in _replaced(preprocessors)]
    executes = [i for i, (p, _) in enumerate(steps) if p is SandboxExecute]
    if len(executes) != 1:
        raise ValueError(
            "Autograde.autograde_preprocessors must hold nbgrader's Execute exactly once: "
            f"the sandbox runs the notebook in its place (got {preprocessors})"
        )
    at = executes[0]
    after = [(p, o) for p, o in steps[at + 1 :] if not issubclass(p, CheckCellMetadata)]
    return steps[:at], steps[at : at + 1], after


def _replaced(preprocessors: list[Any]) -> list[type]:
    classes = []
    for preprocessor in preprocessors:
        cls = import_item(preprocessor) if isinstance(preprocessor, str) else preprocessor
        replaced = next((new for old, new in REPLACED.items() if issubclass(cls, old)), [cls])
        classes += replaced
    return classes


@dataclass
class Outcome:
    """What happened to one submission. status: graded, skipped (already graded) or
    failed; problems: one line per notebook that could not be graded; incidents: cells
    that were stopped or skipped while it ran."""

    assignment: str
    student: str
    status: str = "graded"
    problems: list[str] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)


class SandboxedAutograde(Autograde):
    """nbgrader's Autograde for one worker thread; :meth:`grade` does one submission.

    worker: this thread's sandbox; limits: per-submission limits; lock: shared by all
    threads, held for every gradebook access.
    """

    def __init__(self, coursedir, worker: Worker, limits: Limits, lock: threading.Lock, **kw):
        super().__init__(coursedir=coursedir, **kw)
        self.sanitize = sanitize_steps(self.sanitize_preprocessors)
        self.before, self.execute, self.after = autograde_steps(self.autograde_preprocessors)
        self.worker = worker
        self.limits = limits
        self.lock = lock
        self.in_process = set(Safegrade(config=self.config).in_process)
        self.exporter = NotebookExporter(parent=self)
        self.writer = FilesWriter(parent=self)

    def grade(self, assignment: str, student: str) -> Outcome:
        """Autograde ``student``'s submission of ``assignment`` into the gradebook."""
        outcome = Outcome(assignment, student)
        self.coursedir.assignment_id, self.coursedir.student_id = assignment, student
        pattern = os.path.join(
            self._format_source(assignment, student), self.coursedir.notebook_id + ".ipynb"
        )
        self.notebooks = sorted(glob.glob(pattern))
        if not self.init_destination(assignment, student):
            outcome.status = "skipped"
            return outcome
        with self.lock:
            self.run_pre_convert_hook()
            self.init_assignment(assignment, student)
        for filename in self.notebooks:
            self._grade_notebook(filename, outcome)
        self.set_permissions(assignment, student)
        self.run_post_convert_hook()
        if outcome.problems:
            outcome.status = "failed"
        return outcome

    def _grade_notebook(self, filename: str, outcome: Outcome) -> None:
        resources = self.init_single_notebook_resources(filename)
        resources["output_extension"] = ".ipynb"
        separate = self.coursedir.assignment_id not in self.in_process
        resources["sandbox"] = (self.worker, self.limits, separate)
        name = os.path.basename(filename)
        try:
            nb = nbformat.read(filename, as_version=4)
            with self.lock:
                nb, resources = self._apply(self.sanitize, nb, resources)
                nb, resources = self._apply(self.before, nb, resources)
        except Exception as error:  # whatever a broken file raises
            outcome.problems.append(f"{name} could not be read ({_short(error)}); scored 0")
            with self.lock:
                self._score_zero(resources)
            return
        nb, resources = self._apply(self.execute, nb, resources)
        outcome.incidents += [f"{name} {line}" for line in resources.get("incidents", [])]
        for cell in nb.cells:  # cells nbgrader put back have no id yet
            cell.setdefault("id", random_cell_id())
        with self.lock:
            nb, resources = self._apply(self.after, nb, resources)
            self.write_single_notebook(nbformat.writes(nb), resources)

    def _apply(self, steps: Steps, nb, resources):
        for preprocessor, options in steps:
            nb, resources = preprocessor(parent=self, **options)(nb, resources)
        return nb, resources

    def _score_zero(self, resources: dict[str, Any]) -> None:
        """What nbgrader does for a missing notebook: every grade 0, nothing to review."""
        names = resources["nbgrader"]
        with Gradebook(names["db_url"], self.coursedir.course_id) as gb:
            notebook = gb.find_submission_notebook(
                names["notebook"], names["assignment"], names["student"]
            )
            for grade in notebook.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
            gb.db.commit()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200] if text else ''}"
