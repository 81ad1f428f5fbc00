"""Test-suite wiring: keep each notebook's cells, and each assignment's round trip, on one
pytest-xdist worker (they share a kernel or a course directory)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.endswith(".ipynb") or ".ipynb::" in item.nodeid:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
        elif item.nodeid.startswith("tests/test_autograder.py") and hasattr(item, "callspec"):
            item.add_marker(pytest.mark.xdist_group(f"autograde-{item.callspec.id}"))
