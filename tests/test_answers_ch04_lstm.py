"""rnnkit.answers.ch04_lstm against torch.nn, torch autograd and finite differences.

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
    loaded,
    randn,
    split_bias,
    torch_params,
)
from torch.func import functional_call

from rnnkit.answers import ch04_lstm as answers
from rnnkit.gradcheck import check_gradients, rel_error

SHAPES = SEQUENCE_SHAPES


def torch_lstm_step(x, h_prev, c_prev, U, W, b):
    cell = torch.nn.LSTMCell(U.shape[1], W.shape[1], dtype=F64)
    return functional_call(cell, torch_params(U, W, b, torch.zeros_like(b)), (x, (h_prev, c_prev)))


def torch_lstm(x, h0, c0, U, W, b):
    lstm = torch.nn.LSTM(U.shape[1], W.shape[1], dtype=F64)
    params = torch_params(U, W, b, torch.zeros_like(b), suffix="_l0")
    return functional_call(lstm, params, (x, (h0[None], c0[None])))[0]


# name -> (numpy forward, numpy backward, the same computation in torch.nn, input shapes)
LAYERS = {
    "lstm_step": (
        answers.lstm_step_forward,
        answers.lstm_step_backward,
        torch_lstm_step,
        lambda T, B, I, H: dict(
            x=(B, I), h_prev=(B, H), c_prev=(B, H), U=(4 * H, I), W=(4 * H, H), b=(4 * H,)
        ),
    ),
    "lstm": (
        answers.lstm_forward,
        answers.lstm_backward,
        torch_lstm,
        lambda T, B, I, H: dict(
            x=(T, B, I), h0=(B, H), c0=(B, H), U=(4 * H, I), W=(4 * H, H), b=(4 * H,)
        ),
    ),
}


def _as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


def _random_problem(name, shape, seed=0):
    """Inputs for LAYERS[name] and a random upstream gradient for each of its outputs."""
    forward, _, _, shapes = LAYERS[name]
    rng = np.random.default_rng([seed, *shape])
    inputs = {k: rng.normal(scale=0.7, size=s) for k, s in shapes(*shape).items()}
    outs = _as_tuple(forward(**inputs)[0])
    douts = tuple(rng.normal(size=o.shape) for o in outs)
    return inputs, douts


def _analytic_gradients(name, inputs, douts):
    forward, backward, _, _ = LAYERS[name]
    _, cache = forward(**inputs)
    return dict(zip(inputs, backward(*douts, cache), strict=True))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", LAYERS)
def test_backward_matches_torch_autograd(name, shape):
    inputs, douts = _random_problem(name, shape)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in inputs.items()}
    outs = _as_tuple(LAYERS[name][2](**tensors))
    loss = sum((o * torch.from_numpy(d)).sum() for o, d in zip(outs, douts, strict=True))
    expected = torch.autograd.grad(loss, list(tensors.values()))
    grads = _analytic_gradients(name, inputs, douts)
    errors = {k: rel_error(grads[k], e.numpy()) for k, e in zip(tensors, expected, strict=True)}
    assert max(errors.values()) <= EXACT_TOL, errors


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", LAYERS)
def test_backward_matches_finite_differences(name, shape):
    inputs, douts = _random_problem(name, shape)
    grads = _analytic_gradients(name, inputs, douts)
    forward = LAYERS[name][0]
    errors = check_gradients(
        lambda **kw: np.stack(_as_tuple(forward(**kw)[0])), inputs, grads, df=np.stack(douts)
    )
    assert max(errors.values()) <= FINITE_DIFFERENCE_TOL, errors


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_lstm_step_forward_matches_torch_lstm_cell(shape):
    _, B, I, H = shape
    rng = np.random.default_rng(3)
    x, h_prev, c_prev = randn(rng, B, I), randn(rng, B, H), randn(rng, B, H)
    U, W = randn(rng, 4 * H, I), randn(rng, 4 * H, H)
    b_ih, b_hh, b = split_bias(rng, 4 * H)
    cell = loaded(torch.nn.LSTMCell(I, H, dtype=F64), **torch_params(U, W, b_ih, b_hh))

    (h, c), _ = answers.lstm_step_forward(x, h_prev, c_prev, U, W, b)
    h_t, c_t = cell(torch.from_numpy(x), (torch.from_numpy(h_prev), torch.from_numpy(c_prev)))
    assert rel_error(h, h_t.detach().numpy()) <= EXACT_TOL
    assert rel_error(c, c_t.detach().numpy()) <= EXACT_TOL


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_lstm_forward_matches_torch_lstm(shape):
    T, B, I, H = shape
    rng = np.random.default_rng(4)
    x, h0, c0 = randn(rng, T, B, I), randn(rng, B, H), randn(rng, B, H)
    U, W = randn(rng, 4 * H, I), randn(rng, 4 * H, H)
    b_ih, b_hh, b = split_bias(rng, 4 * H)
    lstm = loaded(torch.nn.LSTM(I, H, dtype=F64), **torch_params(U, W, b_ih, b_hh, suffix="_l0"))

    hs, _ = answers.lstm_forward(x, h0, c0, U, W, b)
    expected, _ = lstm(
        torch.from_numpy(x), (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None])
    )
    assert rel_error(hs, expected.detach().numpy()) <= EXACT_TOL


def test_lstm_with_the_wrong_number_of_gate_rows_is_rejected():
    x, h, U, W = np.zeros((2, 4)), np.zeros((2, 3)), np.zeros((9, 4)), np.zeros((12, 3))
    with pytest.raises(ValueError, match=r"U: expected shape \(4H, I\) = \(12, 4\), got \(9, 4\)"):
        answers.lstm_step_forward(x, h, h, U, W, np.zeros(12))


def test_lstm_backward_rejects_upstream_gradient_of_the_wrong_length():
    zeros = np.zeros
    _, cache = answers.lstm_forward(
        zeros((4, 2, 3)), zeros((2, 5)), zeros((2, 5)), zeros((20, 3)), zeros((20, 5)), zeros(20)
    )
    with pytest.raises(
        ValueError, match=r"dhs: expected shape \(T, B, H\) = \(4, 2, 5\), got \(3, 2, 5\)"
    ):
        answers.lstm_backward(zeros((3, 2, 5)), cache)
