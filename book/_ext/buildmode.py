"""``RNNKIT_BOOK_EXECUTE=off`` builds the site from the notebooks' committed outputs.

``make book`` executes every chapter (``execute_notebooks: cache`` in ``_config.yml``), so
the published site shows what the code prints today. ``make test`` runs nbval, which
executes every chapter and compares its outputs with the committed ones; its site build
sets this variable so that no chapter runs twice in one test run. Any value of
``nb_execution_mode`` is accepted (``off``, ``cache``, ``force``, ``auto``).
"""

import os

from sphinx.application import Sphinx
from sphinx.config import Config


def _execution_mode(app: Sphinx, config: Config) -> None:
    mode = os.environ.get("RNNKIT_BOOK_EXECUTE")
    if mode:
        config.nb_execution_mode = mode


def setup(app: Sphinx) -> dict:
    # Before myst-nb reads the setting.
    app.connect("config-inited", _execution_mode, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
