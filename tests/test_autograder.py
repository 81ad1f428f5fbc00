"""The autograder round trip, for every assignment in solutions/.

For each assignment: the solution notebook scores full marks, the released notebook runs to
the end and scores 0, and blanking any one answer (putting its released stub back) loses
exactly the points of that answer's test cell. Every submission is graded in the one
autograde run these tests share with the per-assignment hostile cases of every assignment
(the `assignment_batch` fixture); each assignment's tests are a class of their own, so that
a failure names its assignment.
"""

from __future__ import annotations

import pytest
from course import ASSIGNMENTS, Batch, autograded_notebook


@pytest.fixture(scope="class")
def batch(request, assignment_batch) -> Batch:
    """The class's assignment, as the one autograde run graded it."""
    return assignment_batch(request.cls.assignment)


class AssignmentRoundTrip:
    """The round trip's tests for one assignment (a subclass per assignment, below)."""

    assignment: str

    def test_assignment_has_autograded_answers(self, batch):
        assert batch.answers, "an assignment needs at least one autograded answer"

    def test_the_grader_reports_no_error_of_its_own(self, batch):
        assert batch.run.returncode == 0, batch.run.failure()

    def test_solution_scores_full_marks(self, batch):
        got = batch.scores("solution")
        assert {a.test_id: got[a.test_id] for a in batch.answers} == {
            a.test_id: a.points for a in batch.answers
        }

    def test_released_notebook_runs_to_the_end_and_scores_zero(self, batch):
        got = batch.scores("released")
        assert {a.test_id: got[a.test_id] for a in batch.answers} == {
            a.test_id: 0.0 for a in batch.answers
        }
        nb = autograded_notebook(batch.course, self.assignment, "released")
        unexecuted = [
            i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.execution_count is None
        ]
        assert not unexecuted, f"cells {unexecuted} never ran: the notebook stopped early"

    def test_blanking_one_answer_loses_exactly_its_points(self, batch):
        wrong = {}
        for blanked in batch.answers:
            got = batch.scores(f"blank-{blanked.answer_id}")
            expected = {a.test_id: (0.0 if a is blanked else a.points) for a in batch.answers}
            if {a.test_id: got[a.test_id] for a in batch.answers} != expected:
                wrong[blanked.answer_id] = {a.test_id: got[a.test_id] for a in batch.answers}
        assert not wrong, f"blanking these answers changed other scores: {wrong}"


# One class per assignment: loadscope sends a class, not a parametrized function, to a worker.
for _assignment in ASSIGNMENTS:
    _name = f"Test_{_assignment}"
    globals()[_name] = type(_name, (AssignmentRoundTrip,), {"assignment": _assignment})
