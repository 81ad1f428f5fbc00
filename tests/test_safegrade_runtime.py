"""The grader's machinery on its own, in seconds: frames on the pipes, running cells in a
worker (a cell that raises, one that times out, one that ignores the timer, one that leaves
a thread running, one that lists the process's objects) and the caps a grading child runs
under (CPU time, processes)."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import textwrap
import time

import pytest

from safegrade.autograde.execution import Cell, Limits, execute
from safegrade.autograde.protocol import (
    FrameReader,
    ProtocolError,
    encode,
    read_frame,
    write_frame,
)
from safegrade.autograde.sandbox import Sandbox
from safegrade.autograde.worker import Worker


def test_a_frame_makes_the_round_trip():
    read, write = os.pipe()
    message = {"done": 3, "outputs": [{"text": "é ∑ \u0000"}], "restart": False}
    write_frame(write, message)
    os.close(write)
    assert read_frame(read, limit=1 << 20) == message
    with pytest.raises(EOFError):
        read_frame(read, limit=1 << 20)
    os.close(read)


def test_the_incremental_reader_joins_frames_split_across_reads():
    read, write = os.pipe()
    os.set_blocking(read, False)
    reader = FrameReader(read, limit=1 << 20)
    data = encode({"start": 1}) + encode({"end": True})
    os.write(write, data[:3])
    assert reader.feed() == []
    os.write(write, data[3:])
    assert reader.feed() == [{"start": 1}, {"end": True}]
    os.close(write)
    reader.feed()
    assert reader.closed
    os.close(read)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (struct.pack(">I", 1 << 30), "over the limit"),  # a forged length, nothing behind it
        (struct.pack(">I", 5) + b"hello", "not JSON"),
        (struct.pack(">I", 2) + b"\xff\xfe", "not JSON"),  # not even UTF-8
        (struct.pack(">I", 5) + b"[1,2]", "holds a list, expected an object"),
    ],
)
def test_forged_and_oversized_frames_are_rejected(data, message):
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.write(write, data)
    with pytest.raises(ProtocolError, match=message):
        FrameReader(read, limit=1 << 20).feed()
    blocking_read, blocking_write = os.pipe()
    os.write(blocking_write, data)
    with pytest.raises(ProtocolError, match=message):
        read_frame(blocking_read, limit=1 << 20)
    for fd in (read, write, blocking_read, blocking_write):
        os.close(fd)


@pytest.fixture(scope="module")
def worker():
    """A zygote without the sandbox (so these run without bubblewrap), numpy preloaded."""
    worker = Worker(Sandbox(enabled=False), ["numpy"], startup_timeout=120)
    worker.start()
    yield worker
    worker.close()


def _outputs(execution, index):
    return execution.results[index][1]


def test_a_cell_that_raises_fails_alone(worker):
    cells = [
        Cell(0, "x = 41", test=False),
        Cell(1, "raise ValueError('no good')", test=False),
        Cell(2, "print(x + 1)", test=True),
    ]
    execution = execute(worker, cells, Limits(cell_timeout=10, submission_timeout=60))
    [error] = _outputs(execution, 1)
    assert (error["output_type"], error["ename"], error["evalue"]) == (
        "error",
        "ValueError",
        "no good",
    )
    assert _outputs(execution, 2) == [{"output_type": "stream", "name": "stdout", "text": "42\n"}]
    assert execution.incidents == []


def test_a_cell_past_its_time_limit_is_interrupted_and_the_rest_runs(worker):
    cells = [Cell(0, "while True:\n    pass", test=False), Cell(1, "print('after')", test=True)]
    started = time.monotonic()
    execution = execute(worker, cells, Limits(cell_timeout=1, submission_timeout=60))
    assert time.monotonic() - started < 10
    assert _outputs(execution, 0)[0]["ename"] == "CellTimeoutError"
    assert _outputs(execution, 1)[0]["text"] == "after\n"


def test_a_cell_that_ignores_the_timer_is_killed_and_skipped_on_a_rerun(worker):
    stubborn = "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass"
    cells = [
        Cell(0, "x = 1", test=False),
        Cell(1, stubborn, test=False),
        Cell(2, "print(x)", test=True),
    ]
    execution = execute(worker, cells, Limits(cell_timeout=1, submission_timeout=60))
    assert _outputs(execution, 1)[0]["ename"] == "CellTimeoutError"
    assert _outputs(execution, 2)[0]["text"] == "1\n"
    assert execution.incidents == ["cell 1: the cell ran past its time limit (1 s) and was stopped"]


def test_a_cell_that_leaves_a_thread_running_fails_and_the_rest_runs_without_it(worker):
    cells = [
        Cell(0, "x = 1", test=False),
        Cell(
            1,
            "import threading, time\nthreading.Thread(target=time.sleep, args=(60,)).start()",
            test=False,
        ),
        Cell(2, "print(x)", test=True),
    ]
    execution = execute(worker, cells, Limits(cell_timeout=10, submission_timeout=60))
    [error] = _outputs(execution, 1)
    assert error["ename"] == "ThreadError"
    assert "left threads running" in error["evalue"]
    assert _outputs(execution, 2) == [{"output_type": "stream", "name": "stdout", "text": "1\n"}]
    assert execution.incidents == [f"cell 1: {error['evalue']}"]


def test_threads_joined_in_their_cell_and_progress_bars_leave_nothing_behind(worker):
    joined = (
        "import threading\nt = threading.Thread(target=print, args=('hi',))\nt.start()\nt.join()"
    )
    bar = "from tqdm.auto import tqdm\nfor _ in tqdm(range(3)):\n    pass\nprint('done')"
    cells = [Cell(0, joined, test=False), Cell(1, bar, test=False)]
    execution = execute(worker, cells, Limits(cell_timeout=10, submission_timeout=60))
    assert not [o for i in (0, 1) for o in _outputs(execution, i) if o["output_type"] == "error"]
    assert execution.incidents == []


@pytest.mark.parametrize(
    "source",
    [
        "import gc\ngc.get_objects()",
        "import gc\ngc.get_referrers(print)",
        "import sys\nsys._current_frames()",
    ],
)
def test_listing_the_processs_objects_or_stacks_is_refused(worker, source):
    cells = [Cell(0, source, test=False), Cell(1, "print('after')", test=True)]
    execution = execute(worker, cells, Limits(cell_timeout=10, submission_timeout=60))
    [error] = _outputs(execution, 0)
    assert error["ename"] == "ContainmentError"
    assert "not available while a notebook is graded" in error["evalue"]
    assert _outputs(execution, 1)[0]["text"] == "after\n"


# Each defines f(), which a test cell then calls before a check that must fail: plain
# Python that reaches the grader's objects and tries to make it drop the failure.
SWALLOWERS = {
    "shell_recorder": "def f():\n    get_ipython().recorder.error = lambda *a, **k: None",
    "recorder_class": (
        "import sys\n"
        "def f():\n"
        "    sys.modules['safegrade.autograde.kernel'].Recorder.error = lambda *a, **k: None"
    ),
    "runner_behind_stdout": (
        "import sys\n"
        "_runner = sys.stdout._runner\n"
        "_send = _runner._send\n"
        "def _clean(frame):\n"
        "    outputs = frame.get('outputs', [])\n"
        "    frame['outputs'] = [o for o in outputs if o['output_type'] != 'error']\n"
        "    return _send(frame)\n"
        "_runner._send = _clean\n"
        "def f():\n"
        "    pass"
    ),
    "guard_methods": (
        "import sys\n"
        "_guard = sys.modules['safegrade.autograde.guard'].Guard\n"
        "_guard.restore = _guard.restore_runner = lambda self: None\n"
        "import safegrade.checks as _checks\n"
        "_checks.check_exact.__code__ = (lambda *a, **k: None).__code__\n"
        "def f():\n"
        "    pass"
    ),
    "checks_from_inside_the_call": (
        "def f():\n"
        "    import safegrade.checks as c\n"
        "    noop = (lambda *a, **k: None).__code__\n"
        "    c.verify_untampered.__code__ = c.check_exact.__code__ = noop"
    ),
}


def _test_errors(worker, answer, check, separate, attempts=4):
    """The error outputs of a test cell running ``check`` after an answer cell ``answer``
    (which defines f)."""
    test = f"from safegrade.checks import check_exact, student_call\n{check}"
    cells = [Cell(0, answer, test=False), Cell(1, test, test=True)]
    limits = Limits(cell_timeout=10, submission_timeout=60, max_attempts=attempts)
    execution = execute(worker, cells, limits, separate=separate)
    return [o for o in _outputs(execution, 1) if o["output_type"] == "error"]


@pytest.mark.parametrize("separate", [True, False], ids=["separated", "in_process"])
@pytest.mark.parametrize("attack", list(SWALLOWERS))
def test_an_answer_cannot_make_the_grader_drop_a_failing_check(worker, attack, separate):
    check = "student_call(f)\ncheck_exact(1, 2, name='x')"
    errors = _test_errors(worker, SWALLOWERS[attack], check, separate)
    assert errors, f"{attack}: the failing check was dropped"


# Each defines f(), which returns 1 where the test cell expects 2, and tries to make the
# check pass anyway by reaching past Python's rules: nothing an in-process grader can stop.
REACHERS = {
    # the runner's frame holds the pipe to the grader and the token: report a clean cell
    "frames": (
        "import sys, os, json, struct\n"
        "def f():\n"
        "    frame = sys._getframe()\n"
        "    while frame is not None:\n"
        "        runner = frame.f_locals.get('self')\n"
        "        if hasattr(runner, 'results_fd') and getattr(runner, 'token', ''):\n"
        "            clean = {'done': 1, 'execution_count': 2, 'outputs': []}\n"
        "            for msg in (clean, {'end': True}):\n"
        "                body = json.dumps({**msg, 'token': runner.token}).encode()\n"
        "                os.write(runner.results_fd, struct.pack('>I', len(body)) + body)\n"
        "            os._exit(0)\n"
        "        frame = frame.f_back\n"
        "    return 1"
    ),
    # rewrite the interpreter's cached small int 2 so that the expected value reads 1
    "ctypes": (
        "import ctypes\n"
        "def f():\n"
        "    two = 2\n"
        "    ctypes.c_ssize_t.from_address(id(two) + 24).value = 1\n"
        "    return 1"
    ),
}


def _reached(worker, attack, separate):
    """Whether ``attack`` made the test cell's failing check pass."""
    check = "check_exact(student_call(f), 2, name='the answer')"
    return not _test_errors(worker, REACHERS[attack], check, separate, attempts=1)


