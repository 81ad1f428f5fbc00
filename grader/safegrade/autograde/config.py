"""The course's settings for safegrade, read from its ``nbgrader_config.py``.

safegrade knows nothing of any particular course: what the checks trust, what each
sandbox imports before forking and which package folders it shows all come from the
course's configuration, for example::

    c.Safegrade.trusted_modules = ["mycourse.reference", "mycourse.answers"]
    c.Safegrade.libraries = ["torch"]
    c.Safegrade.preload = ["numpy", "torch", "matplotlib.pyplot", "mycourse.*"]
    c.Safegrade.packages = ["mycourse"]
"""

from __future__ import annotations

from traitlets import List, Unicode
from traitlets.config import Configurable

from ..settings import Settings


class Safegrade(Configurable):
    """safegrade's part of a course's ``nbgrader_config.py`` (``c.Safegrade.*``)."""

    trusted_modules = List(
        Unicode(),
        help=(
            "Modules whose every global the checks trust and watch (the course's reference "
            "code): none may be changed, added or deleted by a notebook. A package's name "
            "covers the package and all its submodules, imported before the snapshot."
        ),
    ).tag(config=True)
    libraries = List(
        Unicode(),
        help=(
            "Libraries whose public names the checks watch besides builtins, math and NumPy "
            "(e.g. torch), imported before the snapshot when installed, so that what is "
            "watched does not depend on what a notebook imported first."
        ),
    ).tag(config=True)
    preload = List(
        Unicode(),
        ["numpy"],
        help=(
            "Modules each sandbox imports once, before it forks one process per submission "
            "(the course's heavy dependencies). 'pkg.*' imports pkg and all its submodules. "
            "A module that fails to import stops the grader with its name and error."
        ),
    ).tag(config=True)
    packages = List(
        Unicode(),
        help=(
            "Packages whose folders the sandbox shows read-only besides the virtual "
            "environment: the course's own, when installed editable from the course "
            "repository (only the package folder, never the repository around it)."
        ),
    ).tag(config=True)

    in_process = List(
        Unicode(),
        help=(
            "Assignments whose test cells run in the student's process, as a kernel runs "
            "them, instead of a process of their own (safegrade.autograde.split): only for "
            "tests that cannot work on what crosses between the two. There, code that walks "
            "the call stack or writes memory (ctypes) can reach the checks."
        ),
    ).tag(config=True)

    def settings(self) -> Settings:
        """What the checks need of these (the rest is the grader's)."""
        return Settings(tuple(self.trusted_modules), tuple(self.libraries))
