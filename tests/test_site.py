"""The built website (_build/html, made by `make book`, which `make test` runs first).

It must be self-contained (nothing fetched from another host, MathJax included), typeset
its maths in a real browser with the network cut off. That it holds no answer is
tests/test_no_leak.py's job.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from course import ROOT

pytestmark = pytest.mark.site
SITE = Path(os.environ.get("RNNKIT_SITE", ROOT / "_build" / "html"))


@pytest.fixture(scope="module")
def pages() -> dict[Path, str]:
    if not (SITE / "index.html").exists():
        pytest.fail("_build/html is missing: run `make book` (make test does) first")
    return {p: p.read_text(encoding="utf-8") for p in SITE.rglob("*.html")}


class _Resources(HTMLParser):
    """URLs a browser fetches by itself when it opens a page (not links a reader clicks)."""

    FETCHED = {
        ("script", "src"),
        ("img", "src"),
        ("iframe", "src"),
        ("source", "src"),
        ("embed", "src"),
        ("video", "src"),
        ("audio", "src"),
        ("object", "data"),
    }

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in attrs:
            if (tag, name) in self.FETCHED and value:
                self.urls.append(value)
        rel = (values.get("rel") or "").lower()
        if tag == "link" and values.get("href") and rel not in {"canonical", "alternate"}:
            self.urls.append(values["href"])


def _external(url: str) -> bool:
    return bool(re.match(r"^(https?:)?//", url))


def test_pages_load_nothing_from_another_host(pages):
    offenders = {}
    for path, html in pages.items():
        parser = _Resources()
        parser.feed(html)
        external = [u for u in parser.urls if _external(u)]
        if external:
            offenders[str(path.relative_to(SITE))] = external
    assert not offenders, f"pages fetch from other hosts: {offenders}"


def test_stylesheets_import_nothing_from_another_host():
    for css in SITE.joinpath("_static").rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="replace")
        imports = re.findall(r"@import\s+(?:url\()?['\"]?((?:https?:)?//[^'\")\s]+)", text)
        assert not imports, f"{css.relative_to(SITE)} imports {imports}"


def test_mathjax_is_served_by_the_site(pages):
    notation = pages[SITE / "book" / "notation.html"]
    scripts = re.findall(r'<script[^>]+src="([^"]*mathjax[^"]*)"', notation, flags=re.I)
    assert scripts, "the notation page loads no MathJax script"
    for src in scripts:
        local = (SITE / "book" / src.split("?")[0]).resolve()
        assert local.is_file(), f"MathJax script {src} is not in the built site"


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _rendered_dom(page: Path, tmp_path: Path) -> str:
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (make test installs Debian's chromium)")
        pytest.skip("chromium is not installed here; `make browser` installs it (Debian)")
    run = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            # Every host but this machine is unreachable: the page must not need the network.
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost",
            "--allow-file-access-from-files",
            "--virtual-time-budget=15000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


def test_math_is_typeset_in_a_browser_without_network(pages, tmp_path):
    dom = _rendered_dom(SITE / "book" / "notation.html", tmp_path)
    typeset = dom.count("<mjx-container")
    assert typeset >= 10, f"only {typeset} typeset formulas: MathJax did not run"
    text = re.sub(r"<[^>]+>", " ", dom)
    assert "\\begin{aligned}" not in text and "\\tanh" not in text, "raw TeX left on the page"


# The site as a product (issue #15): setup page, buttons, chrome, API page, citations.

BOOK = SITE / "book"
SCRIPT_PROBE = """<script>
window.__errors = [];
window.addEventListener("error", (e) => window.__errors.push(String(e.message)));
window.addEventListener("load", () => setTimeout(() => {
  const root = document.documentElement;
  root.setAttribute("data-probe-errors", JSON.stringify(window.__errors));
  root.setAttribute("data-probe-overflow", String(root.scrollWidth - root.clientWidth));
}, 1000));
</script>"""


def dump_dom(
    harness: Path, profile: Path, width: int, budget_ms: int, *flags: str
) -> subprocess.CompletedProcess:
    """Open `harness` in headless Chromium, `width` px wide, with every host but this
    machine unreachable, and return the run: its stdout is the DOM after `budget_ms` of
    virtual time."""
    return subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost",
            "--allow-file-access-from-files",
            f"--window-size={width},900",
            *flags,
            f"--virtual-time-budget={budget_ms}",
            "--dump-dom",
            harness.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60 + budget_ms / 250,
    )


def _probe(page: Path, tmp_path: Path, width: int) -> tuple[list[str], int]:
    """Open a copy of `page` in headless Chromium, `width` px wide, with an error collector
    that runs before the page's own scripts: (JavaScript errors, horizontal overflow px)."""
    if _chromium() is None:
        _rendered_dom(page, tmp_path)  # fails in CI, skips elsewhere
    text = page.read_text(encoding="utf-8")
    harness = tmp_path / f"probe-{width}-{page.name}"
    base = f'<base href="{page.parent.as_uri()}/">'
    harness.write_text(text.replace("<head>", "<head>" + base + SCRIPT_PROBE, 1), "utf-8")
    run = dump_dom(harness, tmp_path / "profile", width, 15000, "--hide-scrollbars")
    errors = re.search(r'data-probe-errors="([^"]*)"', run.stdout)
    overflow = re.search(r'data-probe-overflow="(-?\d+)"', run.stdout)
    assert errors and overflow, f"the probe did not report: {run.stderr[-1500:]}"
    return json.loads(unescape(errors.group(1))), int(overflow.group(1))


