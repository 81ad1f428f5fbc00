"""The autograder round trip, for every assignment in solutions/.

For each assignment, in a temporary course: the solution notebook scores full marks, the
released notebook runs to the end and scores 0, and blanking any one answer (putting its
released stub back) loses exactly the points of that answer's test cell.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from course import (
    ASSIGNMENTS,
    autograde,
    autograded_answers,
    autograded_notebook,
    blank_answer,
    copy_course,
    scores,
    submit,
)


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded(
    request, tmp_path_factory, released_course
) -> tuple[Path, str, list, nbformat.NotebookNode]:
    """Take one released assignment, submit the three kinds of notebook, autograde them all."""
    assignment = request.param
    course = copy_course(released_course, tmp_path_factory.mktemp(assignment), [assignment])
    released = nbformat.read(
        course / "exercises" / assignment / f"{assignment}.ipynb", as_version=4
    )
    solution = nbformat.read(
        course / "solutions" / assignment / f"{assignment}.ipynb", as_version=4
    )
    answers = autograded_answers(solution)
    submit(course, "solution", assignment, solution)
    submit(course, "released", assignment, released)
    for answer in answers:
        submit(
            course,
            f"blank-{answer.answer_id}",
            assignment,
            blank_answer(solution, released, answer.answer_id),
        )
    autograde(course, assignment)
    return course, assignment, answers, released


def test_assignment_has_autograded_answers(graded):
    _, _, answers, _ = graded
    assert answers, "an assignment needs at least one autograded answer"


def test_solution_scores_full_marks(graded):
    course, assignment, answers, _ = graded
    got = scores(course, assignment, "solution")
    assert {a.test_id: got[a.test_id] for a in answers} == {a.test_id: a.points for a in answers}


def test_released_notebook_runs_to_the_end_and_scores_zero(graded):
    course, assignment, answers, _ = graded
    got = scores(course, assignment, "released")
    assert {a.test_id: got[a.test_id] for a in answers} == {a.test_id: 0.0 for a in answers}
    nb = autograded_notebook(course, assignment, "released")
    unexecuted = [
        i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.execution_count is None
    ]
    assert not unexecuted, f"cells {unexecuted} never ran: the notebook stopped early"


def test_blanking_one_answer_loses_exactly_its_points(graded):
    course, assignment, answers, _ = graded
    for blanked in answers:
        got = scores(course, assignment, f"blank-{blanked.answer_id}")
        expected = {a.test_id: (0.0 if a is blanked else a.points) for a in answers}
        assert {a.test_id: got[a.test_id] for a in answers} == expected, (
            f"blanking {blanked.answer_id} changed other scores"
        )