@pytest.mark.parametrize("attack", list(REACHERS))
def test_code_that_walks_frames_or_writes_memory_cannot_pass_a_separated_check(worker, attack):
    assert not _reached(worker, attack, separate=True)


@pytest.mark.parametrize("attack", list(REACHERS))
def test_the_same_code_does_pass_the_check_when_it_shares_the_tests_process(worker, attack):
    # Why separation is the default: in one process these attacks work (see the README).
    assert _reached(worker, attack, separate=False)


# Each makes safegrade.checks.student_call hand its calls to the notebook's own function,
# which answers 2 where the answer f returns 1 (the route the grader's own handle takes).
HIJACKERS = {
    "between_cells": (
        "import safegrade.checks as _c\n_c._DELEGATE.append(lambda *a: 2)\ndef f():\n    return 1"
    ),
    "from_inside_a_call": (
        "def f():\n"
        "    import safegrade.checks as c\n"
        "    c._DELEGATE.append(lambda *a: 2)\n"
        "    return 1"
    ),
}


@pytest.mark.parametrize("separate", [True, False], ids=["separated", "in_process"])
@pytest.mark.parametrize("attack", list(HIJACKERS))
def test_an_answer_cannot_take_over_student_call(worker, attack, separate):
    check = "student_call(f)\ncheck_exact(student_call(f), 2, name='the answer')"
    errors = _test_errors(worker, HIJACKERS[attack], check, separate)
    assert errors and "the answer" in errors[0]["evalue"], f"{attack}: student_call was taken over"


