"""safegrade.checks on their own, in seconds: each check with right, wrong, wrongly typed
and NaN answers; what the snapshot trusts (the course's settings, whatever the import
order); and the grader's guard putting back what an answer cell rebound."""

from __future__ import annotations

import builtins
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from safegrade import checks
from safegrade.checks import check_array, check_exact, check_scalar, check_tensor


def test_check_array_accepts_a_close_float_array():
    check_array(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9]), name="x")


@pytest.mark.parametrize(
    ("got", "message"),
    [
        (np.array([1.0, 2.5]), r"x is wrong: at index \(1,\) it is 2\.5, expected 2"),
        (np.array([1.0, 2.0, 3.0]), r"x has shape \(3,\), expected \(2,\)"),
        ([1.0, 2.0], r"x should be a numpy\.ndarray, but it is a list"),
        (np.array([1, 2]), r"x should hold floats, but its dtype is int64"),
        (np.array([1.0, np.nan]), r"x contains NaN or infinity"),
        (torch.tensor([1.0, 2.0]), r"x should be a numpy\.ndarray, but it is a Tensor"),
    ],
)
def test_check_array_rejects(got, message):
    with pytest.raises(AssertionError, match=message):
        check_array(got, np.array([1.0, 2.0]), name="x")


def test_check_array_rejects_a_subclass_that_claims_equality():
    class Liar(np.ndarray):
        def __eq__(self, other):
            return True

    with pytest.raises(AssertionError, match="should be a numpy.ndarray, but it is a Liar"):
        check_array(np.zeros(2).view(Liar), np.ones(2), name="x")


def test_check_tensor():
    expected = torch.tensor([[1.0, 2.0]])
    check_tensor(torch.tensor([[1.0, 2.0]], dtype=torch.float32), expected, name="t")
    check_tensor(expected.double().requires_grad_(), expected, name="t")
    with pytest.raises(AssertionError, match=r"t is wrong: at index \(0, 1\)"):
        check_tensor(torch.tensor([[1.0, 2.1]]), expected, name="t")
    with pytest.raises(AssertionError, match="t should be a torch.Tensor, but it is a ndarray"):
        check_tensor(np.array([[1.0, 2.0]]), expected, name="t")
    with pytest.raises(AssertionError, match="t should hold floats"):
        check_tensor(torch.tensor([[1, 2]]), expected, name="t")
    with pytest.raises(AssertionError, match="t contains NaN"):
        check_tensor(torch.tensor([[1.0, float("nan")]]), expected, name="t")


def test_check_scalar():
    check_scalar(0.5, 0.5, name="s")
    check_scalar(np.float32(0.5), 0.5, name="s")
    check_scalar(3, 3.0, name="s")
    with pytest.raises(AssertionError, match="s is 0.6, expected 0.5"):
        check_scalar(0.6, 0.5, name="s")
    with pytest.raises(AssertionError, match="s should be a float or int"):
        check_scalar("0.5", 0.5, name="s")
    with pytest.raises(AssertionError, match="s should be a"):
        check_scalar(True, 1.0, name="s")  # a bool is not a number here
    with pytest.raises(AssertionError, match="s is nan"):
        check_scalar(float("nan"), 0.5, name="s")


def test_check_exact():
    check_exact({"a": [1, (2, "x")]}, {"a": [1, (2, "x")]}, name="v")
    with pytest.raises(AssertionError, match="v should be a tuple, but it is a list"):
        check_exact([3, 4], (3, 4), name="v")
    with pytest.raises(AssertionError, match=r"v\[1\] is 5, which is not right"):
        check_exact((3, 5), (3, 4), name="v")
    with pytest.raises(AssertionError, match="v has 1 items, expected 2"):
        check_exact([3], [3, 4], name="v")
    with pytest.raises(AssertionError, match=r"v should have the keys \['a'\]"):
        check_exact({"b": 1}, {"a": 1}, name="v")
    with pytest.raises(AssertionError, match="v should be a float, but it is a int"):
        check_exact(1, 1.0, name="v")
    with pytest.raises(AssertionError, match="v is nan"):
        check_exact(float("nan"), float("nan"), name="v")  # NaN is never exactly right


def _fresh(script: str) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh interpreter, as a grading kernel would."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True
    )


