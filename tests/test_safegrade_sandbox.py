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
