"""Hostile submissions, graded the way instructors grade, for every assignment.

One course holds every assignment and, for each, the corpus of tests/hostile.py (cases
generated from the assignment's own solution, each with its expected score), plus two
probes of the sandbox. Grading runs `python -m safegrade.autograde` (`make autograde`)
three times: the corpus with the course's own limits, the endless loops with a short cell
limit derived from how long the solutions' cells take, and the probes with one worker so
that the probe follows a submission that tried to leave things behind.
"""

from __future__ import annotations

import json
import socket
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from course import (
    ASSIGNMENTS,
    autograde_command,
    autograded_notebook,
    copy_course,
    scores,
)
from hostile import Case, Corpus

pytestmark = pytest.mark.xdist_group("hostile")

CASES = [
    "solution",
    "released",
    "noisy",
    "noisy_decorated",
    "fork_bomb",
    "cpu_spinner",
    "trains_first",
    "always_equal",
    "patched_libraries",
    "patched_grader",
    "rebound_names",
    "trace_skip",
    "calls_reference",
    "deleted_tests",
    "edited_tests",
    "dead_kernel",
    "system_exit",
    "memory_bomb",
    "forged_results",
    "huge_output",
    "malformed",
    "not_a_notebook",
]
SLOW_CASES = ["endless_loop", "stubborn_loop"]
MEMORY_MIB = "1024"

LEAVER = """
import os, subprocess
open("/tmp/left-behind.txt", "w").write("for the next student")
try:  # writable only when the course lives under /tmp, beside the sandbox's binds
    open(os.path.join(REPOSITORY, "left-behind.txt"), "w").write("next to .venv")
except OSError:
    pass
open("/dev/shm/left-behind", "w").write("shared memory")
subprocess.Popen(["sleep", "600"], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    import time
    time.sleep(600)
"""

PROBE = """
import json, os, socket
def _can_read(path):
    try:
        with open(path, "rb") as f:
            f.read(1)
        return True
    except OSError:
        return False
def _can_connect(host, port):
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False
def _can_write(folder):
    try:
        with open(os.path.join(folder, "probe"), "w") as f:
            f.write("x")
        return True
    except OSError:
        return False
_found = {
    "readable": [p for p in PATHS if os.path.exists(p) or _can_read(p)],
    "connected": [a for a in ADDRESSES if _can_connect(*a)],
    "writable": [d for d in WRITABLE if _can_write(d)],
    "repository": sorted(os.listdir(REPOSITORY)),
    "grader": sorted(os.listdir(os.path.join(REPOSITORY, "grader"))),
    "tmp": sorted(os.listdir("/tmp")),
    "shm": sorted(os.listdir("/dev/shm")),
    "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "environment": sorted(os.environ),
}
print("PROBE" + json.dumps(_found))
"""


ROOT = Path(__file__).resolve().parents[1]  # the repository, whose .venv the sandbox binds


def _write(course: Path, student: str, assignment: str, data: bytes) -> None:
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{assignment}.ipynb").write_bytes(data)


def _probe_notebook(solution, course: Path, address: tuple[str, int]) -> bytes:
    """The solution plus a cell that reports what it can see from inside the sandbox."""
    root = ROOT
    paths = [course / "solutions", course / "gradebook.db", course / "submitted"]
    paths += [course / "autograded", root / "solutions", root / "tests", root / "Makefile"]
    paths += [Path.home() / ".ssh", Path.home() / ".bash_history", "/etc/shadow", "/etc/hosts"]
    header = f"PATHS = {[str(p) for p in paths]!r}\nADDRESSES = {[address, ('1.1.1.1', 53)]!r}\n"
    bound = [root / ".venv", root / "rnnkit", root / "grader" / "safegrade"]
    header += f"WRITABLE = {[*map(str, bound), '/usr', '/']!r}\n"
    header += f"REPOSITORY = {str(root)!r}\n"
    nb = nbformat.reads(nbformat.writes(solution), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(header + PROBE))
    return nbformat.writes(nb).encode()


