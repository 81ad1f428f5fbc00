"""Hostile submissions, graded the way instructors grade (`python -m safegrade.autograde`).

The corpus (tests/hostile.py) is generated from each assignment's own solution, each case
with the score every test cell must get. Grading a case runs the notebook, training
included, so the corpus is split by what a case tests:

- cases about the assignment's own answers and test cells run on EVERY assignment, in the
  one autograde run of every assignment shared with the round trip (`assignment_batch`;
  tests/test_autograder.py grades the same "solution" and "released" submissions);
- cases about the sandbox and the grader run on ONE assignment (SANDBOX_ASSIGNMENT), with
  two probes of the sandbox: the corpus with a 1 GiB memory limit, the endless loops with a
  short cell limit derived from how long the solution's cells take, and the probes with one
  worker so that the probe follows a submission that tried to leave things behind.

| case | where | why |
| --- | --- | --- |
| solution | every | full marks on every assignment is the point of the corpus |
| released | every | each assignment's stubs must run to the end and score 0 |
| noisy | every | harmless output (prints, stderr, fd 2, warnings, a warning decorator, tqdm) |
|   |   | meets each assignment's own checks: it cost assignment 8 half its marks; |
|   |   | and an optimiser step first: torch rebinds names on its first step, and |
|   |   | whether that trips a test depends on the torch functions each test forbids |
|   |   | and calls (merges the old noisy, noisy_decorated and trains_first: each adds |
|   |   | to a correct submission, so one full run checks them all) |
| always_equal | every | each test cell's comparisons must reject an object equal to all |
| patched_libraries | every | the checks detect patched numpy/torch only where a test cell |
|   |   | reaches one: a test comparing with numpy alone would be fooled |
| rebound_names | every | which names a test cell uses, and whether it imports them again |
| trace_skip | every | a tracer set by a student function is cleared only where the test |
|   |   | calls it through student_call |
| calls_reference | every | each test's own forbid list |
| patched_grader | one | the guard restores safegrade.checks, sys.modules, __import__ and |
|   |   | IPython's hooks before every test cell, whatever the cell holds |
| fork_bomb | one | the process cap |
| cpu_spinner | one | a cell that leaves a thread running fails, the rest runs without it |
| thread_race | one | no thread outlives its cell, so none runs beside a test cell |
| gc_rewrite | one | gc cannot list the grader's objects (containment's audit hook) |
| patched_runner | one | the grader's code heals itself from locals (safegrade.pins) before it |
|   |   | records or reports a cell, and student_call after each answer returns |
| frame_forgery, ctypes_frames | one | the tests run in a process of their own (split): |
|   |   | the stack, reached by sys._getframe or by ctypes, holds no pipe or token |
| deleted_tests, edited_tests | one | nbgrader puts back test cells from the gradebook |
| dead_kernel, system_exit | one | the grader survives a dead or exiting child |
| memory_bomb | one | the memory cap |
| forged_results | one | the wire protocol's token: results written by student code |
| huge_output | one | the output cap |
| malformed, not_a_notebook | one | files that are not notebooks, read before any cell runs |
| endless_loop, stubborn_loop | one | the cell time limit, with and without SIGALRM |
| probes (a_leaver, b_probe) | one | what student code can see, and what survives it |

Each case is its own test, which reads only that case's scores: a case that cannot be
built, is not graded, or hits a grader error fails alone.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from course import (
    ASSIGNMENTS,
    Batch,
    Run,
    autograded_answers,
    autograded_notebook,
    copy_course,
    run_autograde,
    submit_cases,
)
from hostile import PER_ASSIGNMENT_CASES, SANDBOX_CASES, SLOW_CASES, Corpus

# The assignment the sandbox cases run on: the cheapest to grade of the settled ones, since
# most of these cases run the whole solution (training included) and none depends on what
# the notebook asks. Measured once (NBGRADER_EXECUTION=1, one thread, CPU seconds including
# ~3 s of kernel start): ch01 3.8 (being rewritten), ch07 6.2, ch09 5.9, ch02 7.0, ch05 9.9.
SANDBOX_ASSIGNMENT = "ch07_bidirectional"
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


def _assert_scores_as_expected(batch: Batch, case: str) -> None:
    record = batch.cases[case]
    if "error" in record:
        pytest.fail(f"the corpus could not build {case} for {batch.assignment}: {record['error']}")
    expected = record["expected"]
    got = batch.scores(case)
    assert {k: got.get(k) for k in expected} == expected, record["what"]


def test_every_case_is_graded_somewhere_and_once():
    names = PER_ASSIGNMENT_CASES + SANDBOX_CASES + SLOW_CASES
    assert len(set(names)) == len(names), "a case is listed twice"
    generated = sorted(n.removeprefix("_case_") for n in dir(Corpus) if n.startswith("_case_"))
    assert sorted(names) == generated


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_corpus_builds_every_case_for_every_assignment(released_course, assignment):
    solution = nbformat.read(released_course / "solutions" / assignment / f"{assignment}.ipynb", 4)
    released = nbformat.read(released_course / "exercises" / assignment / f"{assignment}.ipynb", 4)
    built = Corpus(solution, released).build(Corpus.NAMES)
    assert {n: c for n, c in built.items() if isinstance(c, Exception)} == {}


@pytest.fixture(scope="class")
def batch(request, assignment_batch) -> Batch:
    """The class's assignment, as the one autograde run graded it."""
    return assignment_batch(request.cls.assignment)


