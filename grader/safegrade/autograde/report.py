"""What ``make autograde`` prints at the end: scores, stopped cells, ungradable files.

:func:`collect` reads the scores of this run's submissions back from the gradebook and the
cells the grader stopped from the autograded notebooks; :func:`format_summary` writes the
summary. One vocabulary throughout, the progress bar's included:

- *graded*: graded in this run; *already graded*: graded before (``--force`` regrades);
- *ungradable*: the file is at fault (misnamed, not released, not a notebook): it was not
  graded, or scored 0, and the summary says how to fix it;
- *missing*: a student of this run submitted nothing for one of its assignments;
- *stopped*: a cell the grader stopped (time or memory limit, crash): it scores 0, the
  rest of the notebook is graded;
- *grader errors*: the grader's own failures (exit status 1).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory

from .preflight import gradebook_exists

if TYPE_CHECKING:
    from .preflight import Screen
    from .scheduler import Summary

# The status of a (student, assignment) row, as the table shows it.
GRADED, ALREADY, UNGRADABLE, MISSING, ERROR = (
    "graded",
    "already graded",
    "ungradable",
    "missing",
    "grader error",
)


@dataclass(frozen=True)
class Row:
    """One line of the score table. score: None when nothing was graded; max_score: None
    when the assignment is not released; stopped: cells stopped in its notebooks; manual:
    answers still to grade by hand (the formgrader)."""

    student: str
    assignment: str
    status: str
    score: float | None = None
    max_score: float | None = None
    stopped: int = 0
    manual: bool = False


@dataclass(frozen=True)
class Stopped:
    """A cell the grader stopped. cell: its index in the notebook ("" for the whole
    submission); label: its grade_id, if any."""

    student: str
    assignment: str
    notebook: str
    cell: str
    label: str
    reason: str

    def line(self) -> str:
        where = f"{self.student}/{self.assignment}: {self.notebook}"
        cell = f" cell {self.cell}" if self.cell != "" else " submission"
        label = f" ({self.label})" if self.label else ""
        return f"{where}{cell}{label}: {self.reason}"


_INCIDENT = re.compile(r"^(?P<notebook>.+?\.ipynb) (?:cell (?P<cell>\d+)|submission): (?P<why>.*)$")


def collect(
    summary: Summary, coursedir: CourseDirectory, screen: Screen, cell_timeout: float
) -> None:
    """Fill ``summary.rows`` (every submission of the run, graded or not, and the missing
    ones) and ``summary.stopped`` (the cells stopped in this run)."""
    outcomes = {(o.assignment, o.student): o for o in summary.outcomes}
    rows, stopped = [], []
    with contextlib.ExitStack() as stack:
        # (no gradebook: nothing was released, and opening one would create it)
        exists = outcomes and gradebook_exists(coursedir.db_url)
        gb = stack.enter_context(Gradebook(coursedir.db_url)) if exists else None
        maxima = {a.name: a.max_score for a in gb.assignments} if gb else {}
        for (assignment, student), outcome in outcomes.items():
            status = {"graded": GRADED, "skipped": ALREADY, "failed": UNGRADABLE}.get(
                outcome.status, ERROR
            )
            score, manual = None, False
            try:
                if gb is not None:
                    submission = gb.find_submission(assignment, student)
                    score, manual = submission.score, submission.needs_manual_grade
            except MissingEntry:
                pass
            cells = _stopped_cells(coursedir, outcome, cell_timeout)
            if outcome.status == "graded":
                stopped += cells
            top = maxima.get(assignment)
            rows.append(Row(student, assignment, status, score, top, len(cells), manual))
    for assignment, student in sorted({(u.assignment, u.student) for u in screen.ungradable}):
        rows.append(Row(student, assignment, UNGRADABLE, None, maxima.get(assignment)))
    for assignment, student in screen.missing:
        rows.append(Row(student, assignment, MISSING, None, maxima.get(assignment)))
    summary.rows = sorted(rows, key=lambda r: (r.student, r.assignment))
    summary.stopped = stopped


def _stopped_cells(coursedir: CourseDirectory, outcome, cell_timeout: float) -> list[Stopped]:
    """The outcome's incidents, and the cells its autograded notebooks show interrupted by
    the time limit (those end in a CellTimeoutError and are no incident)."""
    found: dict[tuple[str, str], Stopped] = {}
    labels: dict[str, list[str]] = {}
    folder = Path(
        coursedir.format_path(coursedir.autograded_directory, outcome.student, outcome.assignment)
    )
    for path in sorted(folder.glob("*.ipynb")) if folder.is_dir() else []:
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # a notebook written by the grader; unreadable means none found
            continue
        labels[path.name] = [c.metadata.get("nbgrader", {}).get("grade_id", "") for c in nb.cells]
        reason = f"the cell ran past its time limit ({cell_timeout:g} s) and was stopped"
        for index, cell in enumerate(nb.cells):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error" and output.get("ename") == (
                    "CellTimeoutError"
                ):
                    found[path.name, str(index)] = Stopped(
                        outcome.student,
                        outcome.assignment,
                        path.name,
                        str(index),
                        labels[path.name][index],
                        reason,
                    )
    for line in outcome.incidents:
        match = _INCIDENT.match(line)
        if not match:
            found["", line] = Stopped(outcome.student, outcome.assignment, "", "", "", line)
            continue
        notebook, cell = match["notebook"], match["cell"] or ""
        names = labels.get(notebook, [])
        label = names[int(cell)] if cell and int(cell) < len(names) else ""
        found[notebook, cell] = Stopped(
            outcome.student, outcome.assignment, notebook, cell, label, match["why"]
        )
    return list(found.values())


def counts(summary: Summary) -> dict[str, int]:
    """Submissions by what happened to them, in the table's words."""
    ungradable = {(u.assignment, u.student) for u in summary.ungradable}
    return {
        GRADED: summary.count("graded"),
        ALREADY: summary.count("skipped"),
        UNGRADABLE: summary.count("failed") + len(ungradable),
        "grader errors": summary.count("error"),
    }


