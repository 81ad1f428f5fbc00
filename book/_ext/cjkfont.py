"""A CJK web font bundled with the site, cut down to the Chinese characters it shows.

Without a CJK font on the reader's machine, Chinese text (the glossary, the "What other
texts call it" tables) renders as empty boxes. This extension ships one with the site:

- At ``builder-inited`` it finds the source font: ``RNNKIT_CJK_FONT`` if set, else
  ``cjkfont_source`` (Debian's ``fonts-wqy-microhei``, WenQuanYi Micro Hei, under the
  Apache 2.0 licence or GPLv3 with the font exception). If there is none, or the ``brotli``
  package that WOFF2 needs is missing, the build stops with the fix: a site without the
  font would silently show boxes.
- At ``build-finished`` it collects every CJK character of the built HTML pages (prose,
  notebook outputs and docstrings alike), subsets the font to exactly those characters with
  fontTools and writes ``_static/fonts/cjk-subset.woff2``, plus ``_static/cjkfont.css``.
- ``cjkfont.css``, linked from every page, declares the face with ``unicode-range`` set to
  the CJK blocks and puts it first in the theme's font stacks: Chinese characters come from
  the bundled face on every machine, everything else from the theme's fonts as before.

Only HTML builders (``html``, ``singlehtml``, which ``make pdf`` prints) get the font.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

FAMILY = "RNN Course CJK"
ENV_VARIABLE = "RNNKIT_CJK_FONT"
DEFAULT_SOURCE = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
#: The subset, under the site's _static.
FONT = "fonts/cjk-subset.woff2"
#: The CJK blocks: radicals, symbols and punctuation, kana, unified ideographs (with
#: extension A), compatibility ideographs, and full-width forms.
CJK_RANGES = (
    (0x2E80, 0x2FDF),
    (0x3000, 0x30FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0xFF00, 0xFFEF),
)
CJK = re.compile("[" + "".join(f"\\u{lo:04x}-\\u{hi:04x}" for lo, hi in CJK_RANGES) + "]")
FIX = (
    "install Debian's fonts-wqy-microhei (`make pdftools` does: apt-get install "
    f"fonts-wqy-microhei), or set {ENV_VARIABLE} to a TrueType/OpenType font (.ttf, .otf, "
    ".ttc) that has Chinese glyphs"
)


def cjk_characters(text: str) -> set[str]:
    """The distinct CJK characters in `text` (ideographs, CJK punctuation, full-width)."""
    return set(CJK.findall(text))


def font_source(configured: str) -> Path:
    """The font to subset: ``$RNNKIT_CJK_FONT`` if set, else `configured`.

    Raises ExtensionError, naming the fix, when the file does not exist.
    """
    path = Path(os.environ.get(ENV_VARIABLE) or configured).expanduser()
    if not path.is_file():
        raise ExtensionError(f"cjkfont: no CJK font at {path}: {FIX}")
    return path


def check_brotli() -> None:
    """Raise ExtensionError, naming the fix, when the brotli package (which fontTools needs
    to write WOFF2) is not installed."""
    try:
        import brotli  # noqa: F401
    except ImportError:
        raise ExtensionError(
            "cjkfont: the brotli package, which the WOFF2 font needs, is not installed: "
            "`make install` installs it (requirements.txt), or "
            "`pip install -c constraints.txt brotli`"
        ) from None


def write_subset(source: Path, characters: set[str], target: Path) -> None:
    """Write `source` (face 0 of a collection) cut down to `characters` to `target`, as
    WOFF2."""
    options = subset.Options()
    options.flavor = "woff2"
    options.hinting = False  # screens render CJK well unhinted; halves the file
    options.notdef_outline = True
    options.drop_tables = [*options.drop_tables, "FFTM"]  # FontForge's timestamps
    font = TTFont(source, fontNumber=0)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in characters))
    subsetter.subset(font)
    target.parent.mkdir(parents=True, exist_ok=True)
    subset.save_font(font, str(target), options)


def stylesheet(font_url: str) -> str:
    """The ``@font-face`` rule for the bundled face and the theme's font stacks with the
    face first (its ``unicode-range`` limits it to CJK characters)."""
    ranges = ", ".join(f"U+{lo:04X}-{hi:04X}" for lo, hi in CJK_RANGES)
    return f"""/* Written by book/_ext/cjkfont.py: the site's Chinese characters, bundled. */
@font-face {{
  font-family: "{FAMILY}";
  src: url("{font_url}") format("woff2");
  unicode-range: {ranges};
  font-display: swap;
}}
html {{
  --pst-font-family-base: "{FAMILY}", var(--pst-font-family-base-system);
  --pst-font-family-heading: "{FAMILY}", var(--pst-font-family-base-system);
  --pst-font-family-monospace: var(--pst-font-family-monospace-system), "{FAMILY}";
}}
"""


def _check_source(app: Sphinx) -> None:
    if app.builder.format == "html":
        # Fail now, not after the whole build.
        font_source(app.config.cjkfont_source)
        check_brotli()
        app.add_css_file("cjkfont.css")


def _bundle(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    characters: set[str] = set()
    for page in outdir.rglob("*.html"):
        characters |= cjk_characters(page.read_text(encoding="utf-8", errors="replace"))
    write_subset(font_source(app.config.cjkfont_source), characters, outdir / "_static" / FONT)
    (outdir / "_static" / "cjkfont.css").write_text(stylesheet(FONT), "utf-8")
    logger.info("cjkfont: %d CJK characters in _static/%s", len(characters), FONT)


def setup(app: Sphinx) -> dict:
    app.add_config_value("cjkfont_source", DEFAULT_SOURCE, "env", [str])
    app.connect("builder-inited", _check_source)
    app.connect("build-finished", _bundle)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
