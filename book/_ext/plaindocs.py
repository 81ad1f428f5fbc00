"""Render rnnkit's docstrings on the API page: prose, shape tables, Args sections, code.

rnnkit's docstrings are written for ``help()`` and for reading in the source: Google-style
``Args:`` sections, reST inline code (double backticks) and roles (``:func:``), literal
blocks after ``::`` holding equations, and *shape tables*, lines such as::

    x: (B, I) input x_t;  h_prev: (B, H) state h_{t-1}
    Returns h: (B, H) and the cache for the backward pass.

that reST would run together into one paragraph. They also hold plain-text maths that reST
misreads: ``|x|`` (a substitution), ``f(**inputs)`` (bold without an end), ``x_`` (a link).

Before ``sphinx.ext.napoleon`` turns the ``Args:`` sections into parameter lists, this
extension rewrites each docstring so that it renders as written: a shape table becomes a line
block, one entry per line with its name as code; characters reST would misread are escaped
outside code; a literal block is highlighted as Python only when it parses as Python, as
plain text otherwise (equations are not code). It also keeps torch's ``nn.Module`` API off
the page: no inherited docstrings (``autodoc_inherit_docstrings``) and no ``extra_repr``.
"""

from __future__ import annotations

import ast
import re
import textwrap

from sphinx.application import Sphinx
from sphinx.config import Config

# A Google-style section header that napoleon renders ("Args:", "Returns:", ...).
_SECTION = re.compile(
    r"^(Args|Arguments|Parameters|Returns|Return|Yields|Raises|Attributes|Keyword Args):\s*$"
)
# A shape-table entry: "name: (shape) ...", or "a, b: ..." starting a line or after ";  ".
_ENTRY = re.compile(r"^(?P<name>[A-Za-z_]\w*(?:, [A-Za-z_]\w*)*): (?P<rest>\S.*)$")
_SHAPE_ENTRY = re.compile(r"^[A-Za-z_]\w*(?:, [A-Za-z_]\w*)*: \(")
_RETURNS = re.compile(r"^Returns\b(?!:)")
# Pieces of a line that are already reST and stay as they are: inline code, roles, and
# balanced *emphasis* / **strong**.
_KEEP = re.compile(
    r"``.+?``"
    r"|:[a-z]+(?::[a-z]+)?:`[^`]+`"
    r"|\*\*[^\s*](?:[^*]*[^\s*])?\*\*(?=[\s.,;:!?)\]'\"-]|$)"
    r"|(?<![\w*])\*[^\s*](?:[^*]*[^\s*])?\*(?=[\s.,;:!?)\]'\"-]|$)"
)


def _escape(text: str) -> str:
    """Escape what reST would misread in plain text: |, stray * and `, and a word_ that
    would become a link."""
    text = text.replace("\\", "\\\\")
    text = text.replace("|", "\\|").replace("`", "\\`").replace("*", "\\*")
    return re.sub(r"(?<=\w)_(?=\W|$)", r"\\_", text)


def escape_inline(line: str) -> str:
    """``line`` with everything outside inline code, roles and balanced emphasis escaped."""
    out, pos = [], 0
    for match in _KEEP.finditer(line):
        out.append(_escape(line[pos : match.start()]))
        out.append(match.group(0))
        pos = match.end()
    out.append(_escape(line[pos:]))
    return "".join(out)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _code_block(body: list[str]) -> list[str]:
    """A literal block as a code-block: Python when it parses as Python, else plain text."""
    source = textwrap.dedent("\n".join(body)).strip("\n")
    try:
        ast.parse(source)
        language = "python"
    except SyntaxError:
        language = "text"
    return [f".. code-block:: {language}", ""] + ["    " + line for line in source.splitlines()]


def _shape_table(paragraph: list[str]) -> list[str]:
    """Prose lines before the first entry stay prose; the entries become a line block."""
    start = next(
        i for i, line in enumerate(paragraph) if _ENTRY.match(line) or _RETURNS.match(line)
    )
    entries: list[str] = []
    for line in paragraph[start:]:
        parts = re.split(r";\s{2,}", line)
        if _ENTRY.match(parts[0]) or _RETURNS.match(parts[0]) or not entries:
            entries.extend(parts)
        else:  # a continuation of the previous entry's description
            entries[-1] += " " + parts[0].strip()
            entries.extend(parts[1:])
    block = []
    for entry in entries:
        match = _ENTRY.match(entry)
        if match:
            names = ", ".join(f"``{n}``" for n in match["name"].split(", "))
            block.append(f"| {names}: {escape_inline(match['rest'])}")
        else:
            block.append(f"| {escape_inline(entry)}")
    prose = [escape_inline(line) for line in paragraph[:start]]
    return prose + ([""] if prose else []) + block


