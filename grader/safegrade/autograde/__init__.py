"""Autograde nbgrader submissions in parallel, each in a sealed sandbox.

``python -m safegrade.autograde`` (``make autograde``) is a drop-in for ``nbgrader
autograde``: it reads the course's ``nbgrader_config.py``, restores test cells from the
gradebook, runs every notebook and writes the scores to the same gradebook, using
nbgrader's own preprocessors for everything except execution. Execution differs:

- :mod:`.sandbox`: each worker is a bubblewrap sandbox that sees no course files and no
  network;
- :mod:`.zygote`: inside it, a process that imported torch and friends once forks one
  child per submission (milliseconds instead of a kernel start);
- :mod:`.kernel` and :mod:`.guard`: the child runs the cells in-process like a kernel
  would, restoring what test cells rely on before each one;
- :mod:`.worker` and :mod:`.execution`: the grader's side, with deadlines, and reruns that
  skip a cell that crashed, hung or exhausted memory, so it costs only its own points;
- :mod:`.converter`: the nbgrader integration; :mod:`.scheduler`: workers, progress,
  sharding; :mod:`.protocol`: the frames on the pipes.
"""
