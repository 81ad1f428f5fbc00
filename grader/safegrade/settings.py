"""What the checks trust besides builtins, math and NumPy: the course's part of it.

A course names its own trusted code (its reference solutions) and the libraries its tests
rely on in ``nbgrader_config.py`` (``c.Safegrade.trusted_modules``, ``c.Safegrade.libraries``;
see :mod:`safegrade.autograde.config`). The autograder reads them there and hands them over
with :func:`use` before :mod:`safegrade.checks` is imported, which takes its snapshot of
everything trusted at import. Without them (a student's own kernel, where no grader runs)
the checks trust builtins, math and NumPy, and torch when it was imported before them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """trusted_modules: modules whose every global the checks trust, none of which may be
    added or changed; a package's name covers it and all its submodules (imported at the
    snapshot). libraries: libraries whose public names are watched, imported at the
    snapshot when installed, so what is watched does not depend on what a notebook
    imported first (e.g. ``("torch",)``)."""

    trusted_modules: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()


_current = Settings()


def use(settings: Settings) -> None:
    """The settings the checks' snapshot is taken with (call before importing them)."""
    global _current
    _current = settings


def current() -> Settings:
    return _current
