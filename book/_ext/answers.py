"""Show code that answers a graded question only once its assignment is revealed.

Code in ``rnnkit/answers/`` answers an assignment's question, so the site must not print
it before the deadline. A chapter includes it with ``answer-include``, which takes the
options of ``literalinclude`` plus the assignment it belongs to::

    ```{answer-include} ../rnnkit/answers/fast_lstm.py
    :assignment: ch03_lstm
    :pyobject: FastLSTMFunction.backward
    ```

Until the instructor reveals that assignment, the page shows a short note in its place.
To reveal, list the assignment in ``rnnkit_reveal`` under ``sphinx: config:`` in
``_config.yml``, or set ``REVEAL`` (assignment names separated by spaces or commas) when
building: ``make book REVEAL="ch02_bptt ch03_lstm"``. ``REVEAL`` replaces the list.
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


class AnswerInclude(LiteralInclude):
    """``literalinclude`` for answer code: the code if revealed, else a note."""

    option_spec = {**LiteralInclude.option_spec, "assignment": directives.unchanged_required}

    def run(self) -> list[nodes.Node]:
        assignment = self.options.pop("assignment", None)
        if not assignment:
            raise self.error("answer-include needs :assignment: (e.g. ch03_lstm)")
        if assignment in self.config.rnnkit_reveal:
            return super().run()
        return [_withheld_note(self, assignment)]


def _withheld_note(directive: SphinxDirective, assignment: str) -> nodes.Node:
    """The note shown instead of answer code: which assignment it belongs to."""
    note = nodes.admonition(classes=["note", "answer-withheld"])
    note += nodes.title(text="Code withheld until the assignment is due")
    text = (
        f"This code answers a question of the assignment {assignment}. It appears here "
        "once your instructor publishes that assignment's solutions; until then, "
        "writing it is part of the assignment."
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
    return {"parallel_read_safe": True, "parallel_write_safe": True}
