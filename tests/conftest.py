"""Fixtures shared by the test modules.

Releasing an assignment (`nbgrader generate_assignment`) takes seconds per assignment, and
the round trip, the hostile corpus and the release check all need the releases: they are
made once per session, in one course that every module copies, and shared by pytest-xdist's
workers through a lock.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from course import ASSIGNMENTS, ROOT, new_course, release_all
from filelock import FileLock


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
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":  # each xdist worker has its own basetemp under a common parent
        shared = shared.parent
    course = shared / f"released-{_sources_digest()}"
    with FileLock(str(course) + ".lock"):
        if not (course / ".complete").exists():
            course.mkdir(exist_ok=True)
            release_all(new_course(course, ASSIGNMENTS))
            (course / ".complete").touch()
    return course
