"""exercises/ must be exactly what `nbgrader generate_assignment` makes from solutions/.

An edited solution with a stale release fails here: run `make release` and commit.
"""

from __future__ import annotations

import nbformat
import pytest
from course import ASSIGNMENTS, ROOT


def _content(nb: nbformat.NotebookNode) -> list[tuple[str, str, dict]]:
    """What a student receives: each cell's kind, source and nbgrader metadata."""
    return [(c.cell_type, c.source, c.metadata.get("nbgrader", {})) for c in nb.cells]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_release_matches_a_fresh_release(assignment, released_course):
    fresh = nbformat.read(released_course / "exercises" / assignment / f"{assignment}.ipynb", 4)
    committed_path = ROOT / "exercises" / assignment / f"{assignment}.ipynb"
    assert committed_path.exists(), f"{committed_path} is missing: run `make release`"
    committed = nbformat.read(committed_path, 4)
    assert _content(committed) == _content(fresh), (
        f"exercises/{assignment} is stale: run `make release` and commit the result"
    )


def test_every_release_has_a_source():
    released = sorted(p.name for p in (ROOT / "exercises").iterdir() if p.is_dir())
    assert released == ASSIGNMENTS, "exercises/ and solutions/ hold different assignments"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_holds_no_solution_or_hidden_test(assignment):
    text = (ROOT / "exercises" / assignment / f"{assignment}.ipynb").read_text()
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "BEGIN MARK SCHEME"):
        assert marker not in text, f"exercises/{assignment} contains {marker}"
