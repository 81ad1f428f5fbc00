"""Show code that answers a graded question only once its assignment is revealed.

Code in ``rnnkit/answers/`` answers an assignment's question, so the site must not print
it before the deadline. A chapter includes it with ``answer-include``, which takes the
options of ``literalinclude`` plus the assignment it belongs to::

    ```{answer-include} ../rnnkit/answers/fast_lstm.py
    :assignment: ch04_lstm
    :pyobject: FastLSTMFunction.backward
    ```

Until the instructor reveals that assignment, the page shows a short note in its place.
A derivation or written answer in the chapter's own text goes in ``answer-block``, whose
argument is the assignment and whose body is ordinary Markdown::

    ```{answer-block} ch05_coupled_lstm
    The forget gate is replaced by its complement, $f_t = 1 - i_t$, ...
    ```

To reveal, list the assignment in ``rnnkit_reveal`` under ``sphinx: config:`` in
``_config.yml``, or set ``REVEAL`` (assignment names separated by spaces or commas) when
building: ``make book REVEAL="ch02_bptt ch04_lstm"``. ``REVEAL`` replaces the list.
"""

from __future__ import annotations

import os
import re

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.directives.code import LiteralInclude
from sphinx.util.docutils import SphinxDirective


def revealed(config_value: list[str] | tuple[str, ...]) -> set[str]:
    """The assignments whose answers may be shown: ``$REVEAL`` if set, else the config."""
    env = os.environ.get("REVEAL")
    if env is not None:
        return {name for name in re.split(r"[\s,]+", env) if name}
    return set(config_value)


class AnswerBlock(SphinxDirective):
    """Markdown that answers a question (a derivation, a written answer): shown once the
    assignment named in the argument is revealed, a note until then."""

    required_arguments = 1
    has_content = True

    def run(self) -> list[nodes.Node]:
        assignment = self.arguments[0]
        if assignment not in self.config.rnnkit_reveal:
            return [_withheld_note(self, assignment, "derivation")]
        container = nodes.container(classes=["answer-revealed"])
        self.state.nested_parse(self.content, self.content_offset, container)
        return [container]


class AnswerInclude(LiteralInclude):
    """``literalinclude`` for answer code: the code if revealed, else a note."""

    option_spec = {**LiteralInclude.option_spec, "assignment": directives.unchanged_required}

    def run(self) -> list[nodes.Node]:
        assignment = self.options.pop("assignment", None)
        if not assignment:
            raise self.error("answer-include needs :assignment: (e.g. ch04_lstm)")
        if assignment in self.config.rnnkit_reveal:
            return super().run()
        return [_withheld_note(self, assignment, "code")]


def _withheld_note(directive: SphinxDirective, assignment: str, what: str) -> nodes.Node:
    """The note shown instead of an answer: what is withheld and for which assignment."""
    note = nodes.admonition(classes=["note", "answer-withheld"])
    note += nodes.title(text=f"The {what} appears here after the assignment is due")
    text = (
        f"This {what} answers a question of the assignment {assignment}. It appears here "
        "once your instructor publishes that assignment's solutions; until then, working "
        "it out is part of the assignment."
    )
    note += nodes.paragraph(text=text)
    directive.set_source_info(note)
    return note


def _apply_reveal(app: Sphinx, config) -> None:
    # Written back into the config, so that Sphinx rereads every page when REVEAL changes.
    config.rnnkit_reveal = sorted(revealed(config.rnnkit_reveal))


def setup(app: Sphinx) -> dict:
    app.add_config_value("rnnkit_reveal", [], "env", [list, tuple])
    app.connect("config-inited", _apply_reveal)
    app.add_directive("answer-include", AnswerInclude)
    app.add_directive("answer-block", AnswerBlock)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
