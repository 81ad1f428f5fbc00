"""rnnkit.answers.ch06_gru against torch.nn.GRUCell and GRU, torch autograd and finite differences.

Everything runs in float64. Forward passes and autograd agree with the NumPy code up to
rounding (measured ≈ 1e-16), so they are held to 1e-12; central differences with
h = 1e-5 carry a truncation and rounding error of about 1e-10, so they are held to 1e-8.
"""

import numpy as np
import pytest
import torch
from numeric import (
    EXACT_TOL,
    F64,
    FINITE_DIFFERENCE_TOL,
    SEQUENCE_SHAPES,
    STEP_SHAPES,
    randn,
    torch_params,
)
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


@pytest.mark.parametrize("shape", SEQUENCE_SHAPES, ids=str)
def test_gru_forward_matches_torch_gru_with_copied_weights(shape):
    T, B, I, H = shape
    rng = np.random.default_rng([7, *shape])
    xs, h0 = randn(rng, T, B, I), randn(rng, B, H)
    params = randn(rng, 3 * H, I), randn(rng, 3 * H, H), randn(rng, 3 * H), randn(rng, 3 * H)
    gru = torch.nn.GRU(I, H, dtype=F64)
    gru.load_state_dict({k + "_l0": torch.from_numpy(v) for k, v in torch_params(*params).items()})

    hs, caches = answers.gru_forward(xs, h0, *params)
    expected, _ = gru(torch.from_numpy(xs), torch.from_numpy(h0)[None])
    assert len(caches) == T
    assert rel_error(hs, expected.detach().numpy()) <= EXACT_TOL


@pytest.mark.parametrize("shape", SEQUENCE_SHAPES, ids=str)
def test_gru_backward_through_time_matches_torch_autograd(shape):
    T, B, I, H = shape
    rng = np.random.default_rng([8, *shape])
    inputs = {
        "xs": randn(rng, T, B, I),
        "h0": randn(rng, B, H),
        "U": randn(rng, 3 * H, I),
        "W": randn(rng, 3 * H, H),
        "b_ih": randn(rng, 3 * H),
        "b_hh": randn(rng, 3 * H),
    }
    dhs = rng.normal(size=(T, B, H))
    _, caches = answers.gru_forward(**inputs)
    grads = answers.gru_backward(dhs, caches)

    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in inputs.items()}
    h, loss = tensors["h0"], 0.0
    params = {k: tensors[k] for k in ("U", "W", "b_ih", "b_hh")}
    for t in range(T):
        h = torch_gru_step(tensors["xs"][t], h, **params)
        loss = loss + (h * torch.from_numpy(dhs[t])).sum()
    expected = torch.autograd.grad(loss, list(tensors.values()))
    errors = {k: rel_error(g, e.numpy()) for k, g, e in zip(tensors, grads, expected, strict=True)}
    assert max(errors.values()) <= EXACT_TOL, errors


def test_gru_backward_rejects_gradients_for_the_wrong_number_of_steps():
    rng = np.random.default_rng(9)
    params = randn(rng, 6, 3), randn(rng, 6, 2), randn(rng, 6), randn(rng, 6)
    _, caches = answers.gru_forward(randn(rng, 4, 1, 3), randn(rng, 1, 2), *params)
    with pytest.raises(ValueError, match=r"dhs: expected shape \(T, B, H\) = \(4, 1, 2\)"):
        answers.gru_backward(np.zeros((3, 1, 2)), caches)
