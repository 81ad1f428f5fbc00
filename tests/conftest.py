"""Fixtures shared by the test modules.

Releasing an assignment (`nbgrader generate_assignment`) takes seconds per assignment, and
the round trip, the hostile corpus and the release check all need the releases: they are
made once per session, in one course that every module copies, and shared by pytest-xdist's
workers through a lock.

Grading an assignment means running its notebook, training included, once per submission:
the round trip (tests/test_autograder.py) and the per-assignment hostile cases
(tests/test_hostile.py) of every assignment share one autograde run (`assignment_batch`),
made by whichever worker asks first and read by the other.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from course import (
    ASSIGNMENTS,
    ROOT,
    Batch,
    copy_course,
    grade_batches,
    new_course,
    release_all,
    submit_batch,
)
from filelock import FileLock
from hostile import PER_ASSIGNMENT_CASES, Corpus


def _shared(tmp_path_factory, worker_id: str) -> Path:
    """A folder of this session that every xdist worker sees."""
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":  # each xdist worker has its own basetemp under a common parent
        shared = shared.parent
    return shared


def _sources_digest() -> str:
    """A digest of everything a release depends on: the sources and the nbgrader config."""
    digest = hashlib.sha256()
    files = [ROOT / "nbgrader_config.py", *sorted((ROOT / "solutions").rglob("*.ipynb"))]
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def released_course(tmp_path_factory, worker_id) -> Path:
    """A course with every assignment released into its exercises/ and gradebook.db.

    Read-only for tests: copy what you need with `course.copy_course`. The folder is named
    after the sources' digest, so workers of one session share it and an edit makes a new one.
    """
    course = _shared(tmp_path_factory, worker_id) / f"released-{_sources_digest()}"
    with FileLock(str(course) + ".lock"):
        if not (course / ".complete").exists():
            course.mkdir(exist_ok=True)
            release_all(new_course(course, ASSIGNMENTS))
            (course / ".complete").touch()
    return course


@pytest.fixture(scope="session")
def assignment_batch(released_course, tmp_path_factory, worker_id) -> Callable[[str], Batch]:
    """batch(assignment): the assignment's part of one autograde run (`course.Batch`).

    The run grades, for every assignment, the round trip's submissions (the solution, the
    released notebook, each answer blanked) and the hostile cases about the assignment's
    own tests (`hostile.PER_ASSIGNMENT_CASES`): one run rather than one per assignment, so
    that the grader's sandboxes start once and stay busy to the end. Graded once per
    session, by the first worker to ask, under a lock; a case that cannot be built is
    recorded for its own test to report.
    """
    course = _shared(tmp_path_factory, worker_id) / f"batches-{_sources_digest()}"
    loaded: dict[str, Batch] = {}

    def batch(assignment: str) -> Batch:
        if not loaded:
            with FileLock(str(course) + ".lock"):
                if not (course / ".complete").exists():
                    if course.exists():  # a run interrupted before it finished
                        shutil.rmtree(course)
                    course.mkdir()
                    copy_course(released_course, course, ASSIGNMENTS)
                    records = {a: submit_batch(course, a, _cases(course, a)) for a in ASSIGNMENTS}
                    grade_batches(course, records)
                    (course / ".complete").touch()
            loaded.update({a: Batch.load(course, a) for a in ASSIGNMENTS})
        return loaded[assignment]

    return batch


def _cases(course: Path, assignment: str) -> dict[str, object]:
    """The per-assignment hostile cases of `assignment`, or the error that stopped them."""
    solution = nbformat.read(course / "solutions" / assignment / f"{assignment}.ipynb", 4)
    released = nbformat.read(course / "exercises" / assignment / f"{assignment}.ipynb", 4)
    try:
        return Corpus(solution, released).build(PER_ASSIGNMENT_CASES)
    except Exception as error:  # noqa: BLE001  (each case's test reports it)
        return dict.fromkeys(PER_ASSIGNMENT_CASES, error)
