"""Link each glossary term from the chapter that uses it: the first plain-text use of a
term in a chapter's markdown cells becomes a ``{term}`` role pointing at book/glossary.md.

    .venv/bin/python scripts/link_glossary.py            # rewrite the chapters in place
    .venv/bin/python scripts/link_glossary.py --check    # list missing links; exit 1 if any
    .venv/bin/python scripts/link_glossary.py book/ch04_lstm.ipynb   # only these notebooks

The terms are the English term lines of the ``{glossary}`` directive (an entry may have
several, e.g. "backpropagation through time" and "BPTT": whichever comes first is linked,
once per chapter). Matching ignores case except for terms written with capitals (RNN,
LSTM), accepts a plural "s"/"es", and never starts or ends inside a word or a hyphenated
word ("RNN" in "Bi-RNN" is left alone). Text that is not prose is never touched: maths
(``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``, ``\\begin{…}…\\end{…}``), inline code and
existing roles, fenced blocks and directives, links, HTML tags and blocks, headings,
table rows, targets and comments. A shorter term is not linked inside a longer one ("gate"
in "forget gate").

Running it again changes nothing: a chapter that already has a ``{term}`` role for an
entry is done with that entry.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "book" / "glossary.md"
CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")

#: Markdown that is not prose. Each alternative is a span no link may touch.
PROTECTED = re.compile(
    r"""
    ^(?P<fence>`{3,}|~{3,}|:{3,})[^\n]*\n.*?^(?P=fence)[ \t]*$   # fenced block, directive
    | \$\$.*?\$\$                                        # display maths
    | \$[^$\n]+?\$                                       # inline maths
    | \\\(.*?\\\) | \\\[.*?\\\]                          # maths in LaTeX delimiters
    | \\begin\{(?P<env>[^}]+)\}.*?\\end\{(?P=env)\}      # a LaTeX environment
    | (?:\{[\w:.-]+\})?(?P<ticks>`+).+?(?P=ticks)        # inline code and roles
    | !?\[[^\]]*\]\([^)]*\) | !?\[[^\]]*\]\[[^\]]*\]     # links and images
    | ^<[a-zA-Z!/][^\n]*(?:\n[ \t]*\S[^\n]*)*             # an HTML block, to a blank line
    | <[^>\n]+>                                          # HTML tags and autolinks
    | https?://\S+                                       # bare URLs
    | ^[ \t]*\#{1,6}[ \t][^\n]*$                         # headings
    | ^[ \t]*\|[^\n]*$                                   # table rows
    | ^\([^\n]*\)=[ \t]*$ | ^%[^\n]*$                    # targets and comments
    """,
    re.MULTILINE | re.DOTALL | re.VERBOSE,
)
TERM_ROLE = re.compile(r"\{term\}`(?:[^`<]*<)?([^`>]+)>?`")


@dataclass(frozen=True)
class Entry:
    """One glossary entry: its English and Chinese term lines (the first English one is
    its name) and its definition."""

    english: tuple[str, ...]
    chinese: tuple[str, ...]
    definition: str

    @property
    def name(self) -> str:
        return self.english[0]


def read_glossary(path: Path = GLOSSARY) -> list[Entry]:
    """The entries of the ``{glossary}`` directive in `path`, in file order."""
    text = path.read_text(encoding="utf-8")
    block = re.search(r"^```\{glossary\}[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    if block is None:
        raise ValueError(f"{path} has no {{glossary}} directive")
    groups: list[tuple[list[str], list[str]]] = []
    for line in block.group(1).splitlines():
        if line.startswith(":") or not line.strip():
            continue
        if line[0].isspace():
            groups[-1][1].append(line.strip())
        elif not groups or groups[-1][1]:  # a term line after a definition: a new entry
            groups.append(([line.strip()], []))
        else:
            groups[-1][0].append(line.strip())
    return [
        Entry(
            english=tuple(t for t in terms if not CJK.search(t)),
            chinese=tuple(t for t in terms if CJK.search(t)),
            definition=" ".join(definition),
        )
        for terms, definition in groups
    ]


def _pattern(term: str) -> re.Pattern[str]:
    words = re.escape(term).replace(r"\ ", r"[ \t-]").replace("–", "[-–]")
    flags = 0 if any(c.isupper() for c in term) else re.IGNORECASE
    return re.compile(rf"(?<![\w-]){words}(?:s|es)?(?![\w-])", flags)


def _spans(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text)]


def _free(start: int, end: int, protected: list[tuple[int, int]]) -> bool:
    return all(end <= a or start >= b for a, b in protected)


def link_first_uses(sources: list[str], entries: list[Entry]) -> tuple[list[str], list[str]]:
    """Link the first plain-text use of each entry in `sources` (a chapter's markdown
    cells, in order). Returns the new sources and the entries linked, by name."""
    sources = list(sources)
    already = {t.lower() for s in sources for t in TERM_ROLE.findall(s)}
    forms = [(term, entry) for entry in entries for term in entry.english]
    linked = []
    # Longer terms first: "truncated BPTT" before "BPTT", "forget gate" before "gate".
    for entry in sorted(entries, key=lambda e: -max(map(len, e.english))):
        if entry.name.lower() in already:
            continue
        longer = [_pattern(t) for t, e in forms if e is not entry and _contains(t, entry)]
        for index, text in enumerate(sources):
            protected = _spans(PROTECTED, text)
            for pattern in longer:
                protected += _spans(pattern, text)
            hits = [
                m
                for term in entry.english
                for m in _pattern(term).finditer(text)
                if _free(*m.span(), protected)
            ]
            if not hits:
                continue
            hit = min(hits, key=lambda m: m.start())
            shown = hit.group(0)
            role = (
                f"{{term}}`{shown}`"
                if shown.lower() == entry.name.lower()
                else f"{{term}}`{shown} <{entry.name}>`"
            )
            sources[index] = text[: hit.start()] + role + text[hit.end() :]
            linked.append(entry.name)
            break
    return sources, linked


def _contains(longer: str, entry: Entry) -> bool:
    """Whether the term `longer` contains one of `entry`'s terms as a word."""
    return any(
        term != longer and _pattern(term).search(longer) is not None for term in entry.english
    )


def link_notebook(path: Path, entries: list[Entry], write: bool) -> list[str]:
    """Link the glossary terms in one notebook's markdown cells; write it back if `write`
    and anything changed. Returns the entries linked (or that would be)."""
    notebook = nbformat.read(path, as_version=4)
    cells = [cell for cell in notebook.cells if cell.cell_type == "markdown"]
    sources, linked = link_first_uses([cell.source for cell in cells], entries)
    if linked and write:
        for cell, source in zip(cells, sources, strict=True):
            cell.source = source
        nbformat.write(notebook, path)
    return linked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: book/ch*.ipynb")
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a link is missing"
    )
    parser.add_argument("--glossary", type=Path, default=GLOSSARY)
    args = parser.parse_args(argv)
    entries = read_glossary(args.glossary)
    notebooks = args.notebooks or sorted((ROOT / "book").glob("ch[0-9][0-9]_*.ipynb"))
    missing = 0
    for path in notebooks:
        linked = link_notebook(path, entries, write=not args.check)
        missing += len(linked)
        if linked:
            verb = "would link" if args.check else "linked"
            print(f"{path.name}: {verb} {', '.join(sorted(linked))}")
    if args.check and missing:
        print(f"{missing} glossary links missing: run scripts/link_glossary.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
