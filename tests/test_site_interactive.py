"""The chapters' interactive figures on the built site (issue #15, item 7).

They are plotly figures whose library, plotly.js, the site serves itself
(book/_ext/plotlyjs.py): a page with one must load it from the build by a relative URL,
fetch nothing from another host, and draw the figure in a browser with the network cut
off, its menus and sliders included, without a JavaScript error.
"""

from __future__ import annotations

import json
import os
import re
from html import unescape
from pathlib import Path

import pytest
from course import ROOT
from test_site import _chromium, _external, _rendered_dom, _Resources, dump_dom

pytestmark = pytest.mark.site
SITE = Path(os.environ.get("RNNKIT_SITE", ROOT / "_build" / "html"))
BOOK = SITE / "book"
#: Each page with interactive figures, and the names (HTML ids) of its figures.
INTERACTIVE = {
    "ch03_long_term": ["fig-ch03-radius-explorer"],
    "ch08_seq2seq": ["fig-ch08-attention-steps"],
    "ch09_dnc": ["fig-ch09-memory-steps"],
}
PLAIN = ["intro", "ch04_lstm"]  # pages with no interactive figure
SCRIPT = re.compile(r'<script\b[^>]*\bsrc="([^"]*plotly[^"]*)"', re.I)


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    if not (SITE / "index.html").exists():
        pytest.fail(f"{SITE} has no site: run `make book` (make test does) first")
    return {name: (BOOK / f"{name}.html").read_text("utf-8") for name in [*INTERACTIVE, *PLAIN]}


def _figure(html: str, name: str) -> str:
    start = re.search(rf'<figure\b[^>]*\bid="{name}"', html)
    assert start, f"no figure named {name}"
    return html[start.start() : html.index("</figure>", start.end())]


@pytest.mark.parametrize("page", INTERACTIVE)
def test_pages_load_plotly_from_the_site_by_a_relative_url(page, pages):
    import plotly

    html = pages[page]
    scripts = SCRIPT.findall(html)
    assert len(scripts) == 1, f"{page}.html should load plotly.js once, loads {scripts}"
    src = scripts[0]
    assert not _external(src) and not src.startswith("/"), f"{src} is not relative"
    served = (BOOK / src.split("?")[0]).resolve()
    assert served.is_file(), f"{src} is not in the built site"
    installed = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert served.read_bytes() == installed.read_bytes(), "the site's plotly.js is not plotly's"
    # In <head> and not deferred, so it has run when the figures' inline scripts call it.
    tag = re.search(rf'<script\b[^>]*src="{re.escape(src)}"[^>]*>', html).group(0)
    assert "defer" not in tag and "async" not in tag, tag
    assert html.index(src) < html.index("</head>") < html.index("Plotly.newPlot")


@pytest.mark.parametrize("page", PLAIN)
def test_pages_without_a_figure_do_not_load_plotly(page, pages):
    assert not SCRIPT.search(pages[page]), f"{page}.html loads plotly.js (4.8 MB) for nothing"


@pytest.mark.parametrize("page", INTERACTIVE)
def test_interactive_pages_fetch_nothing_from_another_host(page, pages):
    html = pages[page]
    parser = _Resources()
    parser.feed(html)
    assert not [u for u in parser.urls if _external(u)]
    for name in INTERACTIVE[page]:
        figure = _figure(html, name)
        assert "Plotly.newPlot" in figure, f"{name} holds no plotly figure"
        for needle in ("require(", "requirejs", "cdn.plot.ly", "https://", "http://"):
            assert needle not in figure, f"{name} refers to {needle!r}"


@pytest.mark.parametrize("page", INTERACTIVE)
def test_interactive_figures_are_numbered_captioned_and_cited(page, pages):
    html = pages[page]
    for name in INTERACTIVE[page]:
        caption = re.search(r'<span class="caption-number">([^<]*)</span>', _figure(html, name))
        assert caption and re.match(r"Fig\. \d+\.\d+", caption.group(1)), f"{name}: no number"
        assert f'href="#{name}"><span class="std std-numref">' in html, f"{name} is never cited"


#: Runs after the page has loaded: for each figure, what was drawn, then every menu button
#: and slider step applied as plotly applies them on a click (Plotly[method](gd, ...args)),
#: then what is drawn.
PROBE = """<script>
window.__errors = [];
window.addEventListener("error", (e) => window.__errors.push(String(e.message)));
window.addEventListener("load", () => setTimeout(async () => {
  const report = {errors: window.__errors, figures: {}};
  for (const id of NAMES) {
    const gd = document.querySelector("#" + id + " .js-plotly-plot");
    const entry = report.figures[id] = {found: Boolean(gd)};
    if (!gd) continue;
    const drawn = () => ({
      svg: gd.querySelectorAll("svg.main-svg").length,
      traces: gd.querySelectorAll("g.trace").length,
      sliders: gd.querySelectorAll("g.slider-container").length,
      menus: gd.querySelectorAll("g.updatemenu-container").length,
    });
    entry.before = drawn();
    const commands = [];
    for (const menu of gd.layout.updatemenus || []) commands.push(...menu.buttons);
    for (const slider of gd.layout.sliders || []) commands.push(...slider.steps);
    entry.commands = commands.length;
    try {
      for (const c of commands) await Plotly[c.method](gd, ...c.args);
      for (const s of gd.layout.sliders || []) {
        for (const c of s.steps) await Plotly[c.method](gd, ...c.args);
      }
    } catch (error) {
      report.errors.push("command failed: " + String(error));
    }
    entry.after = drawn();
  }
  document.documentElement.setAttribute("data-probe", JSON.stringify(report));
}, 2000));
</script>"""


@pytest.mark.parametrize("page", INTERACTIVE)
def test_figures_draw_and_respond_in_chromium_without_errors(page, pages, tmp_path):
    if _chromium() is None:
        _rendered_dom(BOOK / f"{page}.html", tmp_path)  # fails in CI, skips elsewhere
    names = INTERACTIVE[page]
    probe = PROBE.replace("NAMES", json.dumps(names))
    base = f'<base href="{BOOK.as_uri()}/">'
    harness = tmp_path / f"probe-{page}.html"
    harness.write_text(pages[page].replace("<head>", "<head>" + base + probe, 1), "utf-8")
    # Every host but this machine is unreachable: the figures must not need one.
    run = dump_dom(harness, tmp_path / "profile", 1200, 30000)
    found = re.search(r'data-probe="([^"]*)"', run.stdout)
    assert found, f"the probe did not report: {run.stderr[-1500:]}"
    report = json.loads(unescape(found.group(1)))
    assert not report["errors"], f"{page}.html: {report['errors']}"
    for name in names:
        entry = report["figures"][name]
        assert entry["found"], f"{name}: plotly drew nothing (no .js-plotly-plot)"
        for when in ("before", "after"):
            drawn = entry[when]
            assert drawn["svg"] >= 1 and drawn["traces"] >= 1, f"{name} {when}: {drawn}"
            assert drawn["sliders"] == 1, f"{name} {when}: {drawn}"
        assert entry["commands"] >= 5, f"{name} has almost no controls: {entry}"
