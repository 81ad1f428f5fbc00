"""The feedback students get (``make feedback``, and the formgrader's feedback button).

nbgrader's feedback is the autograded notebook as HTML. As it comes, it labels every score
"Test cell", shows the hidden tests' source and the grading host's paths in tracebacks,
and loads MathJax from a CDN. The course's ``nbgrader_config.py`` points nbgrader at the
pieces here instead, for feedback only (the exporter GenerateFeedback creates, whichever
command or formgrader button runs it)::

    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades
    from safegrade.feedback import CleanFeedback, template_basedirs

    c.GenerateFeedback.preprocessors = [GetGrades, CleanFeedback, CSSHTMLHeaderPreprocessor]
    c.GenerateFeedback.HTMLExporter.extra_template_basedirs = template_basedirs()
    c.GenerateFeedback.HTMLExporter.template_file = "safegrade.html.j2"
    c.GenerateFeedback.HTMLExporter.filters = {
        "safegrade_mathjax": "safegrade.feedback.mathjax_script"
    }


- :class:`CleanFeedback`, a preprocessor run after nbgrader's ``GetGrades``: labels each
  graded cell by its question (the heading above it), cuts the hidden tests out of test
  cells, shows a failed test cell's outcome as its error's message alone (the traceback
  would quote hidden tests; printed lines before it, such as "h and c are right", would
  contradict the failure), and writes this host's folders as ``…`` in every output;
- ``templates/feedback/safegrade.html.j2``: nbgrader's feedback template with those
  labels in the table of contents and the cell headings;
- ``templates/feedback/mathjax.html.j2`` and :func:`mathjax_script`: MathJax 3 (SVG, no
  fonts to fetch) inlined from ``sphinx-mathjax-offline``, so the page renders its maths
  offline. Without that package the maths stays TeX.
"""

from __future__ import annotations

import importlib.util
import os
import re
import site
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

import nbgrader
from markupsafe import Markup
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Unicode

TEMPLATES = Path(__file__).resolve().parent / "templates"
NBGRADER_TEMPLATES = (
    Path(nbgrader.__file__).resolve().parent / "server_extensions" / "formgrader" / "templates"
)


def template_basedirs() -> list[str]:
    """Where the feedback templates are: safegrade's first, then nbgrader's it extends."""
    return [str(TEMPLATES), str(NBGRADER_TEMPLATES)]


@cache
def _mathjax_source() -> str:
    try:
        bundle = metadata.distribution("sphinx-mathjax-offline").locate_file(
            "sphinx-mathjax-offline/static/mathjax/tex-svg.js"
        )
        text = Path(str(bundle)).read_text(encoding="utf-8")
    except (metadata.PackageNotFoundError, OSError):
        return ""
    return text.replace("</script", "<\\/script")  # safe inside an inline <script>


def mathjax_script(_: str = "") -> Markup:
    """The MathJax 3 bundle to inline into a page ("" when it is not installed); a Jinja
    filter (``safegrade_mathjax``) for ``templates/feedback/mathjax.html.j2``."""
    return Markup(_mathjax_source())