def _text(fragment: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", fragment))


def test_setup_page_links_the_wheels_and_the_pdf_of_the_site(pages):
    setup = pages[BOOK / "setup.html"]
    hrefs = set(re.findall(r'<a\s[^>]*href="([^"#?]+)', setup))
    for published in (
        "wheels/rnnkit-0.1.0-py3-none-any.whl",
        "wheels/safegrade-0.1.0-py3-none-any.whl",
        "rnn-course.pdf",
    ):
        assert f"../{published}" in hrefs, f"the setup page does not link {published}"
        target = (BOOK / f"../{published}").resolve()
        assert target.is_file(), f"{published} is not in the built site (make book puts it there)"
    text = _text(setup)
    for step in ("pip install", "torch==2.13.0", "jupyter lab", "Restart Kernel", "mark scheme"):
        assert step in text, f"the setup page never says {step!r}"


def test_intro_sends_students_to_the_setup_page(pages):
    intro = pages[BOOK / "intro.html"]
    assert 'href="setup.html"' in intro
    text = _text(intro)
    assert "make test" not in text and "make book" not in text and "README.md" not in text


def _configured_repository_url() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return str((config.get("repository") or {}).get("url") or "").strip()


BUTTONS = ("source-repository-button", "source-edit-button", "source-issues-button")


def test_repository_and_launch_buttons_follow_repository_url(pages):
    url = _configured_repository_url()
    chapter = pages[BOOK / "ch01_closed_loop.html"]
    if url:
        for button in BUTTONS:
            assert button in chapter, f"repository.url is set but {button} is missing"
        assert f'href="{url}' in chapter
        return
    for path, page in pages.items():
        shown = [b for b in (*BUTTONS, "launch-buttons", "launch-thebe") if b in page]
        assert not shown, f"{path.relative_to(SITE)} shows {shown} without a repository.url"
        assert 'href=""' not in page, f"{path.relative_to(SITE)} has a link to nowhere"


def test_repository_setting_decides_every_button():
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        from sitechrome import REPOSITORY_BUTTONS, chrome_options
    finally:
        sys.path.pop(0)
    launch = {"binderhub_url": "https://mybinder.org", "colab_url": "https://colab.example"}
    empty = chrome_options({"repository_url": "", "launch_buttons": dict(launch)})
    assert not any(empty[b] for b in REPOSITORY_BUTTONS)
    assert not any(empty["launch_buttons"].get(k) for k in (*launch, "thebe"))
    url = "https://github.com/OWNER/rnn-course"
    full = chrome_options({"repository_url": f" {url} ", "launch_buttons": dict(launch)})
    assert all(full[b] for b in REPOSITORY_BUTTONS) and full["repository_url"] == url
    assert full["launch_buttons"] == launch
    assert empty["navbar_persistent"] == full["navbar_persistent"] == []


def test_pages_have_one_search_field_and_a_favicon(pages):
    for path, page in pages.items():
        if "bd-article" not in page:  # redirects and the search page's own form
            continue
        where = path.relative_to(SITE)
        assert "navbar-persistent" not in page, f"{where} has the top bar's second search box"
        icons = re.findall(r'<link rel="icon" href="([^"]+)"', page)
        assert icons, f"{where} has no favicon"
        assert (path.parent / icons[0]).resolve().is_file(), f"{where}: {icons[0]} is missing"


def test_no_inline_script_is_inserted_twice(pages):
    for path, page in pages.items():
        inline = re.findall(r"<script>(.*?)</script>", page, flags=re.S)
        twice = {s for s in inline if inline.count(s) > 1}
        assert not twice, f"{path.relative_to(SITE)} repeats {sorted(twice)}"


@pytest.mark.parametrize("name", ["intro", "setup", "api", "ch04_lstm"])
def test_pages_run_without_javascript_errors_and_fit_a_phone(name, pages, tmp_path):
    errors, overflow = _probe(BOOK / f"{name}.html", tmp_path, width=400)
    assert not errors, f"{name}.html: {errors}"
    if name != "ch04_lstm":  # chapters' own layout is checked with the chapters
        assert overflow <= 0, f"{name}.html scrolls sideways by {overflow}px at 400px"


def test_api_page_renders_docstrings_not_their_markup(pages):
    api = pages[BOOK / "api.html"]
    text = _text(api)
    for markup in (":param", ":func:", ":class:", "``", "Args:"):
        assert markup not in text, f"the API page shows raw {markup!r}"
    assert "Parameters" in text, "napoleon did not render the Args sections"
    assert 'class="line-block"' in api, "the shape tables are gone"
    assert "extra_repr" not in api, "torch's nn.Module API is documented as rnnkit's"
    assert 'id="rnnkit.answers' not in api, "the answers must not be on the API page"
    python = re.findall(r'<div class="highlight-python[^"]*">(.*?)</pre>', api, flags=re.S)
    equations = [b for b in python if "σ(" in _text(b) or "⊙" in _text(b)]
    assert not equations, "equations are highlighted as Python"


def test_citations_read_the_same_in_the_text_and_the_bibliography(pages):
    references = pages[BOOK / "references.html"]
    labels = {
        _text(label).replace("\xa0", " ")
        for label in re.findall(
            r'<span class="label"><span class="fn-bracket">\[</span>(.*?)<span', references
        )
    }
    assert "Åström and Murray, 2008" in labels and "Elman, 1990" in labels, sorted(labels)[:5]
    citation = r'<a class="reference internal" href="references\.html#[^"]+"[^>]*>(.*?)</a>'
    # A multi-word surname is bound with no-break spaces in the text ("Tjong Kim Sang"): to a
    # reader that is the same label.
    cited = {
        _text(link).replace("\xa0", " ")
        for page in pages.values()
        for link in re.findall(citation, page)
    }
    assert cited, "no citation links to the bibliography"
    assert cited <= labels, f"cited as in the text but labelled otherwise: {sorted(cited - labels)}"
