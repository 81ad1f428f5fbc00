"""The site's chrome: repository and launch buttons from one setting, one search box, no
duplicated scripts, the course's stylesheet.

**One setting.** ``repository.url`` in ``_config.yml`` names the course's public repository.
When it is set, every page gets the repository link, the "edit this page" and "open an issue"
buttons, and the chapters (notebooks) get launch buttons for the services listed under
``launch_buttons``. When it is empty, none of them appears: a button to an empty address
would be a broken link. Jupyter Book refuses ``use_repository_button: true`` without a URL,
so ``_config.yml`` leaves the ``use_*_button`` flags out and :func:`chrome_options` decides
them here, at ``config-inited``, from the URL.

**One search box.** pydata-sphinx-theme 0.17 adds a top bar holding a second search field
(``navbar_persistent``) above the book theme's sidebar, which has its own; it is turned off.

**No script twice.** Sphinx 7.4 registers a JavaScript snippet added by an extension after
the builder started (sphinx-thebe and sphinx-togglebutton do so) once as ``None`` and once
as ``""``, so the page gets it twice; sphinx-thebe's ``const THEBE_JS_URL`` then throws
"Identifier has already been declared" on every page. Duplicates are dropped from each page,
and sphinx-thebe's assets too unless ``launch_buttons.thebe`` is on (it needs Binder).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

STATIC = Path(__file__).resolve().parents[1] / "_static"
REPOSITORY_BUTTONS = ("use_repository_button", "use_edit_page_button", "use_issues_button")
LAUNCH_SERVICES = (
    "binderhub_url",
    "jupyterhub_url",
    "colab_url",
    "deepnote_url",
    "jupyterlite_url",
)


def chrome_options(theme_options: dict[str, Any]) -> dict[str, Any]:
    """The theme options with the repository and launch buttons decided by
    ``repository_url`` alone: all on when it names a repository, all off when it is empty."""
    options = dict(theme_options)
    url = str(options.get("repository_url") or "").strip()
    options["repository_url"] = url
    for button in REPOSITORY_BUTTONS:
        options[button] = bool(url)
    launch = dict(options.get("launch_buttons") or {})
    if not url:
        for service in LAUNCH_SERVICES:
            if service in launch:
                launch[service] = ""
        launch["thebe"] = False
    options["launch_buttons"] = launch
    # The sidebar has the search field; the top bar would be a second one.
    options["navbar_persistent"] = []
    return options


def _configure(app: Sphinx, config: Config) -> None:
    config.html_theme_options = chrome_options(config.html_theme_options)
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def _script_key(script: Any) -> tuple:
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {}) or {}
    return (filename, tuple(sorted((k, str(v)) for k, v in attributes.items())))


def _thebe(script: Any) -> bool:
    filename = str(getattr(script, "filename", script) or "")
    body = str((getattr(script, "attributes", {}) or {}).get("body", ""))
    return "sphinx-thebe" in filename or "THEBE_JS_URL" in body


def _page_assets(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    thebe = bool(app.config.html_theme_options.get("launch_buttons", {}).get("thebe"))
    seen: set[tuple] = set()
    scripts = []
    for script in context.get("script_files", []):
        key = _script_key(script)
        if key in seen or (not thebe and _thebe(script)):
            continue
        seen.add(key)
        scripts.append(script)
    context["script_files"] = scripts
    if not thebe:
        context["css_files"] = [
            css
            for css in context.get("css_files", [])
            if "sphinx-thebe" not in str(getattr(css, "filename", css))
        ]


def _fresh_module_pages(app: Sphinx) -> None:
    """sphinx.ext.viewcode rewrites a module's source page only when the module is newer
    than the page, so pages written under an older theme or config would stay as they were
    (with the duplicated scripts above): they are removed and written again."""
    modules = Path(app.outdir) / "_modules"
    if app.builder.format == "html" and modules.is_dir():
        shutil.rmtree(modules)


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", _fresh_module_pages)
    # After Jupyter Book has turned _config.yml into html_theme_options.
    app.connect("config-inited", _configure, priority=900)
    app.add_css_file("course.css")
    # Last, after every extension has added its scripts to the page.
    app.connect("html-page-context", _page_assets, priority=1000)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
