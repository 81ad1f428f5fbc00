"""``make grades`` (``nbgrader export``): grades.csv that tells a missing submission from a 0.

nbgrader's CSV exporter writes 0 for a student who submitted nothing, the same as for a
notebook that scored nothing. :class:`StatusCsvExport`, configured in the course's
``nbgrader_config.py`` as ``c.ExportApp.plugin_class``, writes nbgrader's columns plus a
``status`` for each student and assignment:

- ``graded``: autograded; ``score`` is the score (``needs_manual_grade`` says whether
  written answers still wait for the formgrader);
- ``missing``: nothing submitted; the score columns are empty, not 0;
- ``ungradable``: a submission the grader could not grade as it is (a misnamed or
  unreadable notebook, see ``note``); empty score when it was never graded, 0 when the
  grader scored an unreadable notebook 0;
- ``submitted``: in ``submitted/`` but not autograded yet (run ``make autograde``).

Beside it, ``<name>_by_question.csv`` holds one row per graded cell of every graded
submission (student, assignment, notebook, question id, score, max score).
"""

from __future__ import annotations

import csv
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins import ExportPlugin

from .autograde.preflight import check_submission

COLUMNS = [
    "assignment",
    "duedate",
    "timestamp",
    "student_id",
    "last_name",
    "first_name",
    "email",
    "status",
    "raw_score",
    "late_submission_penalty",
    "score",
    "max_score",
    "needs_manual_grade",
    "note",
]
QUESTION_COLUMNS = [
    "student_id",
    "assignment",
    "notebook",
    "question",
    "score",
    "max_score",
    "needs_manual_grade",
]


class StatusCsvExport(ExportPlugin):
    """nbgrader's CSV export with a ``status`` column (graded, missing, ungradable,
    submitted) and empty scores for what was never graded; ``--to`` names the file
    (default grades.csv)."""

    def export(self, gradebook: Gradebook) -> None:
        dest = Path(self.to or "grades.csv")
        coursedir = getattr(self.parent, "coursedir", None) or CourseDirectory(config=self.config)
        rows, questions = export_rows(
            gradebook, coursedir, [str(s) for s in self.student], [str(a) for a in self.assignment]
        )
        with dest.open("w", newline="") as f:
            writer = csv.DictWriter(f, COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        by_question = dest.with_name(f"{dest.stem}_by_question{dest.suffix or '.csv'}")
        with by_question.open("w", newline="") as f:
            writer = csv.DictWriter(f, QUESTION_COLUMNS)
            writer.writeheader()
            writer.writerows(questions)
        counts = {}
        for row in rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        self.log.info("Wrote %s (%s) and %s", dest, summary or "nothing", by_question)


def _submitted_students(coursedir: CourseDirectory) -> set[str]:
    root = Path(coursedir.root) / coursedir.submitted_directory
    return {p.name for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()


def export_rows(
    gradebook: Gradebook,
    coursedir: CourseDirectory,
    students: list[str] | None = None,
    assignments: list[str] | None = None,
) -> tuple[list[dict], list[dict]]:
    """(one row per assignment and student, one row per graded cell) for the CSV files.

    Students are the gradebook's and everyone with a folder in ``submitted/`` (a student
    whose only upload was misnamed is in no gradebook yet).
    """
    known = {s.id: s for s in gradebook.students}
    everyone = sorted(set(known) | _submitted_students(coursedir))
    rows, questions = [], []
    for assignment in gradebook.assignments:
        if assignments and assignment.name not in assignments:
            continue
        notebooks = sorted(n.name for n in assignment.notebooks)
        for student_id in everyone:
            if students and student_id not in students:
                continue
            student = known.get(student_id)
            row = {key: "" for key in COLUMNS}
            row.update(
                assignment=assignment.name,
                duedate=assignment.duedate or "",
                student_id=student_id,
                last_name=(student.last_name if student else "") or "",
                first_name=(student.first_name if student else "") or "",
                email=(student.email if student else "") or "",
                max_score=assignment.max_score,
            )
            try:
                submission = gradebook.find_submission(assignment.name, student_id)
            except MissingEntry:
                submission = None
            folder = Path(
                coursedir.format_path(coursedir.submitted_directory, student_id, assignment.name)
            )
            if submission is None:
                problems = (
                    check_submission(folder, student_id, assignment.name, notebooks)
                    if folder.is_dir()
                    else []
                )
                if not folder.is_dir():
                    row["status"] = "missing"
                elif problems:
                    row["status"] = "ungradable"
                    row["note"] = "; ".join(f"{p.reason}: {p.fix}" for p in problems)
                else:
                    row["status"] = "submitted"
                    row["note"] = "not autograded yet: run make autograde"
                rows.append(row)
                continue
            penalty = submission.late_submission_penalty or 0.0
            row.update(
                timestamp=submission.timestamp or "",
                raw_score=submission.score,
                late_submission_penalty=penalty,
                score=max(0.0, submission.score - penalty),
                needs_manual_grade=submission.needs_manual_grade,
                status="graded",
            )
            autograded = Path(
                coursedir.format_path(coursedir.autograded_directory, student_id, assignment.name)
            )
            unread = [n for n in notebooks if not (autograded / f"{n}.ipynb").exists()]
            if unread:
                row["status"] = "ungradable"
                row["note"] = (
                    f"{', '.join(n + '.ipynb' for n in unread)} could not be graded "
                    "(scored 0): see make autograde's summary"
                )
            rows.append(row)
            for notebook in submission.notebooks:
                for grade in sorted(notebook.grades, key=lambda g: g.name):
                    questions.append(
                        {
                            "student_id": student_id,
                            "assignment": assignment.name,
                            "notebook": notebook.name,
                            "question": grade.name,
                            "score": grade.score,
                            "max_score": grade.max_score,
                            "needs_manual_grade": grade.needs_manual_grade,
                        }
                    )
    return rows, questions
