"""Every display equation of the book gets a number, per chapter like the figures: (4.3).

MyST numbers a ``$$ ... $$`` block only when it carries a label (``$$ ... $$ (a-label)``),
and Sphinx's ``math_number_all`` reaches only the ``math`` directive, not MyST's blocks. So
this extension labels the rest itself, in a transform run while each page is read, exactly
as MyST's ``add_math_target`` handles a labelled block: the equation is noted in the math
domain, the block gets its number and docname, and a target ``equation-<label>`` goes before
it (docutils' PropagateTargets then moves that id onto the block, where Sphinx's figure
numbering looks for it). Everything therefore lives in the environment, like MyST's own
labelled equations, and incremental builds keep it.

- The label of the k-th display equation of page ``book/ch04_lstm`` is
  ``book-ch04_lstm-eq-k`` (k counts labelled equations too, so it is equation (4.k)): the
  same in every build, so links to it do not change, and adding a label to one equation
  leaves the others' alone.
  Blocks that already have a label keep it.
- An unlabelled ``nowrap`` block is a starred amsmath environment (``align*``), which MyST
  leaves unnumbered on purpose; so does this extension.
- With ``numfig`` and ``math_numfig`` (``_config.yml``), Sphinx numbers equations like the
  figures: "(4.3)" in chapter 4, and ``{eq}`` references read the same. Pages outside the
  numbered parts (notation, the fast path) would share one running count across pages;
  there each page's equations are numbered from (1) instead (so Sphinx, comparing them
  with its own running count, rewrites such a page on every build).
"""

from __future__ import annotations

from typing import cast

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.domains.math import MathDomain
from sphinx.environment import BuildEnvironment
from sphinx.transforms import SphinxTransform

FIGTYPE = "displaymath"


class NumberEquations(SphinxTransform):
    """Label, number and target every unlabelled display equation of the page."""

    # Before docutils' PropagateTargets (260) moves each target's id onto its equation.
    default_priority = 250

    def apply(self, **kwargs) -> None:
        docname = self.env.docname
        domain = cast(MathDomain, self.env.get_domain("math"))
        equations = [
            n for n in self.document.findall(nodes.math_block) if n.get("label") or not n["nowrap"]
        ]
        for k, node in enumerate(equations, 1):
            if node.get("label"):
                continue
            node["label"] = f"{docname.replace('/', '-')}-eq-{k}"
            domain.note_equation(docname, node["label"], location=node)
            node["number"] = domain.get_equation_number_for(node["label"])
            node["docname"] = docname
            target = nodes.target("", "", ids=[nodes.make_id(f"equation-{node['label']}")])
            self.document.note_explicit_target(target)
            node.parent.insert(node.parent.index(node), target)


def restart_unnumbered_pages(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """Number each unnumbered page's equations (1), (2), ... rather than continue the
    running count that Sphinx keeps across all pages outside a numbered toctree."""
    for docname, fignumbers in env.toc_fignumbers.items():
        if FIGTYPE in fignumbers and not env.toc_secnumbers.get(docname):
            fignumbers[FIGTYPE] = {eq: (k,) for k, eq in enumerate(fignumbers[FIGTYPE], 1)}
    # A page's own numbers change only when the page changes, and then it is rewritten.
    return []


def setup(app: Sphinx) -> dict:
    app.add_transform(NumberEquations)
    # After Sphinx's toctree collector (priority 500) has assigned the figure numbers.
    app.connect("env-get-updated", restart_unnumbered_pages, priority=600)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
