"""Render rnnkit's docstrings as written: plain text in a literal block.

rnnkit's docstrings are written for `help()` and for reading in the source (shape tables,
|x| norms, ASCII maths), not as reStructuredText. Showing them verbatim keeps the API page
faithful and stops docutils from misreading them.
"""

from sphinx.application import Sphinx


def _as_literal(app, what, name, obj, options, lines: list[str]) -> None:
    if lines and any(line.strip() for line in lines):
        lines[:] = ["::", ""] + ["    " + line for line in lines] + [""]


def setup(app: Sphinx) -> dict:
    app.connect("autodoc-process-docstring", _as_literal)
    return {"parallel_read_safe": True}