class AssignmentCases:
    """The per-assignment cases for one assignment (a subclass per assignment, below)."""

    assignment: str

    @pytest.mark.parametrize("case", PER_ASSIGNMENT_CASES)
    def test_hostile_case_scores_as_expected(self, batch, case):
        _assert_scores_as_expected(batch, case)


# One class per assignment: loadscope sends a class, not a parametrized function, to a worker.
for _assignment in ASSIGNMENTS:
    _name = f"Test_{_assignment}"
    globals()[_name] = type(_name, (AssignmentCases,), {"assignment": _assignment})


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


def _leaver_notebook(solution) -> bytes:
    nb = nbformat.reads(nbformat.writes(solution), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(f"REPOSITORY = {str(ROOT)!r}\n" + LEAVER))
    return nbformat.writes(nb).encode()


def _slowest_cell(course: Path, assignment: str, student: str) -> float:
    """Seconds the slowest cell of a graded submission took (from nbclient-style timings)."""
    slowest = 0.0
    for cell in autograded_notebook(course, assignment, student).cells:
        times = cell.metadata.get("execution", {})
        if "shell.execute_reply" in times:
            start = datetime.fromisoformat(times["iopub.execute_input"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(times["shell.execute_reply"].replace("Z", "+00:00"))
            slowest = max(slowest, (end - start).total_seconds())
    return slowest


def _students(names) -> list[str]:
    return [arg for name in names for arg in ("--student", name)]


@dataclass(frozen=True)
class Sandboxed:
    """The sandbox cases' three autograde runs of one course, each read as a Batch."""

    corpus: Batch
    slow: Batch
    probes: Batch


class TestSandbox:
    """The cases about the sandbox and the grader, on SANDBOX_ASSIGNMENT."""

    assignment = SANDBOX_ASSIGNMENT

    @pytest.fixture(scope="class")
    @classmethod
    def graded(cls, tmp_path_factory, released_course) -> Sandboxed:
        a = cls.assignment
        course = copy_course(released_course, tmp_path_factory.mktemp("hostile"), [a])
        solution = nbformat.read(course / "solutions" / a / f"{a}.ipynb", as_version=4)
        released = nbformat.read(course / "exercises" / a / f"{a}.ipynb", as_version=4)
        answers = autograded_answers(solution)
        corpus = Corpus(solution, released)
        cases = submit_cases(course, a, corpus.build(SANDBOX_CASES))
        slow_cases = submit_cases(course, a, corpus.build(SLOW_CASES))

        main = run_autograde(course, a, "--memory", MEMORY_MIB, *_students(SANDBOX_CASES))
        # The time limit: five times the slowest cell of a correct submission graded just
        # now (deleted_tests: the solution's answers, its tests put back by the grader); the
        # config's limit if that one was not graded (its own test says so).
        try:
            timeout = max(5.0, 5 * _slowest_cell(course, a, "deleted_tests"))
        except (OSError, ValueError):
            timeout = 120.0
        # These mostly wait for the time limit: more workers than cores keep the wait short.
        limits = ["--workers", "4", "--cell-timeout", f"{timeout:.1f}"]
        slow = run_autograde(course, a, *_students(SLOW_CASES), *limits)

        listener = socket.create_server(("127.0.0.1", 0))  # a service the probe must not reach
        leaver = course / "submitted" / "a_leaver" / a
        probe = course / "submitted" / "b_probe" / a
        for folder, data in [
            (leaver, _leaver_notebook(solution)),
            (probe, _probe_notebook(solution, course, listener.getsockname())),
        ]:
            folder.mkdir(parents=True)
            (folder / f"{a}.ipynb").write_bytes(data)
        try:
            probes = run_autograde(course, a, *_students(["a_leaver", "b_probe"]), "--workers", "1")
        finally:
            listener.close()
        return Sandboxed(
            Batch(course, a, answers, cases, main),
            Batch(course, a, answers, slow_cases, slow),
            Batch(course, a, answers, {}, probes),
        )

    @pytest.fixture
    def probe(self, graded) -> dict:
        """What the probe saw from inside the sandbox (fails only the tests that need it)."""
        graded.probes.scores("b_probe")  # graded at all, or say why not
        nb = autograded_notebook(graded.probes.course, self.assignment, "b_probe")
        for output in nb.cells[-1].outputs:
            if output.output_type == "stream" and output.text.startswith("PROBE"):
                return json.loads(output.text[len("PROBE") :])
        pytest.fail(f"the probe printed nothing: {nb.cells[-1].outputs}")

    @pytest.mark.parametrize("case", SANDBOX_CASES)
    def test_hostile_case_scores_as_expected(self, graded, case):
        _assert_scores_as_expected(graded.corpus, case)

    @pytest.mark.parametrize("case", SLOW_CASES)
    def test_slow_case_scores_as_expected(self, graded, case):
        _assert_scores_as_expected(graded.slow, case)

    @pytest.mark.parametrize("run", ["corpus", "slow", "probes"])
    def test_the_grader_reports_no_error_of_its_own(self, graded, run):
        done: Run = getattr(graded, run).run
        assert done.returncode == 0, done.failure()

    def test_unreadable_files_are_reported_by_student(self, graded):
        output, a = graded.corpus.run.stdout, self.assignment
        for student in ("malformed", "not_a_notebook"):
            assert f"FAILED {student}/{a}: {a}.ipynb could not be read" in output

    def test_a_killed_kernel_is_reported_with_its_cell(self, graded):
        output, a = graded.corpus.run.stdout, self.assignment
        assert f"dead_kernel/{a}: {a}.ipynb cell" in output
        assert "killed by signal 9" in output

    def test_a_loop_that_ignores_the_timer_is_reported_with_its_cell(self, graded):
        a = self.assignment
        assert f"stubborn_loop/{a}: {a}.ipynb cell" in graded.slow.run.stdout

    def test_huge_output_is_cut_short(self, graded):
        a = self.assignment
        path = graded.corpus.course / "autograded" / "huge_output" / a / f"{a}.ipynb"
        assert path.stat().st_size < 2_000_000

    def test_student_code_sees_no_course_files_network_or_host(self, probe):
        assert probe["readable"] == []
        assert probe["connected"] == []
        assert probe["writable"] == []
        # what Python needs (the venv, rnnkit's and safegrade's folders), no solutions/
        assert probe["repository"] == [".venv", "grader", "rnnkit"]
        assert probe["grader"] == ["safegrade"]
        assert "PGPASSWORD" not in probe["environment"]
        assert "DATABASE_URL" not in probe["environment"]

    def test_nothing_survives_from_the_previous_submission(self, probe):
        # a repository under /tmp is bound there read-only, through folders that must stay
        binds = {ROOT.relative_to("/tmp").parts[0]} if ROOT.is_relative_to("/tmp") else set()
        assert [name for name in probe["tmp"] if not name.startswith("submission-")] == sorted(
            binds
        )
        assert len([name for name in probe["tmp"] if name.startswith("submission-")]) == 1
        assert probe["shm"] == []
        # bubblewrap's init, the zygote, the tests process and the probe's own (the student
        # process): nobody else's processes.
        assert len(probe["processes"]) <= 4, probe["processes"]
