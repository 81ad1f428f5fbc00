"""The whole book as one PDF (`make pdf`), which `make book` publishes beside the site.

It is printed by headless Chromium from the single-page build, so what can go wrong is what
goes wrong in a browser: MathJax not run (raw TeX on paper), a page cut short, figures
missing. poppler-utils (`make pdftools`, which `make pdf` runs) reads it back.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from course import ROOT

pytestmark = pytest.mark.site
SITE = Path(os.environ.get("RNNKIT_SITE", ROOT / "_build" / "html"))
PDF = SITE / "rnn-course.pdf"
# The book has eight chapters, the API reference and the bibliography: far more than this.
MIN_PAGES = 60


def _poppler(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing (make pdftools installs Debian's poppler-utils)")
        pytest.skip(f"{tool} is not installed here; `make pdftools` installs poppler-utils")
    return found


@pytest.fixture(scope="module")
def pdf() -> Path:
    if not PDF.is_file():
        pytest.fail(f"{PDF} is missing: `make book` builds it with `make pdf` and copies it")
    return PDF


@pytest.fixture(scope="module")
def text(pdf: Path) -> str:
    run = subprocess.run(
        [_poppler("pdftotext"), "-enc", "UTF-8", str(pdf), "-"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_pdf_is_a_whole_book(pdf: Path):
    info = subprocess.run(
        [_poppler("pdfinfo"), str(pdf)], capture_output=True, text=True, timeout=60
    )
    assert info.returncode == 0, info.stderr
    pages = int(re.search(r"^Pages:\s+(\d+)", info.stdout, flags=re.M).group(1))
    assert pages > MIN_PAGES, f"the PDF has only {pages} pages"


def test_pdf_holds_every_part_of_the_book(text: str):
    flat = " ".join(text.split())
    for heading in (
        "Getting set up",
        "Notation",
        "Backpropagation through time",
        "The Differentiable Neural Computer",
        "The rnnkit package",
        "References",
    ):
        assert heading in flat, f"{heading!r} is not in the PDF"
    assert "Åström and Murray, 2008" in flat, "the bibliography lost its labels or its accents"


def test_pdf_maths_is_typeset(text: str):
    raw = [tex for tex in ("\\begin{aligned}", "\\frac", "\\tanh", "$$") if tex in text]
    assert not raw, f"raw TeX in the PDF (MathJax did not finish): {raw}"


def test_pdf_keeps_the_figures(pdf: Path):
    images = subprocess.run(
        [_poppler("pdfimages"), "-list", str(pdf)], capture_output=True, text=True, timeout=120
    )
    assert images.returncode == 0, images.stderr
    count = len(images.stdout.splitlines()) - 2  # two header lines
    assert count >= 20, f"only {count} images in the PDF: figures are missing"


CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
# Font names that cover Chinese, Japanese or Korean (system or bundled, as embedded).
CJK_FONT = re.compile(r"CJK|WenQuanYi|Hei|Song|Ming|Kai|Gothic|Mincho|Droid|(?:SC|TC|JP|KR)(?:-|$)")


def test_pdf_prints_cjk_text_in_a_cjk_font(pdf: Path, text: str):
    """The chapters quote the Chinese sources' terms; without a CJK font Chromium prints
    empty boxes while the text layer still holds the characters."""
    if not CJK.search(text):
        pytest.skip("no CJK text in the book")
    fonts = subprocess.run(
        [_poppler("pdffonts"), str(pdf)], capture_output=True, text=True, timeout=60
    )
    assert fonts.returncode == 0, fonts.stderr
    names = [line.split()[0] for line in fonts.stdout.splitlines()[2:] if line.strip()]
    assert any(CJK_FONT.search(name) for name in names), (
        f"CJK text printed without a CJK font (boxes on paper); fonts: {sorted(set(names))}"
    )
