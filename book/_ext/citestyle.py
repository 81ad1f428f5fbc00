"""Citation labels that read the same in the text and in the bibliography.

The text cites author-year (``bibtex_reference_style: author_year``: "Elman, 1990",
"Åström and Murray, 2008", "Gers et al., 2000"), but pybtex's default bibliography style
labels entries "alpha" style ("Elm90", and "AAstromM08" from the LaTeX of "Åström"). The
``author_year`` bibliography style registered here labels each entry as the text cites it:
the last names of one or two authors (editors, when there is no author), the first one's
"et al." for three or more, then the year. Entries are sorted by those labels, accents
aside; two works that would get the same label get "a", "b", ... after the year.
"""

from __future__ import annotations

import unicodedata
from collections import Counter

import pybtex.plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting import BaseSortingStyle
from sphinx.application import Sphinx

STYLE = "author_year"


def _last_names(person) -> str:
    parts = [*person.rich_prelast_names, *person.rich_last_names]
    return " ".join(part.render_as("text") for part in parts)


def author_year_label(entry) -> str:
    """The label as the text cites the entry: "Elman, 1990", "Gers et al., 2000"."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_last_names(p) for p in persons]
    if not names:
        who = entry.fields.get("title", entry.key)
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [author_year_label(e) for e in entries]
        counts, seen = Counter(labels), Counter()
        for label in labels:
            if counts[label] > 1:
                seen[label] += 1
                yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            else:
                yield label


class AuthorYearSorting(BaseSortingStyle):
    """By label, letters compared without their accents ("Åström" sorts as "Astrom")."""

    def sorting_key(self, entry):
        label = unicodedata.normalize("NFKD", author_year_label(entry))
        plain = "".join(c for c in label if not unicodedata.combining(c)).casefold()
        return (plain, entry.fields.get("title", "").casefold())


class AuthorYearStyle(PlainStyle):
    default_label_style = STYLE
    default_sorting_style = STYLE


pybtex.plugin.register_plugin("pybtex.style.labels", STYLE, AuthorYearLabels)
pybtex.plugin.register_plugin("pybtex.style.sorting", STYLE, AuthorYearSorting)
pybtex.plugin.register_plugin("pybtex.style.formatting", STYLE, AuthorYearStyle)


def setup(app: Sphinx) -> dict:
    return {"parallel_read_safe": True, "parallel_write_safe": True}
