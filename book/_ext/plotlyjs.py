"""plotly.js served by the site, for the chapters' interactive figures.

A chapter's interactive figure is a notebook output made with plotly's
``to_html(include_plotlyjs=False)``: a ``<div>`` and an inline script that calls
``Plotly.newPlot``. Plotly's own ways of getting the library to the page (a CDN, or
require.js) need the network, so this extension ships the library with the site:

- At ``builder-inited`` it copies ``plotly.min.js`` from the installed ``plotly`` package
  into the build's ``_static/plotly/`` (HTML builders only; ``singlehtml``, which
  ``make pdf`` prints, is one). Its version is the Python package's, so the figures and
  the library always match.
- At ``html-page-context`` it adds the script to the pages whose body calls
  ``Plotly.newPlot``, and only to those: the library is 4.8 MB. It goes in ``<head>``
  without ``defer``, so it has run before the figures' inline scripts in the body. Those
  pages also get ``_static/plotly/figures.css``, which keeps each interactive figure on
  one sheet when the page is printed (``make pdf``).

Every URL is relative to the page, so the site works from a folder, offline.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

SCRIPT = "plotly/plotly.min.js"
STYLE = "plotly/figures.css"
MARKER = "Plotly.newPlot"
#: On paper a figure shows its starting state; cut in two by a page break, it shows less.
PRINT_CSS = """@media print {
  figure:has(.plotly-graph-div) {
    break-inside: avoid;
  }
}
"""


def library() -> Path:
    """The ``plotly.min.js`` of the installed plotly package.

    Raises ExtensionError, naming the fix, when plotly is not installed.
    """
    try:
        import plotly
    except ImportError as error:
        raise ExtensionError(
            "plotlyjs: the interactive figures need plotly (pip install -r requirements.txt)"
        ) from error
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise ExtensionError(f"plotlyjs: {path} is missing; reinstall plotly")
    return path


def _copy(app: Sphinx) -> None:
    if app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / SCRIPT
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(library(), target)
    target.with_name(Path(STYLE).name).write_text(PRINT_CSS, encoding="utf-8")


def _add_script(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    if MARKER in context.get("body", ""):
        # Added here, the script goes to this page only.
        app.add_js_file(SCRIPT, charset="utf-8")
        app.add_css_file(STYLE)


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", _copy)
    app.connect("html-page-context", _add_script)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
