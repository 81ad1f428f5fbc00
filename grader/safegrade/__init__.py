"""safegrade: strict, quiet checks for nbgrader test cells, and a sandboxed autograder.

- :mod:`safegrade.checks` is what assignments import in their setup cell (NumPy only;
  torch is watched when the course uses it).
- :mod:`safegrade.autograde` (``python -m safegrade.autograde``) grades every submission
  in parallel, each in a bubblewrap sandbox; it needs the ``autograde`` extra.

Nothing is imported here, so ``import safegrade.checks`` stays light.
"""

__version__ = "0.1.0"
