"""Build the wheels that students install: rnnkit without the unrevealed answers, and safegrade.

``rnnkit/answers/`` holds code that answers graded questions (see its ``__init__``). This
script copies the package to a temporary directory, leaves out every answers module whose
assignment is not revealed, and builds a wheel from the copy, so nothing an assignment asks
for can reach a student through ``pip install``. Beside it goes the wheel of the grader
package (``grader/``), whose checks the assignments' test cells import. ``make wheel`` (and
``make book``, which publishes both with the site) runs it as::

    python scripts/student_wheel.py --out _build/wheel [--reveal "ch02_bptt ch04_lstm"]

``--reveal`` defaults to ``$REVEAL``, else the ``rnnkit_reveal`` list in ``_config.yml``.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def answer_modules() -> dict[str, str]:
    """``rnnkit.answers.MODULES`` read from the source (module -> assignment), no import."""
    tree = ast.parse((ROOT / "rnnkit" / "answers" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(getattr(t, "id", None) == "MODULES" for t in targets):
                return ast.literal_eval(node.value)
    raise SystemExit("rnnkit/answers/__init__.py defines no MODULES map")


def configured_reveal() -> set[str]:
    """The assignments listed under ``rnnkit_reveal`` in ``_config.yml``."""
    text = (ROOT / "_config.yml").read_text()
    match = re.search(r"^\s*rnnkit_reveal:\s*\[(.*?)\]", text, flags=re.M | re.S)
    if not match:
        return set()
    return {name.strip(" '\"\n") for name in match.group(1).split(",") if name.strip(" '\"\n")}


def reveal_setting(value: str | None = None) -> set[str]:
    """The assignments to reveal: ``value`` if given, else ``$REVEAL``, else the config."""
    value = os.environ.get("REVEAL") if value is None else value
    if value is None:
        return configured_reveal()
    return {name for name in re.split(r"[\s,]+", value) if name}


def withheld(reveal: set[str]) -> list[str]:
    """Answers modules (file stems) that the student wheel must leave out: every module of
    ``rnnkit/answers/`` but those whose assignment is revealed (an unlisted one too)."""
    modules = answer_modules()
    unknown = reveal - _assignments()
    if unknown:
        raise SystemExit(f"--reveal names no assignment: {sorted(unknown)}")
    files = [p.stem for p in (ROOT / "rnnkit" / "answers").glob("*.py") if p.stem != "__init__"]
    return sorted(name for name in files if modules.get(name) not in reveal)


def _assignments() -> set[str]:
    return {p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()}


def _pip_wheel(src: Path, out: Path) -> None:
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run([*command, "--wheel-dir", str(out), str(src)], check=True)


def build_grader(out: Path) -> Path:
    """Build safegrade's wheel into ``out`` from a copy of grader/ (the tree stays clean)."""
    with tempfile.TemporaryDirectory() as tmp:
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
        shutil.copytree(ROOT / "grader", Path(tmp) / "grader", ignore=ignore)
        for old in out.glob("safegrade-*.whl"):
            old.unlink()
        _pip_wheel(Path(tmp) / "grader", out)
    (wheel,) = out.glob("safegrade-*.whl")
    print(f"built {wheel}")
    return wheel


def build(out: Path, reveal: set[str]) -> Path:
    """Build the student rnnkit wheel into ``out`` and return its path."""
    left_out = withheld(reveal)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(ROOT / "rnnkit", src / "rnnkit", ignore=ignore)
        for name in left_out:
            (src / "rnnkit" / "answers" / f"{name}.py").unlink(missing_ok=True)
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, src / name)
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("rnnkit-*.whl"):
            old.unlink()
        _pip_wheel(src, out)
    (wheel,) = out.glob("rnnkit-*.whl")
    shown = sorted(set(answer_modules()) - set(left_out))
    print(f"built {wheel}")
    print(f"  answers withheld: {', '.join(left_out) or 'none'}")
    print(f"  answers revealed: {', '.join(shown) or 'none'}")
    return wheel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "wheel")
    parser.add_argument(
        "--reveal", help="assignments whose answers to include (default: $REVEAL, else _config.yml)"
    )
    args = parser.parse_args()
    build(args.out.resolve(), reveal_setting(args.reveal))
    build_grader(args.out.resolve())


if __name__ == "__main__":
    main()
