"""rnnkit.answers.ch06_gru against torch.nn.GRUCell, torch autograd and finite differences.

Everything runs in float64. Forward passes and autograd agree with the NumPy code up to
rounding (measured ≈ 1e-16), so they are held to 1e-12; central differences with
h = 1e-5 carry a truncation and rounding error of about 1e-10, so they are held to 1e-8.
"""

import numpy as np
import pytest
import torch
from numeric import EXACT_TOL, F64, FINITE_DIFFERENCE_TOL, STEP_SHAPES, randn, torch_params
from torch.func import functional_call

from rnnkit.answers import ch06_gru as answers
from rnnkit.gradcheck import check_gradients, rel_error

SHAPES = STEP_SHAPES
INPUTS = ("x", "h_prev", "U", "W", "b_ih", "b_hh")


def torch_gru_step(x, h_prev, U, W, b_ih, b_hh):
    cell = torch.nn.GRUCell(U.shape[1], W.shape[1], dtype=F64)
    return functional_call(cell, torch_params(U, W, b_ih, b_hh), (x, h_prev))


def _random_problem(shape, seed=0):
    """Inputs for one step and a random upstream gradient for h."""
    B, I, H = shape
    rng = np.random.default_rng([seed, *shape])
    sizes = dict(x=(B, I), h_prev=(B, H), U=(3 * H, I), W=(3 * H, H), b_ih=(3 * H,), b_hh=(3 * H,))
    inputs = {k: rng.normal(scale=0.7, size=s) for k, s in sizes.items()}
    return inputs, rng.normal(size=(B, H))


def _analytic_gradients(inputs, dh):
    _, cache = answers.gru_step_forward(**inputs)
    return dict(zip(INPUTS, answers.gru_step_backward(dh, cache), strict=True))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_backward_matches_torch_autograd(shape):
    inputs, dh = _random_problem(shape)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in inputs.items()}
    loss = (torch_gru_step(**tensors) * torch.from_numpy(dh)).sum()
    expected = torch.autograd.grad(loss, list(tensors.values()))
    grads = _analytic_gradients(inputs, dh)
    errors = {k: rel_error(grads[k], e.numpy()) for k, e in zip(tensors, expected, strict=True)}
    assert max(errors.values()) <= EXACT_TOL, errors


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_backward_matches_finite_differences(shape):
    inputs, dh = _random_problem(shape)
    grads = _analytic_gradients(inputs, dh)
    errors = check_gradients(lambda **kw: answers.gru_step_forward(**kw)[0], inputs, grads, df=dh)
    assert max(errors.values()) <= FINITE_DIFFERENCE_TOL, errors


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_gru_step_forward_matches_torch_gru_cell_with_separate_biases(shape):
    B, I, H = shape
    rng = np.random.default_rng(5)
    x, h_prev = randn(rng, B, I), randn(rng, B, H)
    U, W, b_ih, b_hh = (
        randn(rng, 3 * H, I),
        randn(rng, 3 * H, H),
        randn(rng, 3 * H),
        randn(rng, 3 * H),
    )
    cell = torch.nn.GRUCell(I, H, dtype=F64)
    cell.load_state_dict(
        {k: torch.from_numpy(v) for k, v in torch_params(U, W, b_ih, b_hh).items()}
    )

    h, _ = answers.gru_step_forward(x, h_prev, U, W, b_ih, b_hh)
    expected = cell(torch.from_numpy(x), torch.from_numpy(h_prev)).detach().numpy()
    assert rel_error(h, expected) <= EXACT_TOL


def test_gru_keeps_the_old_state_when_z_is_one():
    # PyTorch's convention: h_t = (1 − z) n + z h_{t-1}; a huge z bias saturates z at 1
    rng = np.random.default_rng(6)
    B, I, H = 2, 3, 4
    x, h_prev, U, W = (
        randn(rng, B, I),
        randn(rng, B, H),
        randn(rng, 3 * H, I),
        randn(rng, 3 * H, H),
    )
    b_ih = np.zeros(3 * H)
    b_ih[H : 2 * H] = 100.0  # σ(100) = 1 in float64
    h, _ = answers.gru_step_forward(x, h_prev, U, W, b_ih, np.zeros(3 * H))
    assert rel_error(h, h_prev) <= EXACT_TOL


def test_gru_with_mismatched_biases_is_rejected():
    x, h, U, W = np.zeros((2, 4)), np.zeros((2, 3)), np.zeros((9, 4)), np.zeros((9, 3))
    with pytest.raises(ValueError, match=r"b_hh: expected shape \(3H\) = \(9,\), got \(12,\)"):
        answers.gru_step_forward(x, h, U, W, np.zeros(9), np.zeros(12))
