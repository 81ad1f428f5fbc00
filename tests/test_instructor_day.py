"""The instructor's day from the README, on a small course: autograde, feedback, grades,
report, with the commands the Makefile's targets run.

Four students, two assignments: ada submits both solutions, bo the released notebook of
the first (a real 0), cy the first solution renamed by a browser (`… (1).ipynb`), and di
only the second assignment (the first is missing).
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from course import ROOT, autograde_command, copy_course, nbgrader, scores
from nbgrader.api import Gradebook

FIRST, SECOND = "ch01_closed_loop", "ch07_bidirectional"


def _recipe(target: str) -> str:
    """The commands of one Makefile target."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, re.M)
    assert match, f"no {target} target in the Makefile"
    return match.group(1)


def _submit(course: Path, student: str, assignment: str, source: Path, name: str) -> None:
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.read(source, as_version=4), folder / name)


@pytest.fixture(scope="module")
def day(released_course, tmp_path_factory):
    course = copy_course(released_course, tmp_path_factory.mktemp("day"), [FIRST, SECOND])

    def solution(a):
        return course / "solutions" / a / f"{a}.ipynb"

    def released(a):
        return course / "exercises" / a / f"{a}.ipynb"

    _submit(course, "ada", FIRST, solution(FIRST), f"{FIRST}.ipynb")
    _submit(course, "ada", SECOND, solution(SECOND), f"{SECOND}.ipynb")
    _submit(course, "bo", FIRST, released(FIRST), f"{FIRST}.ipynb")
    _submit(course, "cy", FIRST, solution(FIRST), f"{FIRST} (1).ipynb")
    _submit(course, "di", SECOND, solution(SECOND), f"{SECOND}.ipynb")

    summary = autograde_command(course)  # make autograde
    assert 'nbgrader generate_feedback "*" --force' in _recipe("feedback")
    nbgrader(course, "generate_feedback", "*", "--force")  # make feedback
    assert "nbgrader export --to grades.csv" in _recipe("grades")
    nbgrader(course, "export", "--to", "grades.csv")  # make grades
    assert "-m safegrade.report --out report" in _recipe("report")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    report = subprocess.run(  # make report
        [sys.executable, "-m", "safegrade.report", "--out", "report"],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.returncode == 0, report.stderr
    return course, summary


def _row(summary: str, student: str, assignment: str) -> str:
    lines = [ln for ln in summary.splitlines() if re.match(rf"\s+{student}\s+{assignment}\s", ln)]
    assert len(lines) == 1, f"no single row for {student}/{assignment} in:\n{summary}"
    return lines[0]


def test_the_summary_lists_every_student_with_their_score(day):
    course, summary = day
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        top = {a: gb.find_assignment(a).max_score for a in (FIRST, SECOND)}
    ada_first = sum(s or 0 for s in scores(course, FIRST, "ada").values())
    ada_second = sum(s or 0 for s in scores(course, SECOND, "ada").values())
    assert f"{ada_first:g} / {top[FIRST]:g}" in _row(summary, "ada", FIRST)
    assert f"{ada_second:g} / {top[SECOND]:g}" in _row(summary, "ada", SECOND)
    assert re.search(rf"\s0 / {top[FIRST]:g}(\s|$)", _row(summary, "bo", FIRST))
    assert "UNGRADABLE" in _row(summary, "cy", FIRST)
    assert "missing" in _row(summary, "di", FIRST)
    assert f"{ada_second:g} / {top[SECOND]:g}" in _row(summary, "di", SECOND)
    assert "4 graded, 0 already graded, 1 ungradable, 0 grader errors" in summary


def test_the_misnamed_upload_is_listed_with_its_fix_and_left_alone(day):
    course, summary = day
    assert f"FAILED cy/{FIRST}: {FIRST} (1).ipynb is not a notebook of {FIRST}" in summary
    assert f"fix: rename it to {FIRST}.ipynb" in summary
    assert (course / "submitted" / "cy" / FIRST / f"{FIRST} (1).ipynb").exists()
    assert not (course / "autograded" / "cy").exists()


def test_feedback_labels_scores_by_question_and_hides_the_grader(day):
    course, _ = day
    for student, assignment in [("ada", FIRST), ("ada", SECOND), ("bo", FIRST), ("di", SECOND)]:
        page = course / "feedback" / student / assignment / f"{assignment}.html"
        text = page.read_text()
        assert "Question 1 —" in text and "Test cell" not in text
        assert "BEGIN HIDDEN TESTS" not in text
        assert str(course) not in text and str(ROOT) not in text
        assert not re.search(r"""<(?:script|link|img)[^>]*(?:src|href)=["']?(?:https?:)?//""", text)
        assert "MathJax" in text  # inlined, for the maths offline
    assert not (course / "feedback" / "cy").exists()
    zero = (course / "feedback" / "bo" / FIRST / f"{FIRST}.html").read_text()
    assert "NotImplementedError" in zero  # a failed check shows its message


def test_grades_tell_missing_from_zero(day):
    course, _ = day
    with (course / "grades.csv").open() as f:
        rows = {(r["student_id"], r["assignment"]): r for r in csv.DictReader(f)}
    assert rows["di", FIRST]["status"] == "missing" and rows["di", FIRST]["score"] == ""
    assert rows["bo", FIRST]["status"] == "graded" and float(rows["bo", FIRST]["score"]) == 0
    assert rows["ada", FIRST]["status"] == "graded" and float(rows["ada", FIRST]["score"]) > 0
    assert rows["cy", FIRST]["status"] == "ungradable" and rows["cy", FIRST]["score"] == ""
    assert f"rename it to {FIRST}.ipynb" in rows["cy", FIRST]["note"]
    with (course / "grades_by_question.csv").open() as f:
        questions = list(csv.DictReader(f))
    assert {q["question"] for q in questions if q["student_id"] == "bo"} >= {"q1_tests"}


def test_the_report_shows_plots_and_the_failing_checks(day):
    course, _ = day
    page = (course / "report" / "index.html").read_text()
    for assignment in (FIRST, SECOND):
        assert (course / "report" / f"{assignment}_totals.png").stat().st_size > 1000
        assert f"{assignment}_questions.png" in page
    failing = page[page.index("<table id='failing'>") : page.index("</table>")]
    assert "q2_tests" in failing and "NotImplementedError" in failing
    assert "//" not in re.sub(r"<!DOCTYPE[^>]*>", "", page.split("<body>")[0])


def test_the_readme_commands_are_make_targets():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Instructor quick start") :]
    block = section[section.index("```sh") : section.index("```", section.index("```sh") + 5)]
    makefile = (ROOT / "Makefile").read_text()
    targets = re.findall(r"^make (\w+)", block, re.M)
    assert {"release", "autograde", "formgrader", "feedback", "grades", "report"} <= set(targets)
    for target in targets:
        assert re.search(rf"^{target}:", makefile, re.M), f"README's make {target}: no target"
    assert "nbgrader formgrader" not in block
