"""Fast checks of what `make autograde` reports: misnamed and unreleased submissions found
before grading, and the summary's table and lists (safegrade.autograde.preflight, .report)."""

from __future__ import annotations

from pathlib import Path

import pytest

from safegrade.autograde.converter import Outcome
from safegrade.autograde.preflight import Ungradable, check_submission, intended_name
from safegrade.autograde.report import Row, Stopped, format_summary
from safegrade.autograde.scheduler import Summary

NB = "ch01_closed_loop"


@pytest.mark.parametrize(
    "upload",
    [
        f"{NB} (1).ipynb",
        f"{NB} (12).ipynb",
        f"Copy of {NB}.ipynb",
        f"{NB} - Copy.ipynb",
        f"{NB}-2.ipynb",
        f"{NB.upper()}.ipynb",
        f"{NB}.ipynb.ipynb",
    ],
)
def test_a_renamed_upload_names_its_notebook(upload):
    assert intended_name(upload, [NB], [NB], 1) == NB


def test_an_unrecognised_name_is_the_missing_notebook_only_when_that_is_clear():
    assert intended_name("homework.ipynb", [NB], [NB], 1) == NB
    assert intended_name("homework.ipynb", [NB], [NB], 2) == ""
    assert intended_name("homework.ipynb", ["part1", "part2"], ["part1", "part2"], 1) == ""


def _folder(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "submitted" / "s1" / NB
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_text("{}")
    return folder


def test_a_renamed_upload_is_reported_with_the_rename(tmp_path):
    (problem,) = check_submission(_folder(tmp_path, f"{NB} (1).ipynb"), "s1", NB, [NB])
    assert problem.file == f"{NB} (1).ipynb"
    assert problem.fix.startswith(f"rename it to {NB}.ipynb")


def test_a_second_copy_beside_the_notebook_asks_which_to_keep(tmp_path):
    folder = _folder(tmp_path, f"{NB}.ipynb", f"{NB} (1).ipynb")
    (problem,) = check_submission(folder, "s1", NB, [NB])
    assert "keep the version the student meant" in problem.fix


def test_the_right_name_is_graded_whatever_it_holds(tmp_path):
    assert check_submission(_folder(tmp_path, f"{NB}.ipynb", "data.csv"), "s1", NB, [NB]) == []


def test_no_notebook_and_unreleased_assignments_are_reported(tmp_path):
    (saved,) = check_submission(_folder(tmp_path, f"{NB}.py"), "s1", NB, [NB])
    assert "is not a notebook" in saved.reason and f"ask s1 for {NB}.ipynb" in saved.fix
    (unreleased,) = check_submission(tmp_path / "nowhere", "s1", "ch09", None)
    assert "not released" in unreleased.reason and "run make release first" in unreleased.fix


def test_the_summary_has_a_table_stopped_cells_and_fixes():
    outcomes = [
        Outcome(NB, "ada"),
        Outcome(NB, "bo", "failed", problems=[f"{NB}.ipynb could not be read (X); scored 0"]),
        Outcome(NB, "eve", status="skipped"),
    ]
    summary = Summary(outcomes, 12.0, [])
    summary.ungradable = [
        Ungradable("cy", NB, f"{NB} (1).ipynb", "misnamed", f"rename it to {NB}.ipynb")
    ]
    summary.rows = [
        Row("ada", NB, "graded", 11.0, 14.0, stopped=1),
        Row("bo", NB, "ungradable", 0.0, 14.0),
        Row("cy", NB, "ungradable", None, 14.0),
        Row("di", NB, "missing", None, 14.0),
        Row("eve", NB, "already graded", 14.0, 14.0, manual=True),
    ]
    summary.stopped = [
        Stopped("ada", NB, f"{NB}.ipynb", "7", "q3_tests", "ran past its time limit (120 s)")
    ]
    text = format_summary(summary)
    lines = text.splitlines()
    assert lines[0].startswith("4 submissions in 12.0 s")
    assert "1 graded, 1 already graded, 2 ungradable, 0 grader errors; 1 missing" in lines[0]
    assert "  ada      ch01_closed_loop  11 / 14  1 cell stopped" in lines
    assert "  di       ch01_closed_loop   – / 14  missing (nothing submitted)" in lines
    (eve,) = [ln for ln in lines if ln.startswith("  eve")]
    assert "already graded" in eve and "by hand" in eve
    assert (
        f"  STOPPED ada/{NB}: {NB}.ipynb cell 7 (q3_tests): ran past its time limit (120 s)"
        in lines
    )
    assert f"  FAILED cy/{NB}: misnamed" in lines
    assert f"         fix: rename it to {NB}.ipynb" in lines
    assert f"  FAILED bo/{NB}: {NB}.ipynb could not be read (X); scored 0" in lines
    assert "Grader errors" not in text


def test_an_empty_run_says_where_submissions_go():
    text = format_summary(Summary([], 0.0, []))
    assert "submitted/<student_id>/<assignment>/<assignment>.ipynb" in text
