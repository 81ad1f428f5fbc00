"""A throwaway nbgrader course for tests: release, submit, autograde, read the scores.

Grading goes through `python -m safegrade.autograde`, the command behind `make autograde`.
Scores come from the gradebook, never from a command's exit status.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())


def nbgrader(course: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run an nbgrader command in `course`; raise with its output if it exits non-zero."""
    # nbgrader shells out to `alembic` and `jupyter`: they live beside this interpreter.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if run.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{run.stdout}\n{run.stderr}")
    return run


def new_course(where: Path, assignments: list[str]) -> Path:
    """A course directory holding our config and the given assignments' sources."""
    shutil.copy(ROOT / "nbgrader_config.py", where / "nbgrader_config.py")
    for name in assignments:
        shutil.copytree(ROOT / "solutions" / name, where / "solutions" / name)
    return where


def copy_course(released: Path, where: Path, assignments: list[str]) -> Path:
    """A new course in `where` with the given assignments of an already released course
    (the `released_course` fixture): config, sources, releases and the gradebook."""
    shutil.copy(released / "nbgrader_config.py", where / "nbgrader_config.py")
    shutil.copy(released / "gradebook.db", where / "gradebook.db")
    for name in assignments:
        for folder in ("solutions", "exercises"):
            shutil.copytree(released / folder / name, where / folder / name)
    return where


def release(course: Path, assignment: str) -> Path:
    """Generate the student version; returns the released notebook's path."""
    nbgrader(course, "generate_assignment", assignment, "--force")
    return course / "exercises" / assignment / f"{assignment}.ipynb"


def release_all(course: Path) -> dict[str, Path]:
    """Generate every assignment of the course in one nbgrader run; released paths by name."""
    nbgrader(course, "generate_assignment", "*", "--force")
    names = sorted(p.name for p in (course / "solutions").iterdir() if p.is_dir())
    return {name: course / "exercises" / name / f"{name}.ipynb" for name in names}


def nbgrader_cells(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """Cells with nbgrader metadata, by grade_id, in notebook order."""
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


@dataclass(frozen=True)
class Answer:
    """An autograded answer cell and the one test cell that grades it."""

    answer_id: str
    test_id: str
    points: float


def autograded_answers(nb: nbformat.NotebookNode) -> list[Answer]:
    """Pair every autograded answer cell with the test cells between it and the next answer.

    Raises AssertionError unless each answer is graded by exactly one test cell: that is
    what makes "blanking one answer loses exactly its points" checkable.
    """
    pairs: list[Answer] = []
    pending: str | None = None
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and not meta.get("grade") and cell.cell_type == "code":
            assert pending is None, f"answer {pending} has no test cell before the next answer"
            pending = meta["grade_id"]
        elif meta.get("grade") and not meta.get("solution"):
            assert pending is not None, f"test cell {meta['grade_id']} follows no answer cell"
            pairs.append(Answer(pending, meta["grade_id"], float(meta["points"])))
            pending = None
    assert pending is None, f"answer {pending} has no test cell"
    return pairs


def submit(course: Path, student: str, assignment: str, nb: nbformat.NotebookNode) -> None:
    """Place a notebook where nbgrader expects a student's submission."""
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{assignment}.ipynb")


def autograde_command(course: Path, *args: str, timeout: float = 900) -> str:
    """Run the instructors' grader (what `make autograde` runs) in `course`; its output.

    Raises with the output if it exits non-zero (a broken submission does not do that: it
    is scored 0 and listed).
    """
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(
        [sys.executable, "-m", "safegrade.autograde", "--no-progress", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if run.returncode != 0:
        raise RuntimeError(
            f"safegrade.autograde {' '.join(args)} failed:\n{run.stdout}\n{run.stderr}"
        )
    return run.stdout


def autograde(course: Path, assignment: str) -> None:
    autograde_command(course, assignment, "--force")


def scores(course: Path, assignment: str, student: str) -> dict[str, float | None]:
    """Automatic score of every graded cell of one submission, by grade_id."""
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    with Gradebook(db_url) as gb:
        notebook = gb.find_submission_notebook(assignment, assignment, student)
        return {grade.name: grade.auto_score for grade in notebook.grades}


def autograded_notebook(course: Path, assignment: str, student: str) -> nbformat.NotebookNode:
    path = course / "autograded" / student / assignment / f"{assignment}.ipynb"
    return nbformat.read(path, as_version=4)


def blank_answer(
    solution: nbformat.NotebookNode, released: nbformat.NotebookNode, answer_id: str
) -> nbformat.NotebookNode:
    """The solution notebook with one answer cell replaced by its released stub."""
    nb = nbformat.from_dict(solution)
    stub = nbgrader_cells(released)[answer_id].source
    nbgrader_cells(nb)[answer_id].source = stub
    return nb
