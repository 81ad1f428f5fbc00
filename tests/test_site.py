"""The built website (_build/html, made by `make book`, which `make test` runs first).

It must be self-contained (nothing fetched from another host, MathJax included), typeset
its maths in a real browser with the network cut off. That it holds no answer is
tests/test_no_leak.py's job.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
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
