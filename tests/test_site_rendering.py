"""Every page of the built site renders correctly in a real browser (issue #15, item 2).

One headless Chromium run opens a small harness page that loads every page of the site
in iframes, twice: 1280 px wide (a desktop) and 400 px wide (a phone). Once MathJax has
typeset a page, the harness records what a reader would see:

- raw TeX (``$$``, ``\\(``, ``\\[``, ``\\begin{``) or a stray ``$`` in the rendered text
  outside code (maths MathJax never saw, like ``$$`` inside a list item);
- MathJax's own errors (``mjx-merror``, ``data-mjx-error``);
- display equations wider than the room beside their number, and tables wider than the
  content column, at desktop width;
- each display equation's number and each ``{eq}`` link's text and target;
- how far the page body scrolls sideways at phone width (a wide equation or table must
  scroll inside its own box, which book/_static/course.css arranges);
- the web fonts the page loaded (the glossary's Chinese must use the bundled CJK face).

One browser start for the whole site keeps this fast; the module's results are shared by
the tests below. Reads the site at ``RNNKIT_SITE`` or ``_build/html`` (``make book``).
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest
from course import ROOT

pytestmark = pytest.mark.site
SITE = Path(os.environ.get("RNNKIT_SITE", ROOT / "_build" / "html"))
DESKTOP, PHONE = 1280, 400
#: Pages opened at once: loading overlaps typesetting; more than the cores only thrashes.
CONCURRENCY = max(2, min(4, os.cpu_count() or 2))

HARNESS = """<!DOCTYPE html>
<html><head><meta charset="utf-8"></head><body>
<pre id="results"></pre>
<script>
const JOBS = __JOBS__;
const CONCURRENCY = __CONCURRENCY__;
const RAW = /\\$|\\\\\\(|\\\\\\)|\\\\\\[|\\\\\\]|\\\\begin\\{/;
const CODE = "pre, code, script, style, textarea, kbd, samp, mjx-container, .highlight";

function measure(win) {
  const doc = win.document;
  const root = doc.documentElement;
  const article = doc.querySelector(".bd-article") || doc.body;
  const style = win.getComputedStyle(article);
  const column = article.clientWidth - parseFloat(style.paddingLeft)
    - parseFloat(style.paddingRight);
  const raw = [];
  const walker = doc.createTreeWalker(article, NodeFilter.SHOW_TEXT, {
    acceptNode: (n) => n.parentElement.closest(CODE)
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
  });
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (RAW.test(n.data)) raw.push(n.data.trim().slice(0, 100));
  }
  const mathErrors = [...doc.querySelectorAll("mjx-merror, [data-mjx-error]")].map(
    (e) => (e.getAttribute("data-mjx-error") || e.textContent).slice(0, 100));
  const wide = [];
  const items = (win.MathJax && win.MathJax.startup && win.MathJax.startup.document)
    ? [...win.MathJax.startup.document.math] : [];
  for (const item of items) {
    const node = item.typesetRoot && item.typesetRoot.querySelector("mjx-math");
    if (!item.display || !node) continue;
    // The number beside an equation (div.math is a flex row) narrows its room.
    const room = Math.min(column, item.typesetRoot.clientWidth);
    const width = node.getBoundingClientRect().width;
    if (width > room + 1) {
      wide.push(`equation ${Math.round(width)}px in ${Math.round(room)}px: `
        + item.math.trim().slice(0, 80));
    }
  }
  for (const table of article.querySelectorAll("table")) {
    const width = table.getBoundingClientRect().width;
    if (width > column + 1) {
      const head = table.textContent.replace(/\\s+/g, " ").trim().slice(0, 60);
      wide.push(`table ${Math.round(width)}px: ${head}`);
    }
  }
  const overflow = root.scrollWidth - root.clientWidth;
  const scrolls = (e) => ["auto", "scroll", "hidden", "clip"].includes(
    win.getComputedStyle(e).overflowX);
  const sticksOut = (e) => {
    const box = e.getBoundingClientRect();
    const right = scrolls(e) ? box.right : Math.max(box.right, box.left + e.scrollWidth);
    return right > root.clientWidth + 1;
  };
  const culprits = overflow <= 0 ? [] : [...doc.body.querySelectorAll("*")].filter((e) => {
    for (let a = e.parentElement; a && a !== root; a = a.parentElement) {
      if (scrolls(a)) return false;
    }
    return sticksOut(e) && (scrolls(e) || ![...e.children].some(sticksOut));
  }).slice(0, 3).map((e) => `<${e.tagName.toLowerCase()} class="${e.className}">`
    + ` ${e.textContent.replace(/\\s+/g, " ").trim().slice(0, 50)}`);
  const equations = [...article.querySelectorAll("div.math")].map((e) => {
    const eqno = e.querySelector(":scope > .eqno");
    const shown = eqno && eqno.getBoundingClientRect().width > 0;
    return {id: e.id, number: shown ? eqno.firstChild.textContent.trim() : null};
  });
  const eqrefs = [...article.querySelectorAll('a.reference.internal[href*="#equation-"]')]
    .map((a) => ({href: a.getAttribute("href"), text: a.textContent.trim()}));
  const fonts = [...doc.fonts].filter((f) => f.status === "loaded")
    .map((f) => f.family.replace(/["']/g, ""));
  return {
    overflow, culprits,
    column: Math.round(column),
    raw, mathErrors, wide, equations, eqrefs,
    fonts: [...new Set(fonts)],
    mathjax: items.length,
  };
}

function open(job) {
  return new Promise((resolve) => {
    const frame = document.createElement("iframe");
    // Pinned in view: Chromium pauses rendering in iframes scrolled out of sight.
    frame.style.cssText = `position: fixed; top: 0; left: 0; width: ${job.width}px;`
      + " height: 900px; border: 0;";
    let stage = "loading";
    const timer = setTimeout(
      () => resolve({error: `the page did not finish ${stage}`}), 600000);
    frame.onload = async () => {
      try {
        const win = frame.contentWindow;
        stage = "typesetting";
        if (win.MathJax && win.MathJax.startup && win.MathJax.startup.promise) {
          await win.MathJax.startup.promise;
        }
        stage = "loading its fonts";
        await win.document.fonts.ready;
        stage = "laying out";
        await new Promise((r) => setTimeout(r, 100));
        resolve(measure(win));
      } catch (e) {
        resolve({error: String(e)});
      } finally {
        clearTimeout(timer);
        frame.remove();
      }
    };
    frame.src = job.url;
    document.body.appendChild(frame);
  });
}

(async () => {
  const results = [];
  let next = 0;
  async function worker() {
    while (next < JOBS.length) {
      const job = JOBS[next++];
      results.push({...job, ...(await open(job))});
    }
  }
  await Promise.all(Array.from({length: CONCURRENCY}, worker));
  document.getElementById("results").textContent = JSON.stringify(results);
})();
</script></body></html>
"""


def site_pages(site: Path) -> list[Path]:
    """Every page a reader can reach: all HTML with the book's article, assets excluded."""
    return sorted(
        page
        for page in site.rglob("*.html")
        if "_static" not in page.parts and "bd-article" in page.read_text(encoding="utf-8")
    )


def render_site(site: Path, workdir: Path, widths: tuple[int, ...]) -> dict[int, dict]:
    """Open every page of `site` at each width in one headless Chromium run and return
    ``{width: {page path relative to site: measurements}}`` (see the module docstring)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (make test installs Debian's chromium)")
        pytest.skip("chromium is not installed here; `make browser` installs it (Debian)")
    jobs = [
        {"page": str(page.relative_to(site)), "url": page.as_uri(), "width": width}
        for width in widths
        for page in site_pages(site)
    ]
    harness = workdir / "harness.html"
    harness.write_text(
        HARNESS.replace("__JOBS__", json.dumps(jobs)).replace("__CONCURRENCY__", str(CONCURRENCY)),
        encoding="utf-8",
    )
    run = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={workdir / 'profile'}",
            # Every host but this machine is unreachable: the pages must not need the network.
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost",
            "--allow-file-access-from-files",
            "--hide-scrollbars",
            "--window-size=1400,1000",
            # Virtual time: the budget ends the run as soon as every page is measured.
            "--virtual-time-budget=3600000",
            "--dump-dom",
            harness.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    start = run.stdout.find('<pre id="results">')
    end = run.stdout.find("</pre>", start)
    body = unescape(run.stdout[start + len('<pre id="results">') : end]) if start >= 0 else ""
    assert body, f"the harness reported nothing: {run.stderr[-1500:]}"
    results: dict[int, dict] = {width: {} for width in widths}
    for entry in json.loads(body):
        results[entry["width"]][entry["page"]] = entry
    assert len(jobs) == sum(map(len, results.values())), "some pages were not measured"
    return results


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[int, dict]:
    if not (SITE / "index.html").exists():
        pytest.fail(f"{SITE} has no site: run `make book` (make test does) first")
    return render_site(SITE, tmp_path_factory.mktemp("render"), (DESKTOP, PHONE))


def _offenders(results: dict, key: str) -> dict[str, list]:
    return {page: entry[key] for page, entry in results.items() if entry.get(key)}


def test_every_page_was_measured_without_error(rendered):
    failed = {
        f"{page} at {width}px": entry["error"]
        for width, results in rendered.items()
        for page, entry in results.items()
        if "error" in entry
    }
    assert not failed, f"pages the browser could not measure: {failed}"


def test_no_raw_tex_or_stray_dollar_in_rendered_text(rendered):
    raw = _offenders(rendered[DESKTOP], "raw")
    assert not raw, f"raw TeX or a stray $ outside code, by page: {raw}"


def test_mathjax_typesets_every_formula_without_error(rendered):
    errors = _offenders(rendered[DESKTOP], "mathErrors")
    assert not errors, f"MathJax errors, by page: {errors}"
    assert rendered[DESKTOP]["book/notation.html"]["mathjax"] >= 10, "MathJax did not run"


def test_equations_and_tables_fit_the_column_on_a_desktop(rendered):
    wide = _offenders(rendered[DESKTOP], "wide")
    column = rendered[DESKTOP]["book/intro.html"]["column"]
    assert not wide, f"wider than the {column}px column at {DESKTOP}px, by page: {wide}"


def test_no_page_scrolls_sideways_on_a_phone(rendered):
    scrolls = {
        page: f"{entry['overflow']}px, from {entry['culprits']}"
        for page, entry in rendered[PHONE].items()
        if entry.get("overflow", 0) > 0
    }
    assert not scrolls, f"pages whose body scrolls sideways at {PHONE}px: {scrolls}"


# Equations (issue #15, "equations numbered"; book/_ext/eqnumbers.py): every display
# equation numbered, per chapter like the figures, and every {eq} link showing its number.

CHAPTER_PAGE = re.compile(r"book/ch(\d\d)_")


def equation_problems(pages: dict[str, dict]) -> list[str]:
    """What is wrong with the equations of `pages` ({page: measurements}): a chapter's
    display equations must read (N.1), (N.2), ... in order, N the chapter's number, another
    page's (1), (2), ...; each {eq} link must lead to an equation and read its number."""
    problems = []
    numbers: dict[tuple[str, str], str | None] = {}
    for page, entry in sorted(pages.items()):
        chapter = CHAPTER_PAGE.match(page)
        prefix = f"{int(chapter.group(1))}." if chapter else ""
        shown = [equation["number"] for equation in entry["equations"]]
        expected = [f"({prefix}{k})" for k in range(1, len(shown) + 1)]
        if shown != expected:
            problems.append(f"{page}: equations numbered {shown}, not {expected}")
        numbers |= {(page, eq["id"]): eq["number"] for eq in entry["equations"]}
    for page, entry in sorted(pages.items()):
        for link in entry["eqrefs"]:
            path, _, anchor = link["href"].partition("#")
            target = posixpath.join(posixpath.dirname(page), path) if path else page
            number = numbers.get((posixpath.normpath(target), anchor), "no equation")
            if number != link["text"]:
                problems.append(
                    f"{page}: the link {link['text']} leads to {number} ({link['href']})"
                )
    return problems


def test_every_equation_is_numbered_and_every_equation_link_reads_its_number(rendered):
    problems = equation_problems(rendered[DESKTOP])
    assert not problems, "equations to fix:\n" + "\n".join(problems)
    chapters = [page for page in rendered[DESKTOP] if CHAPTER_PAGE.match(page)]
    assert len(chapters) == 12, f"expected the 12 chapters' pages, found {chapters}"


def test_equation_check_finds_each_kind_of_problem():
    def eq(id_: str, number: str | None) -> dict:
        return {"id": id_, "number": number}

    good = {
        "book/ch04_lstm.html": {
            "equations": [eq("equation-a", "(4.1)"), eq("equation-b", "(4.2)")],
            "eqrefs": [{"href": "#equation-b", "text": "(4.2)"}],
        },
        "book/notation.html": {
            "equations": [eq("equation-c", "(1)")],
            "eqrefs": [{"href": "ch04_lstm.html#equation-a", "text": "(4.1)"}],
        },
    }
    assert equation_problems(good) == []
    bad = {
        "book/ch04_lstm.html": {
            "equations": [eq("equation-a", "(4.2)"), eq("equation-b", None)],
            "eqrefs": [
                {"href": "#equation-a", "text": "(4.1)"},
                {"href": "ch05_coupled_lstm.html#equation-a", "text": "(5.1)"},
            ],
        },
    }
    assert equation_problems(bad) == [
        "book/ch04_lstm.html: equations numbered ['(4.2)', None], not ['(4.1)', '(4.2)']",
        "book/ch04_lstm.html: the link (4.1) leads to (4.2) (#equation-a)",
        "book/ch04_lstm.html: the link (5.1) leads to no equation "
        "(ch05_coupled_lstm.html#equation-a)",
    ]


# Figures (issue #15, item 3): numbered, captioned, described and cited from the prose.

FIGURE_OPEN = re.compile(r"<figure\b[^>]*>", re.S)
NUMREF = re.compile(
    r'<a class="reference internal" href="([^"]*)#([^"]+)"[^>]*>\s*<span class="std std-numref">'
)
IMAGE_NAME = re.compile(r"(^|/)[0-9a-f]{16,}\.\w+$|\.(png|jpe?g|svg|gif|webp)$", re.I)


def _attribute(tag: str, name: str) -> str | None:
    found = re.search(rf'\b{name}="([^"]*)"', tag)
    return unescape(found.group(1)) if found else None


def figure_problems(html: str, cited: set[str]) -> list[str]:
    """What is wrong with each image of a chapter page: not in a figure, no id, no
    numbered caption, missing or file-name alt text, or a figure no link cites."""
    problems = []
    for image in re.finditer(r"<img\b[^>]*>", html):
        alt = (_attribute(image.group(0), "alt") or "").strip()
        name = (_attribute(image.group(0), "src") or "?").rsplit("/", 1)[-1][:16]
        before = html[: image.start()]
        opening = list(FIGURE_OPEN.finditer(before))
        inside = opening and "</figure>" not in before[opening[-1].end() :]
        if not inside:
            problems.append(f"image {name}… is not in a figure")
            continue
        figure_id = _attribute(opening[-1].group(0), "id")
        end = html.find("</figure>", image.end())
        figure = html[opening[-1].start() : end]
        label = figure_id or f"image {name}…"
        caption = re.search(r'<span class="caption-number">([^<]*)</span>', figure)
        if not caption or not re.match(r"Fig\. \d+\.\d+", caption.group(1).strip()):
            problems.append(f"{label} has no numbered caption")
        if not alt or IMAGE_NAME.search(alt):
            problems.append(f"{label} has no alt text (alt={alt!r})")
        if figure_id is None:
            problems.append(f"image {name}… has a figure without a name to cite")
        elif figure_id not in cited:
            problems.append(f"{label} is never cited ({{numref}}`{figure_id}`)")
    return problems


@pytest.fixture(scope="module")
def book_pages() -> dict[str, str]:
    if not (SITE / "index.html").exists():
        pytest.fail(f"{SITE} has no site: run `make book` (make test does) first")
    return {page.name: page.read_text(encoding="utf-8") for page in (SITE / "book").glob("*.html")}


def test_every_chapter_image_is_a_numbered_captioned_described_and_cited_figure(book_pages):
    cited: dict[str, set[str]] = {}
    for name, html in book_pages.items():
        for href, target in NUMREF.findall(html):
            cited.setdefault(href or name, set()).add(target)
    problems = {}
    for name, html in sorted(book_pages.items()):
        if re.match(r"ch\d\d_", name):
            found = figure_problems(html, cited.get(name, set()))
            if found:
                problems[name] = found
    report = "\n".join(f"{name}: " + "; ".join(found) for name, found in problems.items())
    assert not problems, f"figures to fix, by chapter:\n{report}"


def test_figure_check_finds_each_kind_of_problem():
    good = (
        '<figure id="fig-a"><img alt="A line chart of loss against step" src="x.png">'
        '<figcaption><p><span class="caption-number">Fig. 2.1 </span>Loss.</p>'
        "</figcaption></figure>"
    )
    assert figure_problems(good, {"fig-a"}) == []
    assert figure_problems(good, set()) == ["fig-a is never cited ({numref}`fig-a`)"]
    hashed = good.replace("A line chart of loss against step", "../_images/" + "ab" * 20 + ".png")
    assert figure_problems(hashed, {"fig-a"})[0].startswith("fig-a has no alt text")
    bare = '<p><img alt="" src="../_images/0123456789abcdef0123.png"></p>'
    assert figure_problems(bare, set()) == ["image 0123456789abcdef… is not in a figure"]
    uncaptioned = good.replace('<span class="caption-number">Fig. 2.1 </span>', "")
    assert figure_problems(uncaptioned, {"fig-a"}) == ["fig-a has no numbered caption"]


# The bundled CJK font (issue #15, item 4; book/_ext/cjkfont.py).

#: CJK radicals, punctuation and kana, unified and compatibility ideographs, full width.
CJK = re.compile("[\u2e80-\u2fdf\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


def test_site_bundles_a_cjk_font_that_covers_every_chinese_character_it_shows():
    from fontTools.ttLib import TTFont

    css = SITE / "_static" / "cjkfont.css"
    assert css.is_file(), "no _static/cjkfont.css: is book/_ext/cjkfont.py in _config.yml?"
    sources = re.findall(r'url\("?([^")]+)"?\) format\("([^"]+)"\)', css.read_text("utf-8"))
    assert sources == [("fonts/cjk-subset.woff2", "woff2")], f"the CSS names {sources}"
    font = css.parent / "fonts" / "cjk-subset.woff2"
    assert font.is_file(), "the CSS names fonts/cjk-subset.woff2, which is missing"
    face = TTFont(font)
    assert face.flavor == "woff2", f"{font.name} is not WOFF2 inside"
    covered = set(map(chr, face.getBestCmap()))
    shown: dict[str, set[str]] = {}
    for page in SITE.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        characters = set(CJK.findall(html))
        if characters:
            shown[str(page.relative_to(SITE))] = characters
            assert "cjkfont.css" in html, f"{page.relative_to(SITE)} does not load the font"
    assert "book/glossary.html" in shown, "the glossary shows no Chinese"
    missing = {page: "".join(sorted(c - covered)) for page, c in shown.items() if c - covered}
    assert not missing, f"characters the bundled font lacks, by page: {missing}"


def test_glossary_chinese_renders_with_the_bundled_face_in_a_browser(rendered):
    fonts = rendered[DESKTOP]["book/glossary.html"]["fonts"]
    assert "RNN Course CJK" in fonts, f"the glossary loaded only {fonts}"


def test_harness_flags_raw_tex_wide_tables_and_sideways_scroll(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    article = '<article class="bd-article" style="width: 300px">{}</article>'
    (site / "clean.html").write_text(
        article.format("<p>Prose only.</p><pre>$ pip install rnnkit</pre>"), "utf-8"
    )
    (site / "broken.html").write_text(
        article.format(
            "<p>Raw $$h_t$$ here.</p>"
            '<table><tr><td style="white-space: nowrap">' + "wide " * 40 + "</td></tr></table>"
        ),
        "utf-8",
    )
    results = render_site(site, tmp_path, (DESKTOP, PHONE))
    clean, broken = results[DESKTOP]["clean.html"], results[DESKTOP]["broken.html"]
    assert clean["raw"] == clean["wide"] == [] and results[PHONE]["clean.html"]["overflow"] <= 0
    assert broken["raw"] == ["Raw $$h_t$$ here."]
    assert broken["wide"][0].startswith("table ")
    assert results[PHONE]["broken.html"]["overflow"] > 0
    assert results[PHONE]["broken.html"]["culprits"][0].startswith("<td")
