"""A throwaway nbgrader course for tests: release, submit, autograde, read the scores.

Grading goes through `python -m safegrade.autograde`, the command behind `make autograde`.
Scores come from the gradebook, never from a command's exit status.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

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


@dataclass(frozen=True)
class Run:
    """How one autograde command ended: its exit status, what it printed, how long it took."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def about(self, student: str, assignment: str) -> list[str]:
        """The lines of the summary that name this submission."""
        return [line for line in self.stdout.splitlines() if f" {student}/{assignment}" in line]

    def failure(self) -> str:
        """Why the command failed, for a test's message ('' when it exited 0)."""
        if self.returncode == 0:
            return ""
        return f"autograde exited {self.returncode}:\n{self.stdout[-6000:]}\n{self.stderr[-6000:]}"


def run_autograde(course: Path, *args: str, timeout: float = 1800) -> Run:
    """Run the instructors' grader (what `make autograde` runs) in `course`, whatever it
    exits with, so that each test reading its results judges its own part."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    command = [sys.executable, "-m", "safegrade.autograde", "--no-progress", *args]
    start = time.monotonic()
    try:
        run = subprocess.run(
            command, cwd=course, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as error:
        stdout, stderr = (
            x.decode(errors="replace") if isinstance(x, bytes) else (x or "")
            for x in (error.stdout, error.stderr)
        )
        return Run(-1, stdout, f"{stderr}\nkilled after {timeout:.0f} s", timeout)
    return Run(run.returncode, run.stdout, run.stderr, time.monotonic() - start)


def autograde_command(course: Path, *args: str, timeout: float = 900) -> str:
    """Run the instructors' grader (what `make autograde` runs) in `course`; its output.

    Raises with the output if it exits non-zero (a broken submission does not do that: it
    is scored 0 and listed).
    """
    run = run_autograde(course, *args, timeout=timeout)
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


def batch_file(course: Path, assignment: str) -> Path:
    """Where `grade_batches` writes what the tests of one assignment read back."""
    return course / f"batch-{assignment}.json"


@dataclass(frozen=True)
class Batch:
    """One assignment's part of the autograde run, read back by the tests that need it.

    The submissions: ``solution``, ``released``, ``blank-<answer_id>`` for each autograded
    answer (tests/test_autograder.py), and the per-assignment hostile cases by name
    (tests/test_hostile.py; ``solution`` and ``released`` are cases too, the same files).
    ``cases`` maps each case to ``{"expected": points by test id, "what": ...}``, or to
    ``{"error": ...}`` when the case could not be built.
    """

    course: Path
    assignment: str
    answers: list[Answer]
    cases: dict[str, dict]
    run: Run

    @classmethod
    def load(cls, course: Path, assignment: str) -> Batch:
        data = json.loads(batch_file(course, assignment).read_text())
        return cls(
            course,
            data["assignment"],
            [Answer(*a) for a in data["answers"]],
            data["cases"],
            Run(**data["run"]),
        )

    def scores(self, student: str) -> dict[str, float | None]:
        """The submission's scores by test id; fails, with what the grader said about it,
        if it was not graded or the grader reported an error of its own on it."""
        said = self.run.about(student, self.assignment)
        errors = [line for line in said if line.lstrip().startswith("ERROR")]
        if errors:
            raise AssertionError("the grader failed on this submission:\n" + "\n".join(errors))
        try:
            return scores(self.course, self.assignment, student)
        except MissingEntry:
            said_text = "\n".join(said)
            raise AssertionError(
                f"{student}/{self.assignment} was not graded.\n{said_text}\n"
                + (self.run.failure() or self.run.stdout[-3000:])
            ) from None


def submit_cases(
    course: Path, assignment: str, cases: dict[str, object], skip: tuple[str, ...] = ()
) -> dict[str, dict]:
    """Submit each hostile case (hostile.Case, or the exception that stopped one from being
    built) as the student named after it; the records `Batch.cases` holds.

    skip: cases whose notebook is already submitted under their name.
    """
    records: dict[str, dict] = {}
    for name, case in cases.items():
        if isinstance(case, Exception):
            records[name] = {"error": f"{type(case).__name__}: {case}"}
            continue
        records[name] = {"expected": case.expected, "what": case.what}
        if name not in skip:
            folder = course / "submitted" / name / assignment
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{assignment}.ipynb").write_bytes(case.notebook)
    return records


def submit_batch(course: Path, assignment: str, cases: dict[str, object]) -> dict:
    """Submit, in `course` (a copy of the released course), everything the per-assignment
    tests check of `assignment`; returns its record for `grade_batches`.

    cases: per-assignment hostile cases by name (see `submit_cases`); ``solution`` and
    ``released`` among them are the round trip's submissions of the same name.
    """
    released = nbformat.read(course / "exercises" / assignment / f"{assignment}.ipynb", 4)
    solution = nbformat.read(course / "solutions" / assignment / f"{assignment}.ipynb", 4)
    answers = autograded_answers(solution)
    submit(course, "solution", assignment, solution)
    submit(course, "released", assignment, released)
    for answer in answers:
        blank = blank_answer(solution, released, answer.answer_id)
        submit(course, f"blank-{answer.answer_id}", assignment, blank)
    return {
        "assignment": assignment,
        "answers": [[a.answer_id, a.test_id, a.points] for a in answers],
        "cases": submit_cases(course, assignment, cases, skip=("solution", "released")),
    }


def grade_batches(course: Path, records: dict[str, dict]) -> None:
    """Grade everything submitted in `course` in one autograde run (every sandbox busy from
    the first submission to the last, each warmed up once) and write each assignment's
    record, with the run, where `Batch.load` reads it."""
    run = run_autograde(course, "--force")
    for assignment, record in records.items():
        record = {**record, "run": dataclasses.asdict(run)}
        batch_file(course, assignment).write_text(json.dumps(record))
