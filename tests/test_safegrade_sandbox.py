"""The grading sandbox starts from a virtual environment reached through a link.

A course whose ``.venv`` is a symbolic link to a venv elsewhere used to lose every worker
("bwrap: execvp .../.venv/bin/python: No such file or directory"): the sandbox binds real
paths only, so the link's path did not exist inside it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Run by the venv's python reached through the link: start a worker, run one cell.
PROGRAM = textwrap.dedent(
    """
    import sys, time
    from safegrade.autograde.execution import Limits
    from safegrade.autograde.sandbox import Sandbox, interpreter
    from safegrade.autograde.worker import Worker

    assert "/linked/" in sys.executable, sys.executable
    print("interpreter", interpreter())
    worker = Worker(Sandbox(packages=("rnnkit",)), ["numpy"], startup_timeout=120)
    worker.start()
    try:
        job = {
            "cells": [{"index": 0, "source": "print(6 * 7)", "test": False, "skip": None}],
            "limits": Limits().for_child(),
        }
        attempt = worker.attempt(job, 30, time.monotonic() + 60)
        print("finished", attempt.finished, attempt.done)
    finally:
        worker.close()
    """
)


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap (make sandbox)")
def test_worker_starts_when_the_venv_is_a_link(tmp_path: Path):
    real_venv = Path(sys.prefix).resolve()
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / ".venv").symlink_to(real_venv, target_is_directory=True)
    python = tmp_path / "linked" / ".venv" / "bin" / Path(sys.executable).name
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run(
        [str(python), "-c", PROGRAM],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"interpreter {real_venv}/bin/" in run.stdout
    assert "finished True" in run.stdout and "42" in run.stdout, run.stdout


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap (make sandbox)")
def test_a_failed_preload_stops_the_worker_with_the_module_and_error():
    from safegrade.autograde.sandbox import Sandbox
    from safegrade.autograde.worker import Worker, WorkerError

    worker = Worker(Sandbox(), ["numpy", "no_such_module_for_safegrade"], startup_timeout=120)
    with pytest.raises(WorkerError, match="could not import no_such_module_for_safegrade .*"):
        worker.start()
    assert worker.process is None  # nothing left running


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap (make sandbox)")
def test_the_autograde_command_refuses_to_grade_with_a_broken_preload(tmp_path: Path):
    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        'c.CourseDirectory.db_url = "sqlite:///gradebook.db"\n'
        'c.Safegrade.preload = ["numpy", "no_such_module_for_safegrade"]\n'
    )
    folder = tmp_path / "submitted" / "alice" / "hw1"
    folder.mkdir(parents=True)
    (folder / "hw1.ipynb").write_text(
        '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    )
    run = subprocess.run(
        [sys.executable, "-m", "safegrade.autograde", "--no-progress", "--workers", "2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode != 0
    assert "could not import no_such_module_for_safegrade (ModuleNotFoundError" in run.stdout
    assert run.stdout.count("did not start") == 1, run.stdout  # said once, not per worker
