"""`make test`'s pytest part: the site builds while the tests that do not read it run.

The site build (`make book`: the pages, the student wheels, the PDF) runs on one core for
about two minutes, so it runs beside `pytest -m "not site"` rather than before it, and
`pytest -m site` (the tests of the built site, see pyproject.toml's markers) follows once it
is built. The build's output goes to _build/book.log and is printed after the first tests,
and a last line sums up the three parts; any of them failing fails the command.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Two workers on two cores; each test module (or class) on one worker, so that fixtures
# built per module are built once.
PYTEST = [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadscope"]


def main() -> int:
    log_path = ROOT / "_build" / "book.log"
    log_path.parent.mkdir(exist_ok=True)
    with log_path.open("w") as log:
        book = subprocess.Popen(
            ["make", "--no-print-directory", "book"], cwd=ROOT, stdout=log, stderr=log
        )
        try:
            tests = subprocess.run([*PYTEST, "-m", "not site"], cwd=ROOT).returncode
        finally:
            built = book.wait()
    print(log_path.read_text(errors="replace"), end="", flush=True)
    site = subprocess.run([*PYTEST, "-m", "site"], cwd=ROOT).returncode if built == 0 else None
    # One line at the end, so that a failure in the first part is not lost above the rest.
    print(
        f"make test: tests without the site {_verdict(tests)}; site build {_verdict(built)}; "
        + ("site tests " + _verdict(site) if site is not None else "site tests not run"),
        flush=True,
    )
    return tests or built or site


def _verdict(status: int) -> str:
    return "passed" if status == 0 else f"FAILED (status {status})"


if __name__ == "__main__":
    sys.exit(main())