PATCH_TORCH_AND_CHECK = """
import torch
torch.allclose = lambda *args, **kwargs: True
try:
    g.verify_untampered()
except AssertionError as error:
    print("caught:", error)
else:
    print("not caught")
"""


def test_the_course_libraries_are_watched_whatever_was_imported_first():
    # numpy first, as five assignments' setup cells do; torch only later, by the student.
    setup = """
        import safegrade.settings as s
        s.use(s.Settings(libraries=("torch", "no_such_library_here")))
        import numpy
        import safegrade.checks as g
        """
    run = _fresh(textwrap.dedent(setup) + PATCH_TORCH_AND_CHECK)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "caught: torch.allclose was changed" in run.stdout


def test_without_settings_torch_is_watched_only_once_imported():
    run = _fresh("import numpy\nimport safegrade.checks as g\n" + PATCH_TORCH_AND_CHECK)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "not caught" in run.stdout
    assert "torch" not in _fresh("import safegrade.checks, sys; print(sorted(sys.modules))").stdout


def test_a_trusted_package_covers_all_its_submodules():
    # json is a package with submodules: trusting "json" trusts json.decoder too, even
    # though nothing had imported it, and none of its names may be added or changed.
    run = _fresh(
        """
        import sys
        sys.modules.pop("json.tool", None)
        import safegrade.settings as s
        s.use(s.Settings(trusted_modules=("json",)))
        import safegrade.checks as g
        assert "json.tool" in g._SNAPSHOT and "json.decoder" in g._SNAPSHOT
        import json.decoder
        json.decoder._private_helper = 1
        try:
            g.verify_untampered()
        except AssertionError as error:
            print("caught:", error)
        """
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "caught: json.decoder._private_helper was changed" in run.stdout


def test_the_checks_import_neither_torch_nor_the_grader():
    run = _fresh(
        "import safegrade.checks, sys\n"
        "print([m for m in ('torch', 'nbgrader', 'IPython', 'rnnkit') if m in sys.modules])"
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "[]"


def test_the_guard_puts_back_a_rebound_builtin_and_module(tmp_path):
    import safegrade.checks
    from safegrade.autograde.guard import Guard

    guard = Guard(safegrade.checks, workdir=str(tmp_path))
    real_isinstance, real_json = builtins.isinstance, sys.modules["json"]
    try:
        builtins.isinstance = lambda *args: True
        sys.modules["json"] = "a fake"
        sys.modules["safegrade.checks"] = "another fake"
        guard.restore()
        assert builtins.isinstance is real_isinstance
        assert sys.modules["json"] is real_json
        assert sys.modules["safegrade.checks"] is safegrade.checks
    finally:
        builtins.isinstance = real_isinstance
        sys.modules["json"] = real_json
        sys.modules["safegrade.checks"] = safegrade.checks


def test_the_guard_undoes_edits_to_the_checks_themselves(tmp_path):
    import safegrade.checks
    from safegrade.autograde.guard import Guard

    guard = Guard(safegrade.checks, workdir=str(tmp_path))
    code = safegrade.checks.check_scalar.__code__
    safegrade.checks.check_scalar.__code__ = (lambda got, expected, *, name: None).__code__
    vars(safegrade.checks)["verify_untampered"] = lambda: None
    guard.restore()
    assert safegrade.checks.check_scalar.__code__ is code
    with pytest.raises(AssertionError):
        check_scalar(1.0, 2.0, name="s")


def _notebook_function(source: str) -> tuple[dict, object]:
    """A function defined the way a notebook cell defines one, in a namespace that also
    holds what a test cell imports."""
    namespace = {"np": np, "check_array": checks.check_array, "counter": 0}
    exec(source, namespace)
    return namespace, namespace["answer"]


def test_student_call_fails_and_restores_when_an_answer_rebinds_a_check():
    namespace, answer = _notebook_function(
        "def answer():\n"
        "    globals()['check_array'] = lambda *args, **kwargs: None\n"
        "    globals()['np'] = None\n"
        "    return 1.0\n"
    )
    with pytest.raises(AssertionError, match="rebound np, check_array"):
        checks.student_call(answer)
    assert namespace["check_array"] is checks.check_array and namespace["np"] is np


def test_student_call_lets_an_answer_update_its_own_globals():
    namespace, answer = _notebook_function(
        "def answer():\n    global counter\n    counter += 1\n    return counter\n"
    )
    assert checks.student_call(answer) == 1 and namespace["counter"] == 1