def _slowest_cell(course: Path, assignment: str) -> float:
    """Seconds the slowest cell of the graded solution took (from nbclient-style timings)."""
    slowest = 0.0
    for cell in autograded_notebook(course, assignment, "solution").cells:
        times = cell.metadata.get("execution", {})
        if "shell.execute_reply" in times:
            start = datetime.fromisoformat(times["iopub.execute_input"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(times["shell.execute_reply"].replace("Z", "+00:00"))
            slowest = max(slowest, (end - start).total_seconds())
    return slowest


@pytest.fixture(scope="module")
def graded(tmp_path_factory, released_course):
    """Build the course and its corpus, grade it all; (course, cases, outputs, probe)."""
    course = copy_course(released_course, tmp_path_factory.mktemp("hostile"), ASSIGNMENTS)
    cases: dict[str, dict[str, Case]] = {}
    listener = socket.create_server(("127.0.0.1", 0))  # a service the probe must not reach
    for assignment in ASSIGNMENTS:
        released = nbformat.read(
            course / "exercises" / assignment / f"{assignment}.ipynb", as_version=4
        )
        solution = nbformat.read(
            course / "solutions" / assignment / f"{assignment}.ipynb", as_version=4
        )
        corpus = Corpus(solution, released)
        cases[assignment] = {c.name: c for c in corpus.cases() + corpus.slow_cases()}
        for case in cases[assignment].values():
            _write(course, case.name, assignment, case.notebook)
    first = ASSIGNMENTS[0]
    solution = nbformat.read(course / "solutions" / first / f"{first}.ipynb", as_version=4)
    _write(course, "a_leaver", first, _leaver_notebook(solution))
    _write(course, "b_probe", first, _probe_notebook(solution, course, listener.getsockname()))

    students = [arg for name in CASES for arg in ("--student", name)]
    outputs = [autograde_command(course, "--memory", MEMORY_MIB, *students)]
    timeout = max(5.0, 5 * max(_slowest_cell(course, a) for a in ASSIGNMENTS))
    slow = [arg for name in SLOW_CASES for arg in ("--student", name)]
    # These mostly wait for the time limit: more workers than cores keep the wait short.
    slow += ["--workers", "4", "--cell-timeout", f"{timeout:.1f}"]
    outputs.append(autograde_command(course, *slow))
    probes = ["--student", "a_leaver", "--student", "b_probe", "--workers", "1"]
    outputs.append(autograde_command(course, *probes))
    listener.close()
    return course, cases, "\n".join(outputs), _probe_result(course, first)


def _leaver_notebook(solution) -> bytes:
    nb = nbformat.reads(nbformat.writes(solution), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(f"REPOSITORY = {str(ROOT)!r}\n" + LEAVER))
    return nbformat.writes(nb).encode()


def _probe_result(course: Path, assignment: str) -> dict:
    nb = autograded_notebook(course, assignment, "b_probe")
    for output in nb.cells[-1].outputs:
        if output.output_type == "stream" and output.text.startswith("PROBE"):
            return json.loads(output.text[len("PROBE") :])
    raise AssertionError(f"the probe printed nothing: {nb.cells[-1].outputs}")


@pytest.mark.parametrize("case", CASES + SLOW_CASES)
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_hostile_case_scores_as_expected(graded, assignment, case):
    course, cases, _, _ = graded
    expected = cases[assignment][case].expected
    got = scores(course, assignment, case)
    assert {k: got.get(k) for k in expected} == expected, cases[assignment][case].what


def test_corpus_covers_every_case_it_generates(graded):
    _, cases, _, _ = graded
    for assignment in ASSIGNMENTS:
        assert sorted(cases[assignment]) == sorted(CASES + SLOW_CASES)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_unreadable_files_are_reported_by_student(graded, assignment):
    _, _, output, _ = graded
    for student in ("malformed", "not_a_notebook"):
        assert f"FAILED {student}/{assignment}: {assignment}.ipynb could not be read" in output


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_faults_are_reported_with_their_cell(graded, assignment):
    _, _, output, _ = graded
    assert f"dead_kernel/{assignment}: {assignment}.ipynb cell" in output
    assert "killed by signal 9" in output
    assert f"stubborn_loop/{assignment}: {assignment}.ipynb cell" in output


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_huge_output_is_cut_short(graded, assignment):
    course, _, _, _ = graded
    path = course / "autograded" / "huge_output" / assignment / f"{assignment}.ipynb"
    assert path.stat().st_size < 2_000_000


def test_student_code_sees_no_course_files_network_or_host(graded):
    course, _, _, probe = graded
    assert probe["readable"] == []
    assert probe["connected"] == []
    assert probe["writable"] == []
    # what Python needs (the venv, rnnkit's and safegrade's folders), no solutions/
    assert probe["repository"] == [".venv", "grader", "rnnkit"]
    assert probe["grader"] == ["safegrade"]
    assert "PGPASSWORD" not in probe["environment"] and "DATABASE_URL" not in probe["environment"]


def test_nothing_survives_from_the_previous_submission(graded):
    _, _, _, probe = graded
    # a repository under /tmp is bound there read-only, through folders that must stay
    binds = {ROOT.relative_to("/tmp").parts[0]} if ROOT.is_relative_to("/tmp") else set()
    assert [name for name in probe["tmp"] if not name.startswith("submission-")] == sorted(binds)
    assert len([name for name in probe["tmp"] if name.startswith("submission-")]) == 1
    assert probe["shm"] == []
    # bubblewrap's init, the zygote and the probe itself: nobody else's processes.
    assert len(probe["processes"]) <= 3, probe["processes"]
