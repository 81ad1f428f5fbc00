"""rnnkit.answers.ch04_lstm against torch.nn, torch autograd and finite differences.

Everything runs in float64. Forward passes and autograd agree with the NumPy code up to
rounding (measured ≈ 1e-16), so they are held to 1e-12; central differences with
h = 1e-5 carry a truncation and rounding error of about 1e-10, so they are held to 1e-8.
The adding-problem loss is held to torch.nn.LSTM and autograd, the Adam step to
torch.optim.Adam, and the training loop to learning short sequences.
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
from rnnkit.tasks import adding_baseline, adding_problem

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


# ------------------------------------------------------------- the adding problem


def _adding_inputs(seed, T=12, B=5, H=3):
    rng = np.random.default_rng(seed)
    shapes = {"U": (4 * H, 2), "W": (4 * H, H), "b": (4 * H,), "V": (1, H), "b_y": (1,)}
    params = {k: rng.normal(0, 0.5, s) for k, s in shapes.items()}
    x, y, lengths = adding_problem(B, T, seed)
    return params, x.double().numpy(), y.double().numpy(), lengths.numpy()


def _adding_by_autograd(params, x, y, lengths):
    """The loss and gradients of adding_loss_and_grads' model, by torch.nn.LSTM and autograd."""
    B, H = x.shape[1], params["W"].shape[1]
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    lstm = torch.nn.LSTM(2, H, dtype=F64)
    weights = torch_params(t["U"], t["W"], t["b"], torch.zeros(4 * H, dtype=F64), suffix="_l0")
    hs, _ = functional_call(lstm, weights, (torch.from_numpy(x),))
    last = hs[torch.from_numpy(lengths) - 1, torch.arange(B)]
    loss = ((last @ t["V"].T + t["b_y"]).squeeze(1) - torch.from_numpy(y)).pow(2).mean()
    grads = torch.autograd.grad(loss, list(t.values()))
    return loss.item(), {k: g.numpy() for k, g in zip(t, grads, strict=True)}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adding_loss_and_grads_match_torch_lstm_and_autograd(seed):
    params, x, y, lengths = _adding_inputs(seed)
    assert len(set(lengths.tolist())) > 1 or seed == 0  # sequences of several lengths
    loss, grads = answers.adding_loss_and_grads(params, x, y, lengths)
    expected_loss, expected = _adding_by_autograd(params, x, y, lengths)
    assert abs(loss - expected_loss) <= EXACT_TOL
    assert sorted(grads) == sorted(expected)
    errors = {k: rel_error(grads[k], expected[k]) for k in expected}
    assert max(errors.values()) <= EXACT_TOL, errors


def test_adding_loss_ignores_the_padding_after_each_sequence():
    params, x, y, lengths = _adding_inputs(3, T=20, B=8)
    padding = np.arange(len(x))[:, None] >= lengths  # (T_max, B)
    assert padding.any()
    noisy = x.copy()
    noisy[padding] = np.random.default_rng(0).normal(size=(int(padding.sum()), 2))
    loss, grads = answers.adding_loss_and_grads(params, x, y, lengths)
    noisy_loss, noisy_grads = answers.adding_loss_and_grads(params, noisy, y, lengths)
    assert loss == noisy_loss
    for k in grads:
        np.testing.assert_array_equal(grads[k], noisy_grads[k])


def test_adam_update_matches_torch_adam_below_the_clip():
    rng = np.random.default_rng(0)
    params = {"a": rng.normal(size=(3, 2)), "b": rng.normal(size=4)}
    tensors = [torch.tensor(v, requires_grad=True) for v in params.values()]
    optimiser = torch.optim.Adam(tensors, lr=0.01)
    state = {}
    for _ in range(5):
        grads = {k: 0.1 * rng.normal(size=v.shape) for k, v in params.items()}
        norm = answers.adam_update(params, grads, state, lr=0.01, clip=10.0)
        assert norm == pytest.approx(np.sqrt(sum((g**2).sum() for g in grads.values())))
        for p, g in zip(tensors, grads.values(), strict=True):
            p.grad = torch.from_numpy(g)
        optimiser.step()
    for v, p in zip(params.values(), tensors, strict=True):
        assert rel_error(v, p.detach().numpy()) <= EXACT_TOL


def test_adam_update_clips_the_global_norm_before_its_moments():
    rng = np.random.default_rng(1)
    params = {"a": rng.normal(size=5), "b": rng.normal(size=2)}
    unit = {k: v.copy() for k, v in params.items()}
    state, unit_state = {}, {}
    for size in (50.0, 200.0):
        grads = {k: rng.normal(size=v.shape) for k, v in params.items()}
        norm = np.sqrt(sum((g**2).sum() for g in grads.values()))
        big = {k: size * g / norm for k, g in grads.items()}
        assert answers.adam_update(params, big, state, lr=0.1) == pytest.approx(size)
        # the same direction at norm 1, which a clip of 10 leaves alone
        answers.adam_update(unit, {k: g / norm for k, g in grads.items()}, unit_state, 0.1, 10.0)
    for k in params:
        assert rel_error(params[k], unit[k]) <= EXACT_TOL


def test_train_adding_lstm_is_reproducible_and_starts_with_the_forget_bias():
    first, losses = answers.train_adding_lstm(10, 4, 2, forget_bias=3.0, seed=5)
    again, _ = answers.train_adding_lstm(10, 4, 2, forget_bias=3.0, seed=5)
    untrained, _ = answers.train_adding_lstm(10, 4, 0, forget_bias=3.0, seed=5)
    assert len(losses) == 2 and all(type(v) is float for v in losses)
    for k in first:
        np.testing.assert_array_equal(first[k], again[k])
    np.testing.assert_array_equal(untrained["b"], np.r_[np.zeros(4), np.full(4, 3.0), np.zeros(8)])


def test_train_adding_lstm_learns_short_sequences_well_below_the_constant_answer():
    params, _ = answers.train_adding_lstm(10, 16, 150, seed=1)
    x, y, lengths = answers.adding_batch(500, 10, np.random.default_rng(99))
    zeros = np.zeros((500, 16))
    hs, _ = answers.lstm_forward(x, zeros, zeros, params["U"], params["W"], params["b"])
    prediction = hs[lengths - 1, np.arange(500)] @ params["V"][0] + params["b_y"][0]
    mse, baseline = np.mean((prediction - y) ** 2), adding_baseline(10)[0]
    assert mse < 0.25 * baseline, (mse, baseline)
