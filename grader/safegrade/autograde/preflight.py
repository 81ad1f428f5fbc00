"""Find the submissions that cannot be graded as they are, before grading anything.

nbgrader grades ``submitted/<student>/<assignment>/<notebook>.ipynb`` only when
``<notebook>`` is a notebook of the released assignment. Two everyday mistakes break
that, and nbgrader's own message for both ("did you forget to run generate_assignment?")
names neither:

- the assignment was never released (``make release`` not run): the gradebook does not
  know it;
- a notebook was renamed on the way, typically by a browser that already had a copy
  (``ch01_closed_loop (1).ipynb``), or saved as something else (``ch01_closed_loop.py``).

:func:`screen` sorts the submissions into those to grade and :class:`Ungradable` ones,
each with the reason and the fix. Files are never renamed or moved here: the instructor
decides, and the fix says what to do.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy
from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory


@dataclass(frozen=True)
class Ungradable:
    """A submission the grader left alone (or could not read). file: the file at fault,
    relative to the submission's folder ("" for the whole submission)."""

    student: str
    assignment: str
    file: str
    reason: str
    fix: str


@dataclass
class Screen:
    """gradable: (assignment, student) pairs to grade; ungradable: the others, one entry
    per problem; missing: (assignment, student) pairs with nothing submitted, for the
    students and assignments of this run; released: assignment -> its notebooks' names."""

    gradable: list[tuple[str, str]] = field(default_factory=list)
    ungradable: list[Ungradable] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)
    released: dict[str, list[str]] = field(default_factory=dict)


def gradebook_exists(db_url: str) -> bool:
    """Whether the gradebook holds nbgrader's tables. Opening a ``Gradebook`` creates
    them (and runs ``alembic``): that is for the grading itself, not for looking."""
    url = sqlalchemy.engine.make_url(db_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).exists()):
        return False
    engine = sqlalchemy.create_engine(url)
    try:
        return "assignment" in sqlalchemy.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def released_notebooks(db_url: str) -> dict[str, list[str]]:
    """Every assignment in the gradebook and the names of its notebooks."""
    if not gradebook_exists(db_url):
        return {}
    with Gradebook(db_url) as gb:
        return {a.name: sorted(n.name for n in a.notebooks) for a in gb.assignments}


def screen(
    coursedir: CourseDirectory,
    submissions: list[tuple[str, str]],
    students: set[str] | None = None,
) -> Screen:
    """Sort ``submissions`` ((assignment, student) pairs under ``submitted/``).

    students: everyone who submitted anything (for the missing submissions of this run's
    assignments); default: the students of ``submissions``.
    """
    result = Screen(released=released_notebooks(coursedir.db_url))
    for assignment, student in submissions:
        folder = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
        problems = check_submission(folder, student, assignment, result.released.get(assignment))
        if problems:
            result.ungradable += problems
        else:
            result.gradable.append((assignment, student))
    submitted = set(submissions)
    everyone = students if students is not None else {s for _, s in submissions}
    assignments = sorted({a for a, _ in submissions if a in result.released})
    result.missing = [
        (a, s) for s in sorted(everyone) for a in assignments if (a, s) not in submitted
    ]
    return result


def check_submission(
    folder: Path, student: str, assignment: str, notebooks: list[str] | None
) -> list[Ungradable]:
    """What keeps one submission from being graded (empty: nothing).

    notebooks: the released notebooks' names (None: the assignment is not released).
    A notebook with the right name is always graded, even when it is not valid: the
    grader scores it 0 and says so.
    """

    def problem(file: str, reason: str, fix: str) -> Ungradable:
        return Ungradable(student, assignment, file, reason, fix)

    if notebooks is None:
        return [
            problem(
                "",
                f"assignment {assignment} is not released (the gradebook does not know it)",
                "run make release first (or fix the folder's name if it is misspelled), "
                "then make autograde",
            )
        ]
    files = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    present = {Path(f).stem for f in files if f.endswith(".ipynb")}
    absent = [n for n in notebooks if n not in present]
    expected = ", ".join(f"{n}.ipynb" for n in notebooks)
    problems = []
    strays = [f for f in files if f.endswith(".ipynb") and Path(f).stem not in notebooks]
    for name in strays:
        intended = intended_name(name, notebooks, absent, len(strays))
        if intended and intended in present:
            fix = (
                f"keep the version the student meant as {intended}.ipynb and delete the "
                f"other (both {name} and {intended}.ipynb were submitted)"
            )
        elif intended:
            fix = f"rename it to {intended}.ipynb (it was not renamed automatically)"
        else:
            fix = f"rename it to the notebook it answers ({expected})"
        problems.append(problem(name, f"{name} is not a notebook of {assignment}", fix))
    if absent and len(absent) == len(notebooks) and not strays:
        # (a submission holding some of several notebooks is graded: the rest score 0)
        others = [f for f in files if not f.endswith(".ipynb")]
        for missing in absent:
            lookalike = next((f for f in others if _stem(f) == _normalise(missing)), None)
            if lookalike and lookalike.lower().startswith(f"{missing.lower()}.ipynb"):
                reason = f"{lookalike} is a notebook saved under another extension"
                fix = f"rename it to {missing}.ipynb"
            elif lookalike:
                reason = f"{lookalike} is not a notebook (no {missing}.ipynb was submitted)"
                fix = (
                    f"ask {student} for {missing}.ipynb (in Jupyter: File > Download), "
                    "then make autograde"
                )
            else:
                found = f" (found only {', '.join(others)})" if others else " (the folder is empty)"
                reason = f"no {missing}.ipynb was submitted{found}"
                fix = f"ask {student} for {missing}.ipynb, or remove the empty folder"
            problems.append(problem(lookalike or "", reason, fix))
    return problems


# What browsers, download managers and operating systems add to a name they rename.
_DECORATIONS = [
    r"\s*\(\d+\)$",  # "name (1)"
    r"\s*-\s*copy(\s*\(\d+\))?$",  # "name - Copy", "name - Copy (2)"
    r"\s*copy(\s*\d+)?$",  # "name copy", "name copy 2"
    r"^copy of\s+",  # "Copy of name"
    r"[\s_-]+\d+$",  # "name-1", "name_2", "name 3"
    r"\.ipynb$",  # "name.ipynb.ipynb"
]


def _normalise(name: str) -> str:
    name = name.strip().lower()
    changed = True
    while changed:
        changed = False
        for pattern in _DECORATIONS:
            stripped = re.sub(pattern, "", name).strip()
            if stripped != name and stripped:
                name, changed = stripped, True
    return re.sub(r"[\s-]+", "_", name)


def _stem(filename: str) -> str:
    """A file's name without its extensions (``a.ipynb.txt`` -> ``a``), normalised."""
    return _normalise(filename.split(os.extsep, 1)[0])


def intended_name(filename: str, notebooks: list[str], absent: list[str], strays: int) -> str:
    """The notebook a misnamed file most likely is, or "" when that is not clear.

    The name without what renaming adds (`` (1)``, ``Copy of``, ``-2``, case) names one
    released notebook; or exactly one notebook is missing and this is the only stray file.
    """
    stem = _normalise(filename[: -len(".ipynb")] if filename.endswith(".ipynb") else filename)
    matches = [n for n in notebooks if _normalise(n) == stem]
    if len(matches) == 1:
        return matches[0]
    if len(absent) == 1 and strays == 1:
        return absent[0]
    return ""