_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<text>.+?)\s*#*\s*$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def question_labels(cells) -> dict[int, str]:
    """A label for every graded cell, by index: the heading above it ("Question 2 — one
    step backward (4 points)"), with "your answer" or "tests" added when a heading is
    above several graded cells; the grade_id where no heading is."""
    groups: dict[str, list[int]] = {}
    heading = ""
    for index, cell in enumerate(cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown" and not meta.get("grade"):
            for line in cell.source.splitlines():
                match = _HEADING.match(line)
                if match:
                    heading = match["text"]
                    break
        if meta.get("grade") or meta.get("task"):
            groups.setdefault(heading or meta.get("grade_id", ""), []).append(index)
    labels = {}
    for title, indices in groups.items():
        tests = [i for i in indices if not _is_answer(cells[i])]
        for index in indices:
            if len(indices) == 1:
                labels[index] = title
            elif _is_answer(cells[index]):
                labels[index] = f"{title} — your answer"
            elif len(tests) > 1:
                labels[index] = f"{title} — tests, part {tests.index(index) + 1}"
            else:
                labels[index] = f"{title} — tests"
    return labels


def _is_answer(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("solution") or meta.get("task"))


def _is_test(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("grade") and not meta.get("solution"))


def host_prefixes(root: str, packages: list[str]) -> list[str]:
    """Folders of this host that outputs must not show: the course, Python's prefixes and
    site-packages, the home folder, and the folders of the course's packages (the
    repository an editable package lives in), longest first."""
    found = {root, sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.expanduser("~")}
    found.update(site.getsitepackages())
    for name in packages:
        spec = importlib.util.find_spec(name)
        for location in (spec.submodule_search_locations or []) if spec else []:
            found.add(os.path.dirname(location))
    found |= {os.path.realpath(p) for p in found}
    return sorted((p.rstrip(os.sep) for p in found if len(p.rstrip(os.sep)) > 1), key=len)[::-1]


class CleanFeedback(Preprocessor):
    """Label graded cells by question, leave the hidden tests and this host's paths out.

    Runs in ``GenerateFeedback`` after ``GetGrades`` (which has put each cell's score in its
    metadata); the label goes to ``cell.metadata.nbgrader.label`` for the template.
    """

    enabled = Bool(True, help="nbgrader registers its converters' preprocessors disabled").tag(
        config=True
    )
    begin_hidden = Unicode("BEGIN HIDDEN TESTS", help="nbgrader's hidden tests marker").tag(
        config=True
    )
    end_hidden = Unicode("END HIDDEN TESTS", help="the end of the hidden tests").tag(config=True)
    placeholder = Unicode("# (hidden tests: not shown)").tag(config=True)

    def preprocess(self, nb, resources):
        from .autograde.config import Safegrade

        packages = list(Safegrade(config=self.config).packages)
        self.prefixes = host_prefixes(os.getcwd(), packages)  # nbgrader runs in the course
        for index, label in question_labels(nb.cells).items():
            nb.cells[index].metadata["nbgrader"]["label"] = label
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            if _is_test(cell):
                cell.source = self.without_hidden_tests(cell.source)
                errors = [o for o in cell.outputs if o.get("output_type") == "error"]
                if errors:  # only what failed, in its own words
                    cell.outputs = [self.message_only(errors[-1])]
            for output in cell.outputs:
                self.clean_output(output)
        return nb, resources

    def without_hidden_tests(self, source: str) -> str:
        lines, hidden = [], False
        for line in source.splitlines():
            if self.begin_hidden in line:
                hidden = True
                indent = line[: len(line) - len(line.lstrip())]
                lines.append(indent + self.placeholder)
            elif self.end_hidden in line:
                hidden = False
            elif not hidden:
                lines.append(line)
        return "\n".join(lines)

    def message_only(self, error):
        """The error's last line, as Python would print it: ``AssertionError: message``."""
        ename, evalue = error.get("ename", "Error"), error.get("evalue", "")
        text = f"{ename}: {evalue}" if evalue else ename
        error["traceback"] = [_ANSI.sub("", text)]
        return error

    def strip_paths(self, text: str) -> str:
        for prefix in self.prefixes:
            text = re.sub(re.escape(prefix) + r"(?=[/\\\s'\":,)\]]|$)", "…", text)
        return text

    def clean_output(self, output) -> None:
        kind = output.get("output_type")
        if kind == "stream":
            output["text"] = self.strip_paths(output.get("text", ""))
        elif kind == "error":
            output["evalue"] = self.strip_paths(output.get("evalue", ""))
            output["traceback"] = [self.strip_paths(line) for line in output.get("traceback", [])]
        elif kind in ("display_data", "execute_result"):
            data = output.get("data", {})
            for mime in ("text/plain", "text/html"):
                if isinstance(data.get(mime), str):
                    data[mime] = self.strip_paths(data[mime])