LIMITS = {"memory_bytes": 1 << 30, "file_bytes": 1 << 20, "processes": 8, "cpu_seconds": 1}


def test_a_thread_spinning_beside_the_cells_is_stopped_by_the_cpu_cap():
    program = f"""
        import threading, time
        from safegrade.autograde.kernel import _apply_limits
        _apply_limits({LIMITS!r}, sandboxed=False)
        def spin():
            while True:
                pass
        threading.Thread(target=spin, daemon=True).start()
        time.sleep(60)
        """
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(program)], timeout=60)
    assert run.returncode == -signal.SIGXCPU
    assert time.monotonic() - started < 30


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_the_process_cap_stops_a_fork_loop():
    # As root the kernel would not apply the cap, so the child becomes nobody first, as in
    # the sandbox; every child it manages to start sleeps a little, then exits.
    program = f"""
        import os, time
        from safegrade.autograde.kernel import _apply_limits
        os.setgid(65534)
        os.setuid(65534)
        _apply_limits({LIMITS!r}, sandboxed=True)
        started = 0
        for _ in range(50):
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                time.sleep(1)
                os._exit(0)
            started += 1
        print("started", started)
        """
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(program)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr[-2000:]
    started = int(run.stdout.split()[-1])
    assert 0 <= started < LIMITS["processes"]


def test_a_child_stopped_by_the_cpu_cap_is_reported_as_such():
    from safegrade.autograde.worker import _death

    assert "used up its CPU time" in _death(-signal.SIGXCPU)
    assert "killed by signal 9" in _death(-signal.SIGKILL)