def _is_shape_table(paragraph: list[str]) -> bool:
    """A paragraph with a "name: (shape)" line, or with two entries ("name: ...", "Returns")."""
    if paragraph[0].startswith(("- ", "* ")):
        return False
    entries = sum(bool(_ENTRY.match(line) or _RETURNS.match(line)) for line in paragraph)
    return entries >= 2 or any(_SHAPE_ENTRY.match(line) for line in paragraph)


def convert(lines: list[str]) -> list[str]:
    """rnnkit's docstring ``lines`` (dedented) as reST that napoleon can take over."""
    out: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if not line.strip():
            out.append("")
            i += 1
        elif _SECTION.match(line):
            # napoleon renders the section; escape only the descriptions after each name.
            out.append(line)
            i += 1
            first = None  # the entries' indentation; deeper lines continue a description
            while i < n and (not lines[i].strip() or _indent(lines[i]) > 0):
                entry = lines[i]
                first = _indent(entry) if first is None and entry.strip() else first
                head, sep, rest = entry.partition(": ")
                if sep and _indent(entry) == first and re.fullmatch(r"\s*[\w, *]+", head):
                    # "a: I;  b: H" holds two entries: one line each for napoleon.
                    for part in re.split(r";\s{2,}", entry.strip()):
                        name, _, text = part.partition(": ")
                        out.append(" " * first + name + ": " + escape_inline(text))
                elif entry.strip() and _indent(entry) == first:
                    # A description that goes on at the entries' indentation.
                    out.append(" " * (first + 4) + escape_inline(entry.strip()))
                else:
                    out.append(escape_inline(entry))
                i += 1
        elif _indent(line) > 0:
            # An indented block on its own (a formula set off from the text): plain text.
            body = []
            while i < n and (not lines[i].strip() or _indent(lines[i]) > 0):
                body.append(lines[i])
                i += 1
            out.extend(_code_block(body) + [""])
        elif line.rstrip().endswith("::") and _indent(line) == 0:
            # "Text::" and an indented literal block: keep the text, choose the highlighting.
            text = line.rstrip()[:-2].rstrip()
            if text:
                out.extend([escape_inline(text) + ":", ""])
            i += 1
            body = []
            while i < n and (not lines[i].strip() or _indent(lines[i]) > 0):
                body.append(lines[i])
                i += 1
            out.extend(_code_block(body) + [""])
        else:
            paragraph = []
            while (
                i < n
                and lines[i].strip()
                and not _SECTION.match(lines[i])
                and not (lines[i].rstrip().endswith("::") and _indent(lines[i]) == 0)
            ):
                paragraph.append(lines[i])
                i += 1
            if _is_shape_table(paragraph):
                out.extend(_shape_table(paragraph))
            else:
                out.extend(escape_inline(p) for p in paragraph)
    return out


def _render(app, what, name, obj, options, lines: list[str]) -> None:
    if name.startswith("rnnkit.") and any(line.strip() for line in lines):
        lines[:] = convert(lines) + [""]
        if what in ("attribute", "data", "property") and ": " in lines[0]:
            # napoleon reads an attribute's "text: more" first line as "type: description";
            # an empty comment first keeps the line as written.
            lines[:0] = ["..", ""]


def _skip_torch_api(app, what, name, obj, skip, options):
    """torch's ``extra_repr`` (a printing hook) is no part of rnnkit's API."""
    if name == "extra_repr":
        return True
    return None


def _configure(app: Sphinx, config: Config) -> None:
    # An undocumented override (extra_repr, forward of a subclass) must not show torch's text.
    config.autodoc_inherit_docstrings = False


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _configure)
    # Before napoleon (priority 500), which then renders the Args sections.
    app.connect("autodoc-process-docstring", _render, priority=400)
    app.connect("autodoc-skip-member", _skip_torch_api)
    return {"parallel_read_safe": True}
