"""The long-run scripts (scripts/*.py) as their tests use them: imported, and run reduced."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load(name: str) -> ModuleType:
    """scripts/<name>.py as a module (scripts/ is not a package).

    It is registered in sys.modules under its name, where dataclasses look their module up.
    """
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def run_to_json(name: str, out: Path, *flags: str, timeout: int = 300) -> dict:
    """Run scripts/<name>.py with ``flags --out out`` on one CPU thread; its results.

    Fails with the script's stderr if it exits non-zero, and if it does not say where it
    wrote its results.
    """
    run = subprocess.run(
        [sys.executable, str(SCRIPTS / f"{name}.py"), *flags, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "RNNKIT_DEVICE": "cpu", "OMP_NUM_THREADS": "1"},
    )
    assert run.returncode == 0, run.stderr
    assert f"wrote {out}" in run.stdout, run.stdout
    return json.loads(out.read_text())
