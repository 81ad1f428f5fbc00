"""``make report``: a grade report an instructor reads after grading, as offline HTML.

``python -m safegrade.report [--course DIR] [--out DIR]`` reads the gradebook and the
autograded notebooks and writes ``report/index.html`` with PNG plots beside it (nothing
is loaded from elsewhere):

- per assignment, the distribution of total scores, and per question how many students
  got full, partial and no marks (questions whose written answers wait for the
  formgrader are counted from the automatic part so far);
- the hidden checks that fail most: for every test cell, the first line of each failing
  check's message (``AssertionError: h has the wrong shape``), counted over students.
"""

from __future__ import annotations

import argparse
import html
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from .feedback import question_labels


@dataclass
class AssignmentData:
    """What the report shows of one assignment."""

    name: str
    max_score: float
    totals: list[float] = field(default_factory=list)
    # question (grade_id) -> (max score, scores of the graded students; None: to grade
    # by hand)
    questions: dict[str, tuple[float, list[float | None]]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    # (question, first line of the failure) -> students
    failures: Counter = field(default_factory=Counter)
    missing: int = 0


def load(course: Path) -> list[AssignmentData]:
    """Scores from the gradebook, failures from the autograded notebooks."""
    config = Config()
    if (course / "nbgrader_config.py").exists():
        config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    config.CourseDirectory.root = str(course)
    coursedir = CourseDirectory(config=config)
    data = []
    with Gradebook(coursedir.db_url) as gb:
        students = [s.id for s in gb.students]
        for assignment in gb.assignments:
            item = AssignmentData(assignment.name, assignment.max_score)
            scores: dict[str, list[float | None]] = defaultdict(list)
            maxima: dict[str, float] = {}
            for student in students:
                try:
                    submission = gb.find_submission(assignment.name, student)
                except Exception:  # MissingEntry: nothing submitted
                    item.missing += 1
                    continue
                item.totals.append(submission.score)
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        manual = grade.needs_manual_grade and grade.manual_score is None
                        scores[grade.name].append(None if manual else grade.score or 0.0)
                        maxima[grade.name] = grade.max_score
                _failures(coursedir, assignment.name, student, item)
            item.questions = {q: (maxima[q], scores[q]) for q in sorted(scores)}
            data.append(item)
    return data


def _failures(coursedir: CourseDirectory, assignment: str, student: str, item) -> None:
    folder = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
    for path in sorted(folder.glob("*.ipynb")):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # unreadable: nothing to count
            continue
        for index, label in question_labels(nb.cells).items():
            grade_id = nb.cells[index].metadata["nbgrader"].get("grade_id", "")
            item.labels.setdefault(grade_id, label)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
                continue
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    value = (output.get("evalue") or "").strip().splitlines()
                    first = f"{output.get('ename', 'Error')}: {value[0]}" if value else ""
                    item.failures[meta.get("grade_id", ""), first or output.get("ename")] += 1
                    break


def _plots(item: AssignmentData, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    if item.totals:
        fig, ax = plt.subplots(figsize=(6, 3))
        bins = max(1, min(20, int(item.max_score) + 1))
        ax.hist(item.totals, bins=bins, range=(0, max(item.max_score, 1)), color="#4c72b0")
        ax.set_xlabel(f"score out of {item.max_score:g}")
        ax.set_ylabel("students")
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_title(f"{item.name}: total scores ({len(item.totals)} graded)")
        fig.tight_layout()
        name = f"{item.name}_totals.png"
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        files.append(name)
    if item.questions:
        names = list(item.questions)
        counts = {"full marks": [], "partial": [], "no marks": [], "to grade by hand": []}
        for q in names:
            top, scores = item.questions[q]
            graded = [s for s in scores if s is not None]
            counts["full marks"].append(sum(s >= top for s in graded))
            counts["no marks"].append(sum(s <= 0 for s in graded))
            counts["partial"].append(
                len(graded) - counts["full marks"][-1] - counts["no marks"][-1]
            )
            counts["to grade by hand"].append(len(scores) - len(graded))
        fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.4))
        y = list(range(len(names)))
        left = [0] * len(names)
        colours = ["#55a868", "#dd8452", "#c44e52", "#bbbbbb"]
        for (label, values), colour in zip(counts.items(), colours, strict=True):
            ax.barh(y, values, left=left, color=colour, label=label)
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.set_yticks(list(y), [f"{q} (/{item.questions[q][0]:g})" for q in names])
        ax.invert_yaxis()
        ax.set_xlabel("students")
        ax.set_title(f"{item.name}: score per question")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=4, fontsize="small")
        fig.tight_layout()
        name = f"{item.name}_questions.png"
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        files.append(name)
    return files


def _e(text: object) -> str:
    return html.escape(str(text))


def write(data: list[AssignmentData], out: Path) -> Path:
    """report/index.html and its PNGs; returns the page's path."""
    out.mkdir(parents=True, exist_ok=True)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Grade report</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:.25em .6em;text-align:left}td.n{text-align:right}</style></head><body>",
        "<h1>Grade report</h1>",
    ]
    failing = [
        (count, item, question, message)
        for item in data
        for (question, message), count in item.failures.items()
    ]
    failing.sort(key=lambda f: (-f[0], f[1].name, f[2]))
    parts.append("<h2>Hidden checks that fail most</h2>")
    if failing:
        parts.append(
            "<table id='failing'><tr><th>students</th><th>assignment</th><th>question</th>"
            "<th>test cell</th><th>first line of the failure</th></tr>"
        )
        for count, item, question, message in failing:
            parts.append(
                f"<tr><td class='n'>{count}</td><td>{_e(item.name)}</td>"
                f"<td>{_e(item.labels.get(question, ''))}</td><td><code>{_e(question)}</code></td>"
                f"<td><code>{_e(message)}</code></td></tr>"
            )
        parts.append("</table>")
    else:
        parts.append("<p>No test cell failed.</p>")
    for item in data:
        graded = len(item.totals)
        mean = sum(item.totals) / graded if graded else 0.0
        parts.append(f"<h2 id='{_e(item.name)}'>{_e(item.name)}</h2>")
        parts.append(
            f"<p>{graded} graded, {item.missing} missing; mean {mean:.2f} of "
            f"{item.max_score:g}.</p>"
        )
        for name in _plots(item, out):
            parts.append(f"<p><img src='{_e(name)}' alt='{_e(name)}'></p>")
        if item.questions:
            parts.append(
                "<table><tr><th>question</th><th>test cell</th><th>mean</th><th>max</th></tr>"
            )
            for q, (top, scores) in item.questions.items():
                graded = [s for s in scores if s is not None]
                average = sum(graded) / len(graded) if graded else 0.0
                parts.append(
                    f"<tr><td>{_e(item.labels.get(q, ''))}</td><td><code>{_e(q)}</code></td>"
                    f"<td class='n'>{average:.2f}</td><td class='n'>{top:g}</td></tr>"
                )
            parts.append("</table>")
    parts.append("</body></html>")
    page = out / "index.html"
    page.write_text("\n".join(parts), encoding="utf-8")
    return page


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m safegrade.report",
        description="Write an offline HTML grade report with plots from the gradebook.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--course", type=Path, default=Path.cwd(), help="course root")
    parser.add_argument("--out", type=Path, default=Path("report"), help="output folder")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    course = args.course.resolve()
    out = args.out if args.out.is_absolute() else course / args.out
    data = load(course)
    page = write(data, out)
    failing = sum(sum(item.failures.values()) for item in data)
    print(f"Wrote {page} ({len(data)} assignments, {failing} failed test cells counted)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
