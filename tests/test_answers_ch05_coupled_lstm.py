"""rnnkit.answers.ch05_coupled_lstm against torch autograd, finite differences and the LSTM.

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
    loaded,
    randn,
)
from torch.func import functional_call

from rnnkit import CoupledLSTMCell, Recurrent
from rnnkit.answers import ch04_lstm
from rnnkit.answers import ch05_coupled_lstm as answers
from rnnkit.gradcheck import check_gradients, rel_error

SHAPES = STEP_SHAPES
INPUTS = ("x", "h_prev", "c_prev", "U", "W", "b")


def _shapes(B, I, H):
    return dict(x=(B, I), h_prev=(B, H), c_prev=(B, H), U=(3 * H, I), W=(3 * H, H), b=(3 * H,))


def torch_coupled_lstm_step(x, h_prev, c_prev, U, W, b):
    """A torch LSTMCell whose forget gate reads −(the input gate's pre-activation).

    σ(−a) = 1 − σ(a), so this is f = 1 − i, and autograd adds the two gates' shares.
    """

    def tied(blocks):
        i, g, o = blocks.chunk(3)
        return torch.cat([i, -i, g, o])

    cell = torch.nn.LSTMCell(U.shape[1], W.shape[1], dtype=F64)
    params = {
        "weight_ih": tied(U),
        "weight_hh": tied(W),
        "bias_ih": tied(b),
        "bias_hh": torch.zeros(4 * W.shape[1], dtype=F64),
    }
    return functional_call(cell, params, (x, (h_prev, c_prev)))


def _random_problem(shape, seed=0):
    """Inputs for one step and a random upstream gradient for each of h and c."""
    rng = np.random.default_rng([seed, *shape])
    inputs = {k: rng.normal(scale=0.7, size=s) for k, s in _shapes(*shape).items()}
    (h, c), _ = answers.coupled_lstm_step_forward(**inputs)
    return inputs, (rng.normal(size=h.shape), rng.normal(size=c.shape))


def _analytic_gradients(inputs, douts):
    _, cache = answers.coupled_lstm_step_forward(**inputs)
    return dict(zip(INPUTS, answers.coupled_lstm_step_backward(*douts, cache), strict=True))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_backward_matches_torch_autograd(shape):
    inputs, douts = _random_problem(shape)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in inputs.items()}
    outs = torch_coupled_lstm_step(**tensors)
    loss = sum((o * torch.from_numpy(d)).sum() for o, d in zip(outs, douts, strict=True))
    expected = torch.autograd.grad(loss, list(tensors.values()))
    grads = _analytic_gradients(inputs, douts)
    errors = {k: rel_error(grads[k], e.numpy()) for k, e in zip(tensors, expected, strict=True)}
    assert max(errors.values()) <= EXACT_TOL, errors


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_backward_matches_finite_differences(shape):
    inputs, douts = _random_problem(shape)
    grads = _analytic_gradients(inputs, douts)
    errors = check_gradients(
        lambda **kw: np.stack(answers.coupled_lstm_step_forward(**kw)[0]),
        inputs,
        grads,
        df=np.stack(douts),
    )
    assert max(errors.values()) <= FINITE_DIFFERENCE_TOL, errors


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_coupled_lstm_step_is_an_lstm_whose_forget_gate_is_one_minus_input_gate(shape):
    B, I, H = shape
    rng = np.random.default_rng(7)
    x, h_prev, c_prev = randn(rng, B, I), randn(rng, B, H), randn(rng, B, H)
    U, W, b = randn(rng, 3 * H, I), randn(rng, 3 * H, H), randn(rng, 3 * H)
    # a separate LSTM with a_f = −a_i, so f = σ(−a_i) = 1 − i
    U_i, U_g, U_o = np.split(U, 3)
    W_i, W_g, W_o = np.split(W, 3)
    b_i, b_g, b_o = np.split(b, 3)
    U4, W4 = np.concatenate([U_i, -U_i, U_g, U_o]), np.concatenate([W_i, -W_i, W_g, W_o])
    b4 = np.concatenate([b_i, -b_i, b_g, b_o])

    (h, c), _ = answers.coupled_lstm_step_forward(x, h_prev, c_prev, U, W, b)
    (h4, c4), _ = ch04_lstm.lstm_step_forward(x, h_prev, c_prev, U4, W4, b4)
    assert rel_error(h, h4) <= EXACT_TOL
    assert rel_error(c, c4) <= EXACT_TOL


def test_coupled_lstm_with_the_wrong_number_of_gate_rows_is_rejected():
    x, h, U, W = np.zeros((2, 4)), np.zeros((2, 3)), np.zeros((12, 4)), np.zeros((9, 3))
    with pytest.raises(ValueError, match=r"U: expected shape \(3H, I\) = \(9, 4\), got \(12, 4\)"):
        answers.coupled_lstm_step_forward(x, h, h, U, W, np.zeros(9))


@pytest.mark.parametrize("shape", SEQUENCE_SHAPES, ids=str)
def test_sequence_forward_and_backward_match_autograd_through_rnnkit_layer(shape):
    T, B, I, H = shape
    rng = np.random.default_rng([3, *shape])
    xs, h0, c0 = randn(rng, T, B, I), randn(rng, B, H), randn(rng, B, H)
    U, W, b = randn(rng, 3 * H, I), randn(rng, 3 * H, H), randn(rng, 3 * H)
    dhs = rng.normal(size=(T, B, H))

    hs, caches = answers.coupled_lstm_forward(xs, h0, c0, U, W, b)
    grads = answers.coupled_lstm_backward(dhs, caches)

    t = {k: torch.tensor(v, requires_grad=True) for k, v in dict(xs=xs, h0=h0, c0=c0).items()}
    layer = loaded(
        Recurrent(CoupledLSTMCell(I, H, dtype=F64)),
        **{"cell.weight_ih": U, "cell.weight_hh": W, "cell.bias_ih": b},
        **{"cell.bias_hh": np.zeros(3 * H)},
    )
    hs_torch, _ = layer(t["xs"], (t["h0"], t["c0"]))
    params = [layer.cell.weight_ih, layer.cell.weight_hh, layer.cell.bias_ih]
    expected = torch.autograd.grad(hs_torch, [*t.values(), *params], torch.from_numpy(dhs))
    assert rel_error(hs, hs_torch.detach().numpy()) <= EXACT_TOL
    for name, got, e in zip(("dxs", "dh0", "dc0", "dU", "dW", "db"), grads, expected, strict=True):
        assert rel_error(got, e.numpy()) <= EXACT_TOL, name


def test_sequence_backward_of_one_step_is_the_step_backward():
    rng = np.random.default_rng(4)
    x, h0, c0 = randn(rng, 1, 2, 3), randn(rng, 2, 4), randn(rng, 2, 4)
    U, W, b = randn(rng, 12, 3), randn(rng, 12, 4), randn(rng, 12)
    dh = rng.normal(size=(1, 2, 4))
    _, caches = answers.coupled_lstm_forward(x, h0, c0, U, W, b)
    by_sequence = answers.coupled_lstm_backward(dh, caches)
    by_step = answers.coupled_lstm_step_backward(dh[0], np.zeros((2, 4)), caches[0])
    assert np.array_equal(by_sequence[0][0], by_step[0])
    for got, expected in zip(by_sequence[1:], by_step[1:], strict=True):
        assert np.array_equal(got, expected)
