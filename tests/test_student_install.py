"""A student's machine: only the wheels the site publishes, and the released notebooks.

A fresh virtual environment gets the rnnkit and safegrade wheels from the built site and
nothing of this repository. Its third-party libraries (torch, numpy, ...) come from the
course's `.venv`, added to the path without running `.venv`'s `.pth` files, so the
editable rnnkit installed there stays invisible. In it, every released notebook, with
correct answers written where a student writes them, must run to the end: its visible
checks may rely only on what a student has, never on the instructors' answers.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import nbformat
import pytest
from course import ASSIGNMENTS, ROOT, nbgrader_cells

pytestmark = pytest.mark.site
SITE = Path(os.environ.get("RNNKIT_SITE", ROOT / "_build" / "html"))


@pytest.fixture(scope="module")
def student_python(tmp_path_factory) -> Path:
    """The interpreter of a fresh environment holding only the site's wheels."""
    wheels = sorted((SITE / "wheels").glob("*.whl"))
    names = sorted(w.name.split("-")[0] for w in wheels)
    if names != ["rnnkit", "safegrade"]:
        pytest.fail(f"the site should publish the rnnkit and safegrade wheels, found {wheels}")
    env_dir = tmp_path_factory.mktemp("student") / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site_packages = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # A bare path in a .pth file is added to sys.path; the .pth files inside it are not run.
    (site_packages / "course-libraries.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
        + ["--target", str(site_packages), *map(str, wheels)],
        check=True,
    )
    return python


def test_the_student_environment_has_the_wheels_and_no_withheld_answer(student_python):
    code = (
        "import importlib.util, rnnkit, rnnkit.answers, safegrade.checks\n"
        "print(rnnkit.__file__)\n"
        "for name in sorted(rnnkit.answers.MODULES):\n"
        "    if importlib.util.find_spec(f'rnnkit.answers.{name}'):\n"
        "        print(name)\n"
    )
    run = subprocess.run([student_python, "-c", code], capture_output=True, text=True, cwd="/")
    assert run.returncode == 0, run.stderr
    where, *importable = run.stdout.splitlines()
    assert str(ROOT) not in where, f"the student environment imports rnnkit from {where}"
    assert not importable, f"students can import these answers modules: {importable}"


_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", flags=re.M)


def _as_student(assignment: str) -> str:
    """The released notebook with the solution's code written into its answer cells, as a
    script (what a student who got everything right would run)."""
    source = ROOT / "solutions" / assignment / f"{assignment}.ipynb"
    solution = nbgrader_cells(nbformat.read(source, 4))
    released = nbformat.read(ROOT / "exercises" / assignment / f"{assignment}.ipynb", 4)
    chunks = []
    for cell in released.cells:
        if cell.cell_type != "code":
            continue
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        source = cell.source
        if cell.metadata.get("nbgrader", {}).get("solution"):
            source = _MARKER.sub("", solution[grade_id].source)
        # IPython syntax (magics, shell escapes) has no place in a plain script.
        lines = source.splitlines()
        chunks.append("\n".join(x for x in lines if not x.lstrip().startswith(("%", "!"))))
    return "\n\n".join(chunks)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_released_notebook_runs_in_a_student_environment(student_python, assignment, tmp_path):
    shutil.copytree(ROOT / "exercises" / assignment, tmp_path, dirs_exist_ok=True)
    script = tmp_path / f"{assignment}_answered.py"
    script.write_text(_as_student(assignment))
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",
        # Graded-size training: the checks are the same, the runs shorter.
        "NBGRADER_EXECUTION": "autograde",
    }
    run = subprocess.run(
        [student_python, script.name],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, (
        f"{assignment}, answered correctly, fails in a student's environment:\n"
        f"{run.stdout[-1500:]}\n{run.stderr[-3000:]}"
    )
