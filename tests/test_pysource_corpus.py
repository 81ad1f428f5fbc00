"""The shipped standard-library source corpus: what it holds and where it came from."""

from importlib import resources

from rnnkit.tasks import python_source_corpus


def test_python_source_corpus_drops_the_provenance_line_and_keeps_whole_modules():
    corpus = python_source_corpus()
    raw = resources.files("rnnkit").joinpath("data/pysource_corpus.txt").read_text("ascii")
    first, rest = raw.split("\n", 1)
    assert "PSF License" in first and "Python Software Foundation" in first
    assert corpus.text == rest
    assert corpus.text.startswith("# ---- Lib/textwrap.py\n")
    assert corpus.text.count("# ---- Lib/") == 21


def test_python_source_corpus_is_printable_ascii_and_encodes_back():
    corpus = python_source_corpus()
    assert 500_000 < len(corpus) < 600_000
    assert all(ch == "\n" or " " <= ch <= "~" for ch in corpus.vocab)
    assert len(corpus.vocab) == 96
    assert corpus.decode(corpus.data[:2000]) == corpus.text[:2000]
