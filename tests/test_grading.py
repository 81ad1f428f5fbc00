"""safegrade.checks's student_call: forbidden implementations, by every route, and inputs
that must stay as they were (the assignments' hostile corpus covers the rest)."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from rnnkit.answers import ch06_gru
from rnnkit.cells import GRUCell
from safegrade.checks import ForbiddenCall, student_call, torch_kernels


def gru_arguments(seed=0, B=2, I=3, H=4):
    rng = np.random.default_rng(seed)
    shapes = [(B, I), (B, H), (3 * H, I), (3 * H, H), (3 * H,), (3 * H,)]
    return [rng.standard_normal(s) for s in shapes]


def by_kernel(x, h, U, W, b_ih, b_hh):
    return torch.gru_cell(*map(torch.from_numpy, (x, h, U, W, b_ih, b_hh))).numpy()


def by_private_alias(x, h, U, W, b_ih, b_hh):
    return torch._VF.gru_cell(*map(torch.from_numpy, (x, h, U, W, b_ih, b_hh))).numpy()


def by_operator(x, h, U, W, b_ih, b_hh):
    return torch.ops.aten.gru_cell(*map(torch.from_numpy, (x, h, U, W, b_ih, b_hh))).numpy()


def by_operator_overload(x, h, U, W, b_ih, b_hh):
    args = map(torch.from_numpy, (x, h, U, W, b_ih, b_hh))
    return torch.ops.aten.gru_cell.default(*args).numpy()


def by_torch_module(x, h, U, W, b_ih, b_hh):
    cell = torch.nn.GRUCell(U.shape[1], W.shape[1]).double()
    with torch.no_grad():
        for p, value in zip(cell.parameters(), (U, W, b_ih, b_hh), strict=True):
            p.copy_(torch.from_numpy(value))
        return cell(torch.from_numpy(x), torch.from_numpy(h)).numpy()


def by_numpy(x, h, U, W, b_ih, b_hh):
    # NumPy only, as an honest answer is: the instructors' GRU step
    return ch06_gru.gru_step_forward(x, h, U, W, b_ih, b_hh)[0]


@pytest.mark.parametrize(
    "route", [by_kernel, by_private_alias, by_operator, by_operator_overload, by_torch_module]
)
def test_student_call_catches_torchs_compiled_gru_by_every_route(route):
    args = gru_arguments()
    np.testing.assert_allclose(route(*args), by_numpy(*args), atol=1e-12)  # the route works
    with pytest.raises(ForbiddenCall, match=route.__name__):
        student_call(route, *args, forbid=torch_kernels("gru_cell"))


def test_student_call_lets_an_own_implementation_through_the_kernel_wire():
    args = gru_arguments(seed=1)
    got = student_call(by_numpy, *args, forbid=torch_kernels("gru_cell", "gru"))
    np.testing.assert_array_equal(got, by_numpy(*args))


def test_forbidding_the_lstm_kernel_does_not_trip_on_a_gru():
    args = gru_arguments(seed=2)
    got = student_call(by_kernel, *args, forbid=torch_kernels("lstm_cell", "lstm"))
    np.testing.assert_allclose(got, by_numpy(*args), atol=1e-12)


def test_student_call_still_catches_a_forbidden_python_class():
    def by_rnnkit(x, h, U, W, b_ih, b_hh):
        cell = GRUCell(U.shape[1], W.shape[1]).double()
        with torch.no_grad():
            return cell(torch.from_numpy(x), torch.from_numpy(h)).numpy()

    with pytest.raises(ForbiddenCall, match="GRUCell"):
        student_call(by_rnnkit, *gru_arguments(), forbid=[GRUCell])


def test_keep_inputs_names_the_array_changed_in_place():
    def doubles_in_place(grads, scale):
        for g in grads.values():
            g *= scale
        return grads

    with pytest.raises(AssertionError, match=r"changed argument 1\['b'\] in place"):
        student_call(doubles_in_place, {"a": np.zeros(2), "b": np.ones(3)}, 2.0, keep_inputs=True)


def test_keep_inputs_checks_keyword_arguments_too():
    def writes_into(x, *, out):
        out[0] = 7.0
        return x

    with pytest.raises(AssertionError, match="changed out in place"):
        student_call(writes_into, np.ones(1), out=np.zeros(2), keep_inputs=True)


def test_keep_inputs_accepts_new_arrays_and_nans_left_alone():
    def doubles(grads):
        return {k: 2 * g for k, g in grads.items()}

    got = student_call(doubles, {"a": np.array([1.0, np.nan])}, keep_inputs=True)
    np.testing.assert_array_equal(got["a"], [2.0, np.nan])


def test_without_keep_inputs_changes_to_the_copies_are_allowed():
    def doubles_in_place(g):
        g *= 2
        return g

    given = np.ones(2)
    np.testing.assert_array_equal(student_call(doubles_in_place, given), [2.0, 2.0])
    np.testing.assert_array_equal(given, [1.0, 1.0])  # the test's own array is untouched


def test_an_optimiser_step_after_the_checks_load_is_not_tampering():
    # A fresh interpreter, as in a grading kernel: torch first, then the checks, then the
    # student's training loop (an Adam step imports torch._dynamo, which rebinds torch names).
    script = (
        "import torch\n"
        "import safegrade.checks as g\n"
        "x = torch.zeros(3, requires_grad=True)\n"
        "opt = torch.optim.Adam([x])\n"
        "x.sum().backward()\n"
        "opt.step()\n"
        "g.verify_untampered()\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
