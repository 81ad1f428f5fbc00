"""A PostgreSQL gradebook, graded into by two shards of a class at once.

Starts a real PostgreSQL server (Debian's package) on the loopback interface, releases an
assignment into it, and runs two `python -m safegrade.autograde --shard K/2` processes at the
same time, as two hosts would, each with two workers. Skips, saying why, where the server
or the Python driver is missing (`make test` installs both).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from course import ASSIGNMENTS, ROOT, autograded_answers, new_course, release, submit

pytestmark = pytest.mark.xdist_group("postgres")


def _binaries() -> Path | None:
    found = shutil.which("initdb") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)), None
    )
    return Path(os.path.realpath(found)).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def database():
    """A running server and the URL of an empty database in it; stopped afterwards."""
    pytest.importorskip("psycopg", reason="psycopg (the PostgreSQL driver) is not in .venv")
    bindir = _binaries()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    # PostgreSQL refuses to run as root: use its own account (or nobody) if we are root.
    user = None
    if os.geteuid() == 0:
        names = {p.pw_name for p in pwd.getpwall()}
        user = "postgres" if "postgres" in names else "nobody"
    home = Path(tempfile.mkdtemp(prefix="gradebook-pg-"))
    if user:
        shutil.chown(home, user)
    port = _free_port()
    run = {"user": user, "check": True, "capture_output": True, "cwd": home}
    subprocess.run([bindir / "initdb", "-D", home / "data", "-U", "grader", "--auth=trust"], **run)
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {home}"
    subprocess.run(
        [bindir / "pg_ctl", "start", "-w", "-D", home / "data", "-l", home / "log", "-o", options],
        **run,
    )
    try:
        subprocess.run(
            [bindir / "createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "grader", "gradebook"],
            **run,
        )
        yield f"postgresql://grader@127.0.0.1:{port}/gradebook"
    finally:
        subprocess.run([bindir / "pg_ctl", "stop", "-m", "immediate", "-D", home / "data"], **run)
        shutil.rmtree(home, ignore_errors=True)


def _grade_shard(course: Path, shard: str, db_url: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "safegrade.autograde", "--no-progress", "--workers", "2"]
        + ["--shard", shard, "--db-url", db_url],
        cwd=course,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
    )


def test_two_shards_grade_concurrently_into_one_postgres_gradebook(database, tmp_path):
    from nbgrader.api import Gradebook

    assignment = ASSIGNMENTS[0]
    course = new_course(tmp_path, [assignment])
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.CourseDirectory.db_url = {database!r}\n")
    released = nbformat.read(release(course, assignment), as_version=4)
    solution = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", 4)
    students = {f"student{k:02d}": (solution if k % 2 else released) for k in range(8)}
    for student, nb in students.items():
        submit(course, student, assignment, nb)

    shards = [_grade_shard(course, f"{k}/2", database) for k in range(2)]
    outputs = [shard.communicate(timeout=600)[0] for shard in shards]
    assert [shard.returncode for shard in shards] == [0, 0], outputs

    full = sum(a.points for a in autograded_answers(solution))
    with Gradebook(database) as gb:
        got = {s: gb.find_submission(assignment, s).score for s in students}
    assert got == {s: (full if nb is solution else 0.0) for s, nb in students.items()}
    # Each shard graded its own part of the class, and together they graded all of it.
    graded = [int(out.split(" submissions in ")[0].split()[-1]) for out in outputs]
    assert sum(graded) == len(students) and all(graded), outputs
