"""The grader's nbgrader steps come from nbgrader's own configurable lists."""

from __future__ import annotations

import pytest
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.converters import Autograde
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    IgnorePattern,
    LimitOutput,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)
from traitlets.config import Config

from safegrade.autograde.converter import (
    DropDuplicateIds,
    RestoreCellRoles,
    SandboxExecute,
    autograde_steps,
    sanitize_steps,
)


def test_nbgraders_default_lists_with_the_sandbox_swapped_in():
    autograde = Autograde()
    assert sanitize_steps(autograde.sanitize_preprocessors) == [
        (ClearOutput, {}),
        (RestoreCellRoles, {}),
        (DropDuplicateIds, {}),
        (OverwriteKernelspec, {}),
        (OverwriteCells, {"add_missing_cells": True}),
        (CheckCellMetadata, {}),
    ]
    before, execute, after = autograde_steps(autograde.autograde_preprocessors)
    assert (before, execute) == ([], [(SandboxExecute, {})])
    assert [p for p, _ in after] == [
        IgnorePattern,
        ClearMetadataPreprocessor,
        LimitOutput,
        SaveAutoGrades,
        AssignLatePenalties,
    ]


def test_a_course_configures_the_lists_as_for_nbgrader():
    config = Config()
    config.Autograde.autograde_preprocessors = [
        "nbgrader.preprocessors.ClearOutput",
        "nbgrader.preprocessors.Execute",
        "nbgrader.preprocessors.SaveAutoGrades",
    ]
    before, execute, after = autograde_steps(Autograde(config=config).autograde_preprocessors)
    assert before == [(ClearOutput, {})] and execute == [(SandboxExecute, {})]
    assert after == [(SaveAutoGrades, {})]


def test_a_list_without_execution_is_refused():
    with pytest.raises(ValueError, match="must hold nbgrader's Execute exactly once"):
        autograde_steps([ClearOutput, SaveAutoGrades])