def _score(row: Row) -> str:
    score = "–" if row.score is None else f"{row.score:g}"
    top = "?" if row.max_score is None else f"{row.max_score:g}"
    return f"{score} / {top}"


def _marker(row: Row) -> str:
    if row.status == UNGRADABLE:
        return "UNGRADABLE (see below)"
    if row.status == MISSING:
        return "missing (nothing submitted)"
    if row.status == ERROR:
        return "GRADER ERROR (see below)"
    marks = [] if row.status == GRADED else [row.status]
    if row.stopped:
        marks.append(f"{row.stopped} cell{'s' if row.stopped > 1 else ''} stopped")
    if row.manual:
        marks.append("written answers to grade by hand (make formgrader)")
    return ", ".join(marks)


def table(rows: list[Row]) -> list[str]:
    """The score table, one line per student and assignment."""
    head = ("student", "assignment", "score", "")
    cells = [head] + [(r.student, r.assignment, _score(r), _marker(r)) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(3)]
    lines = []
    for student, assignment, score, marker in cells:
        line = f"  {student:<{widths[0]}}  {assignment:<{widths[1]}}  {score:>{widths[2]}}"
        lines.append(f"{line}  {marker}".rstrip())
    return lines


def _fix_for(problem: str) -> str:
    if "could not be read" in problem:
        return (
            "ask the student to submit the notebook again (in Jupyter: File > Download), "
            "then make autograde AUTOGRADE_ARGS=--force"
        )
    return "see the message; then make autograde AUTOGRADE_ARGS=--force"


def format_summary(summary: Summary) -> str:
    """Everything ``make autograde`` prints after the progress bar."""
    numbers = counts(summary)
    total = sum(numbers.values())
    rate = len(summary.outcomes) / summary.seconds if summary.seconds else 0.0
    missing = sum(r.status == MISSING for r in summary.rows)
    lines = [
        f"{total} submission{'' if total == 1 else 's'} in {summary.seconds:.1f} s ({rate:.2f}/s): "
        + ", ".join(f"{n} {word}" for word, n in numbers.items())
        + f"; {missing} missing"
    ]
    if not summary.rows and not summary.errors:
        lines.append(
            "Nothing to grade: put submissions in "
            "submitted/<student_id>/<assignment>/<assignment>.ipynb"
        )
    if summary.rows:
        lines += ["", "Scores (from the gradebook):", *table(summary.rows)]
    if summary.stopped:
        lines += ["", "Stopped cells (each scores 0; the rest of its notebook was graded):"]
        lines += [f"  STOPPED {s.line()}" for s in summary.stopped]
    failed = [o for o in summary.outcomes if o.status == "failed"]
    if summary.ungradable or failed:
        lines += ["", "Ungradable (not graded, or scored 0): fix each, then make autograde again"]
        shared: dict[tuple[str, str, str], list[str]] = {}
        for u in summary.ungradable:
            if u.file:
                lines.append(f"  FAILED {u.student}/{u.assignment}: {u.reason}")
                lines.append(f"         fix: {u.fix}")
            else:  # one line for every student with the same problem
                shared.setdefault((u.assignment, u.reason, u.fix), []).append(u.student)
        for (assignment, reason, fix), students in shared.items():
            for student in students:
                lines.append(f"  FAILED {student}/{assignment}: {reason}")
            lines.append(f"         fix: {fix}")
        for outcome in failed:
            for problem in outcome.problems:
                lines.append(f"  FAILED {outcome.student}/{outcome.assignment}: {problem}")
                lines.append(f"         fix: {_fix_for(problem)}")
    errors = [o for o in summary.outcomes if o.status == "error"]
    if errors or summary.errors:
        lines += ["", "Grader errors (the grader's fault, not the student's):"]
        for outcome in errors:
            for problem in outcome.problems:
                lines.append(f"  ERROR  {outcome.student}/{outcome.assignment}: {problem}")
        lines += [f"  ERROR  {line}" for line in summary.errors]
    # Incidents of outcomes that were not graded in this run (none today), kept visible.
    for outcome in summary.outcomes:
        if outcome.status not in ("graded",):
            for line in outcome.incidents:
                lines.append(f"  note   {outcome.student}/{outcome.assignment}: {line}")
    return "\n".join(lines)
