"""Nothing graded reaches students before it is due.

Students get three things: the website, the released notebooks and the rnnkit wheel the
site publishes. These tests read all three as a student's browser, download or ``pip``
would, and fail on any line of an answer: the code and written answers between nbgrader's
solution markers, the hidden tests, the mark schemes, and the code of every
``rnnkit/answers/`` module whose assignment has not been revealed.
"""

from __future__ import annotations

import html
import importlib.util
import json
import os
import re
import shutil
import subprocess
import zipfile
from functools import cache
from pathlib import Path

import nbformat
import pytest
from course import ASSIGNMENTS, ROOT

pytestmark = pytest.mark.site
# A site built elsewhere (jupyter-book build --path-output DIR) can be checked with
# RNNKIT_SITE=DIR/_build/html.
SITE = Path(os.environ.get("RNNKIT_SITE", ROOT / "_build" / "html"))
WHEELS = SITE / "wheels"
ANSWERS = ROOT / "rnnkit" / "answers"


def _code_lines(text: str) -> list[str]:
    """Lines long and specific enough that finding one elsewhere means it was copied."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return [line for line in lines if len(line) > 24 and not line.startswith(("#", '"', "'"))]


def _hidden_blocks(source: str) -> list[str]:
    """What lies between nbgrader's solution / hidden-test / mark-scheme markers."""
    return re.findall(
        r"(?:BEGIN SOLUTION|BEGIN HIDDEN TESTS|BEGIN MARK SCHEME ===)(.*?)"
        r"(?:END SOLUTION|END HIDDEN TESTS|=== END MARK SCHEME)",
        source,
        flags=re.S,
    )


@cache
def _released_text() -> str:
    """What students see anyway: every cell of the released notebooks."""
    cells = [
        " ".join(cell.source.split())
        for path in sorted((ROOT / "exercises").rglob("*.ipynb"))
        for cell in nbformat.read(path, 4).cells
    ]
    return "\n".join(cells)


@cache
def _package_lines() -> set[str]:
    """Lines of rnnkit outside answers/: idioms an answers module may share with them."""
    files = [p for p in (ROOT / "rnnkit").rglob("*.py") if ANSWERS not in p.parents]
    return {line for p in files for line in _code_lines(p.read_text())}


@cache
def _wheel_builder():
    """scripts/student_wheel.py: what it withholds is what these tests hold it to."""
    spec = importlib.util.spec_from_file_location(
        "student_wheel", ROOT / "scripts/student_wheel.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _secrets(assignment: str) -> list[str]:
    """Lines of the assignment's answers that students never see in the release."""
    nb = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", 4)
    lines = [
        line for cell in nb.cells for b in _hidden_blocks(cell.source) for line in _code_lines(b)
    ]
    wheel_builder = _wheel_builder()
    for name, owner in wheel_builder.answer_modules().items():
        if owner == assignment and (ANSWERS / f"{name}.py").exists():
            module = _code_lines((ANSWERS / f"{name}.py").read_text())
            lines += [line for line in module if line not in _package_lines()]
    released = _released_text()
    return sorted({line for line in lines if line not in released})


def _page_text(page: str) -> str:
    """A page's text as a reader gets it: scripts and tags dropped, entities decoded."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def _pdf_text(path: Path) -> str:
    """The PDF's text, by poppler's pdftotext (which `make book` installs with the PDF)."""
    if shutil.which("pdftotext") is None:
        pytest.fail(f"{path.name} cannot be read: pdftotext (Debian's poppler-utils) is missing")
    run = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run.stdout


def _lines(text: str) -> set[str]:
    return {" ".join(line.split()) for line in text.splitlines()}


@pytest.fixture(scope="module")
def site_lines() -> dict[str, set[str]]:
    """Every line a student can read on the site or download from it, by file."""
    if not (SITE / "index.html").exists():
        pytest.fail("_build/html is missing: run `make book` (make test does) first")
    found: dict[str, set[str]] = {}
    for path in SITE.rglob("*"):
        if not path.is_file():
            continue
        name = str(path.relative_to(SITE))
        if path.suffix == ".html":
            found[name] = _lines(_page_text(path.read_text(encoding="utf-8")))
        elif path.suffix == ".ipynb":
            nb = json.loads(path.read_text(encoding="utf-8"))
            cells = ["".join(c.get("source", [])) for c in nb.get("cells", [])]
            found[name] = _lines("\n".join(cells))
        elif path.suffix in {".md", ".py", ".txt", ".rst", ".tex"}:
            found[name] = _lines(path.read_text(encoding="utf-8", errors="replace"))
        elif path.suffix == ".pdf":
            found[name] = _lines(_pdf_text(path))
        elif path.suffix == ".whl":
            with zipfile.ZipFile(path) as wheel:
                for member in wheel.namelist():
                    text = wheel.read(member).decode("utf-8", errors="replace")
                    found[f"{name}!{member}"] = _lines(text)
    return found


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_site_and_downloads_show_no_answer(site_lines, assignment):
    revealed = _wheel_builder().reveal_setting()
    if assignment in revealed:
        pytest.skip(
            f"{assignment} is revealed in _config.yml (rnnkit_reveal): its answers may show"
        )
    secret = _secrets(assignment)
    assert secret, f"found no answer lines for {assignment}: the check would prove nothing"
    leaks = {
        where: sorted(lines & set(secret))[:2]
        for where, lines in site_lines.items()
        if lines & set(secret)
    }
    assert not leaks, f"students can read answers of {assignment} in: {leaks}"


def test_the_site_publishes_a_student_wheel_without_withheld_answers():
    wheels = sorted(WHEELS.glob("rnnkit-*.whl"))
    assert len(wheels) == 1, f"expected one rnnkit wheel in {WHEELS}, found {wheels}"
    builder = _wheel_builder()
    withheld = set(builder.withheld(builder.reveal_setting()))
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = set(wheel.namelist())
    assert "rnnkit/__init__.py" in names and "rnnkit/answers/__init__.py" in names
    shipped = {Path(n).stem for n in names if n.startswith("rnnkit/answers/")}
    assert not shipped & withheld, f"the student wheel ships withheld answers: {shipped & withheld}"


def test_every_answers_module_names_a_real_assignment():
    builder = _wheel_builder()
    modules = builder.answer_modules()
    files = {p.stem for p in ANSWERS.glob("*.py")} - {"__init__"}
    assert files == set(modules), f"rnnkit/answers files {files} vs MODULES {set(modules)}"
    unknown = {m: a for m, a in modules.items() if a not in ASSIGNMENTS}
    assert not unknown, f"MODULES names assignments that do not exist: {unknown}"
