"""The bilingual glossary (book/glossary.md) and scripts/link_glossary.py, which links each
term from the chapters' first plain-text use of it (issue #15, item 4)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import link_glossary  # noqa: E402  (scripts/ is not a package)

ENTRIES = link_glossary.read_glossary()
#: Terms the course cannot do without (issue #15's list), by their glossary names.
REQUIRED = (
    "recurrent neural network",
    "hidden state",
    "unrolling",
    "backpropagation through time",
    "truncated backpropagation through time",
    "vanishing gradient",
    "exploding gradient",
    "gradient clipping",
    "teacher forcing",
    "exposure bias",
    "scheduled sampling",
    "long short-term memory",
    "input gate",
    "forget gate",
    "output gate",
    "cell state",
    "peephole connection",
    "gated recurrent unit",
    "update gate",
    "reset gate",
    "bidirectional RNN",
    "deep RNN",
    "encoder–decoder",
    "attention",
    "beam search",
    "greedy decoding",
    "perplexity",
    "language model",
    "echo state network",
    "leaky unit",
    "differentiable neural computer",
    "content-based addressing",
    "temporal link matrix",
    "recursive neural network",
)


def test_glossary_has_the_course_terms():
    names = {entry.name for entry in ENTRIES}
    assert len(ENTRIES) >= 40
    assert not set(REQUIRED) - names, sorted(set(REQUIRED) - names)


def test_glossary_terms_are_unique():
    terms = [t.lower() for entry in ENTRIES for t in (*entry.english, *entry.chinese)]
    repeated = sorted({t for t in terms if terms.count(t) > 1})
    assert not repeated, f"terms defined twice: {repeated}"


def test_every_term_has_a_chinese_form_a_definition_and_its_chapter():
    for entry in ENTRIES:
        assert entry.english, f"an entry has no English term: {entry}"
        assert entry.chinese, f"{entry.name} has no Chinese term"
        chapter = re.search(r"Chapter (\d+)", entry.definition)
        assert chapter and 1 <= int(chapter.group(1)) <= 12, f"{entry.name}: no chapter"
        assert len(entry.definition) > 60, f"{entry.name}: the definition is a stub"


def test_glossary_links_only_chapters_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    for entry in ENTRIES:
        for doc in re.findall(r"\{doc\}`([^`]+)`", entry.definition):
            assert f"file: book/{doc}\n" in toc, f"{entry.name} links {doc}, not in _toc.yml"


SAMPLE = [
    "# The hidden state\n\nNo link in a heading.",
    "(sec-rnn)=\n## Hidden state and RNN\n\n"
    "Maths $h_t = \\text{hidden state}$ and $$\\text{hidden state}$$ stay as they are,\n"
    "as do `hidden state`, {math}`\\text{RNN}`, [hidden state](https://example.org) and\n"
    "\\begin{aligned} \\text{RNN} \\end{aligned} and a Bi-RNN.\n\n"
    "| term | 中文 |\n| --- | --- |\n| hidden state | 隐藏状态 |\n\n"
    '<div class="note">\nAn RNN in raw HTML.\n</div>',
    "```python\nhidden_state = rnn(x)  # the hidden state\n```\n\n"
    "Our RNNs keep hidden states; the hidden state again; a forget gate, then a gate.",
]


def _sample(tmp_path: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell(s) for s in SAMPLE]
    notebook.cells.insert(1, nbformat.v4.new_code_cell("hidden_state = 1  # hidden state"))
    path = tmp_path / "ch99_sample.ipynb"
    nbformat.write(notebook, path)
    return path


def test_link_script_links_the_first_prose_use_and_leaves_maths_and_code_alone(tmp_path):
    path = _sample(tmp_path)
    linked = link_glossary.link_notebook(path, ENTRIES, write=True)
    assert sorted(linked) == ["forget gate", "gate", "hidden state", "recurrent neural network"]
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].source == SAMPLE[0]
    assert cells[1].source == "hidden_state = 1  # hidden state"
    assert cells[2].source == SAMPLE[1]
    assert cells[3].source == SAMPLE[2].replace(
        "Our RNNs keep hidden states;",
        "Our {term}`RNNs <recurrent neural network>` keep {term}`hidden states <hidden state>`;",
    ).replace("a forget gate, then a gate.", "a {term}`forget gate`, then a {term}`gate`.")


def test_every_chapter_links_the_glossary_terms_it_uses():
    """Fails until scripts/link_glossary.py has been run on the chapters (it is idempotent:
    run it after a chapter changes)."""
    missing = {
        path.name: linked
        for path in sorted((ROOT / "book").glob("ch[0-9][0-9]_*.ipynb"))
        if (linked := link_glossary.link_notebook(path, ENTRIES, write=False))
    }
    assert not missing, f"run scripts/link_glossary.py; unlinked terms by chapter: {missing}"


def test_link_script_is_idempotent_and_its_check_mode_reports(tmp_path, capsys):
    path = _sample(tmp_path)
    before = path.read_text(encoding="utf-8")
    assert link_glossary.main(["--check", str(path)]) == 1
    assert "would link" in capsys.readouterr().out
    assert path.read_text(encoding="utf-8") == before, "--check changed the notebook"
    assert link_glossary.main([str(path)]) == 0
    once = path.read_text(encoding="utf-8")
    capsys.readouterr()
    assert link_glossary.main([str(path)]) == 0
    assert capsys.readouterr().out == "" and path.read_text(encoding="utf-8") == once
    assert link_glossary.main(["--check", str(path)]) == 0


def test_link_script_runs_as_a_command(tmp_path):
    path = _sample(tmp_path)
    script = [sys.executable, str(ROOT / "scripts" / "link_glossary.py"), "--check", str(path)]
    run = subprocess.run(script, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "glossary links missing" in run.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("truncated BPTT cuts BPTT", "{term}`truncated BPTT <truncated backpropagation"),
        ("an encoder-decoder model", "{term}`encoder-decoder <encoder–decoder>`"),
        ("Teacher forcing feeds", "{term}`Teacher forcing` feeds"),
    ],
)
def test_link_script_matches_variants_of_a_term(text, expected):
    (linked,), _ = link_glossary.link_first_uses([text], ENTRIES)
    assert expected in linked


# book/_ext/cjkfont.py, which bundles the font the glossary's Chinese is shown in.

sys.path.insert(0, str(ROOT / "book" / "_ext"))
import cjkfont  # noqa: E402  (a local Sphinx extension)


def test_cjk_font_extension_stops_the_build_with_the_fix_when_the_font_is_missing(
    tmp_path, monkeypatch
):
    from sphinx.errors import ExtensionError

    monkeypatch.delenv(cjkfont.ENV_VARIABLE, raising=False)
    with pytest.raises(ExtensionError, match="fonts-wqy-microhei"):
        cjkfont.font_source(str(tmp_path / "no-such-font.ttc"))
    monkeypatch.setenv(cjkfont.ENV_VARIABLE, str(tmp_path / "neither.ttf"))
    with pytest.raises(ExtensionError, match=cjkfont.ENV_VARIABLE):
        cjkfont.font_source(cjkfont.DEFAULT_SOURCE)


def test_cjk_font_extension_stops_the_build_with_the_fix_when_brotli_is_missing(monkeypatch):
    from sphinx.errors import ExtensionError

    cjkfont.check_brotli()  # installed (requirements.txt)
    monkeypatch.setitem(sys.modules, "brotli", None)  # `import brotli` now fails
    with pytest.raises(ExtensionError, match="pip install -c constraints.txt brotli"):
        cjkfont.check_brotli()


def test_cjk_font_subset_holds_exactly_the_characters_asked_for(tmp_path, monkeypatch):
    from fontTools.ttLib import TTFont

    monkeypatch.delenv(cjkfont.ENV_VARIABLE, raising=False)
    if not Path(cjkfont.DEFAULT_SOURCE).is_file():
        pytest.skip("fonts-wqy-microhei is not installed (make pdftools installs it)")
    characters = cjkfont.cjk_characters("循环神经网络 (RNN)，繁體：循環神經網路")
    assert characters == set("循环神经网络，繁體：環經網路")
    target = tmp_path / "subset.woff2"
    cjkfont.write_subset(cjkfont.font_source(cjkfont.DEFAULT_SOURCE), characters, target)
    font = TTFont(target)
    assert font.flavor == "woff2"
    assert {chr(c) for c in font.getBestCmap()} == characters
    assert target.stat().st_size < 50_000


def test_cjk_font_stylesheet_puts_the_face_first_for_cjk_only():
    css = cjkfont.stylesheet(cjkfont.FONT)
    assert 'src: url("fonts/cjk-subset.woff2") format("woff2")' in css
    assert "unicode-range: U+2E80-2FDF" in css and "U+4E00-9FFF" in css
    assert f'--pst-font-family-base: "{cjkfont.FAMILY}", var(' in css
