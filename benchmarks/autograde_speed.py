"""Throughput of ``make autograde`` (safegrade.autograde) against plain ``nbgrader autograde``.

Builds a throwaway course with one assignment and a class of ``--students`` submissions
(solutions, released notebooks and solutions with one answer blanked, in turn, as a real
class mixes right and wrong work), then grades the class twice: with plain serial
``nbgrader autograde`` (a new kernel per submission) and with ``python -m safegrade.autograde``
(sandboxed workers, one per core, forking from a warm process). Both gradebooks must agree
on every score. Prints the wall time, submissions per second and the speed-up.

Run it as ``.venv/bin/python benchmarks/autograde_speed.py [--students 20]``. It takes a
few minutes, most of them in plain nbgrader.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from course import (  # noqa: E402  (the test suite's course helpers)
    ASSIGNMENTS,
    autograde_command,
    autograded_answers,
    blank_answer,
    nbgrader,
    new_course,
    release,
    submit,
)


def build_class(course: Path, assignment: str, students: int) -> None:
    """Submit ``students`` notebooks: solution, released, then each answer blanked."""
    released = nbformat.read(release(course, assignment), as_version=4)
    path = course / "solutions" / assignment / f"{assignment}.ipynb"
    solution = nbformat.read(path, as_version=4)
    kinds = [solution, released]
    kinds += [blank_answer(solution, released, a.answer_id) for a in autograded_answers(solution)]
    for k in range(students):
        submit(course, f"student{k:03d}", assignment, kinds[k % len(kinds)])


def class_scores(course: Path, assignment: str) -> dict[str, float]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s.student.id: s.score for s in gb.find_assignment(assignment).submissions}


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--assignment", default=ASSIGNMENTS[0], choices=ASSIGNMENTS)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as plain_dir, tempfile.TemporaryDirectory() as ours_dir:
        plain = new_course(Path(plain_dir), [args.assignment])
        ours = new_course(Path(ours_dir), [args.assignment])
        build_class(plain, args.assignment, args.students)
        build_class(ours, args.assignment, args.students)
        seconds = {
            "nbgrader autograde (serial)": timed(
                lambda: nbgrader(plain, "autograde", args.assignment, timeout=7200)
            ),
            f"safegrade.autograde ({args.workers} workers)": timed(
                lambda: autograde_command(ours, "--workers", str(args.workers), timeout=7200)
            ),
        }
        agree = class_scores(plain, args.assignment) == class_scores(ours, args.assignment)
    print(f"{args.students} submissions of {args.assignment} on {os.cpu_count()} cores")
    for name, wall in seconds.items():
        print(f"  {name:32s} {wall:7.1f} s  {args.students / wall:5.2f} submissions/s")
    plain_s, ours_s = seconds.values()
    print(f"  speed-up {plain_s / ours_s:.1f}x; every score the same: {agree}")
    if not agree:
        sys.exit("the two graders disagree on some score")


if __name__ == "__main__":
    main()
