# ruff: noqa: E741  (I is the course's letter for the input size)
"""rnnkit.reference against torch.nn, torch autograd, finite differences and the lecture.

The LSTM, the coupled-gate LSTM and the GRU are assignments 3 to 5:
tests/test_answers_ch03_lstm.py, tests/test_answers_ch04_coupled_lstm.py and
tests/test_answers_ch05_gru.py hold rnnkit.answers' versions to the same standards.

Everything runs in float64. Forward passes and autograd agree with the NumPy code up to
rounding (measured ≈ 1e-16), so they are held to 1e-12; central differences with
h = 1e-5 carry a truncation and rounding error of about 1e-10, so they are held to 1e-8.
"""

import math
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch.func import functional_call

from rnnkit import reference as ref
from rnnkit.gradcheck import check_gradients, rel_error

EXACT_TOL = 1e-12
FINITE_DIFFERENCE_TOL = 1e-8
F64 = torch.float64

# (T, B, I, H): single step, single sequence, I ≠ H, and a general case
SHAPES = [(1, 1, 1, 1), (1, 2, 3, 4), (4, 1, 3, 2), (3, 5, 4, 3)]


def _params(U, W, b_ih, b_hh, suffix=""):
    """torch.nn parameter names for the course's U, W and the two biases."""
    return {
        f"weight_ih{suffix}": U,
        f"weight_hh{suffix}": W,
        f"bias_ih{suffix}": b_ih,
        f"bias_hh{suffix}": b_hh,
    }


# ---------------------------------------------------- the same layers written with torch.nn


def torch_rnn_step(x, h_prev, U, W, b):
    cell = torch.nn.RNNCell(U.shape[1], W.shape[1], dtype=F64)
    return functional_call(cell, _params(U, W, b, torch.zeros_like(b)), (x, h_prev))


def torch_rnn(x, h0, U, W, b):
    rnn = torch.nn.RNN(U.shape[1], W.shape[1], dtype=F64)
    params = _params(U, W, b, torch.zeros_like(b), suffix="_l0")
    return functional_call(rnn, params, (x, h0[None]))[0]


def torch_temporal_affine(h, V, c):
    return torch.nn.functional.linear(h, V, c)


# ---------------------------------------------------- one table for every forward/backward pair


@dataclass(frozen=True)
class Layer:
    forward: Callable  # numpy: forward(**inputs) -> (out or (h, c), cache)
    backward: Callable  # numpy: backward(*douts, cache) -> gradients in the order of inputs
    torch_forward: Callable  # the same computation built from torch.nn
    shapes: Callable[[int, int, int, int], dict[str, tuple[int, ...]]]  # (T, B, I, H) -> shapes


LAYERS = {
    "rnn_step": Layer(
        ref.rnn_step_forward,
        ref.rnn_step_backward,
        torch_rnn_step,
        lambda T, B, I, H: dict(x=(B, I), h_prev=(B, H), U=(H, I), W=(H, H), b=(H,)),
    ),
    "rnn": Layer(
        ref.rnn_forward,
        ref.rnn_backward,
        torch_rnn,
        lambda T, B, I, H: dict(x=(T, B, I), h0=(B, H), U=(H, I), W=(H, H), b=(H,)),
    ),
    "temporal_affine": Layer(
        ref.temporal_affine_forward,
        ref.temporal_affine_backward,
        torch_temporal_affine,
        lambda T, B, I, H: dict(h=(T, B, H), V=(I + 2, H), c=(I + 2,)),  # K = I + 2
    ),
}


def _as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


def _random_problem(name, shape, seed=0):
    """Inputs for LAYERS[name] and a random upstream gradient for each of its outputs."""
    rng = np.random.default_rng([seed, *shape])
    layer = LAYERS[name]
    inputs = {k: rng.normal(scale=0.7, size=s) for k, s in layer.shapes(*shape).items()}
    outs = _as_tuple(layer.forward(**inputs)[0])
    douts = tuple(rng.normal(size=o.shape) for o in outs)
    return inputs, douts


def _analytic_gradients(name, inputs, douts):
    layer = LAYERS[name]
    _, cache = layer.forward(**inputs)
    return dict(zip(inputs, layer.backward(*douts, cache), strict=True))


def autograd_errors(name, shape):
    """rel_error of every hand-written gradient against torch autograd, by input name."""
    inputs, douts = _random_problem(name, shape)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in inputs.items()}
    outs = _as_tuple(LAYERS[name].torch_forward(**tensors))
    loss = sum((o * torch.from_numpy(d)).sum() for o, d in zip(outs, douts, strict=True))
    expected = torch.autograd.grad(loss, list(tensors.values()))
    grads = _analytic_gradients(name, inputs, douts)
    return {k: rel_error(grads[k], e.numpy()) for k, e in zip(tensors, expected, strict=True)}


def finite_difference_errors(name, shape):
    """rel_error of every hand-written gradient against central differences, by input name."""
    inputs, douts = _random_problem(name, shape)
    grads = _analytic_gradients(name, inputs, douts)
    forward = LAYERS[name].forward
    return check_gradients(
        lambda **kw: np.stack(_as_tuple(forward(**kw)[0])), inputs, grads, df=np.stack(douts)
    )


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", LAYERS)
def test_backward_matches_torch_autograd(name, shape):
    errors = autograd_errors(name, shape)
    assert max(errors.values()) <= EXACT_TOL, errors


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", LAYERS)
def test_backward_matches_finite_differences(name, shape):
    errors = finite_difference_errors(name, shape)
    assert max(errors.values()) <= FINITE_DIFFERENCE_TOL, errors


# ---------------------------------------------------- forward passes against torch.nn modules


def _randn(rng, *shape):
    return rng.normal(scale=0.7, size=shape)


def _split_bias(rng, H):
    """Two random torch biases and the course's b = bias_ih + bias_hh."""
    b_ih, b_hh = _randn(rng, H), _randn(rng, H)
    return b_ih, b_hh, b_ih + b_hh


def _loaded(module, **state):
    module.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    return module


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_rnn_step_forward_matches_torch_rnn_cell(shape):
    _, B, I, H = shape
    rng = np.random.default_rng(1)
    x, h_prev, U, W = _randn(rng, B, I), _randn(rng, B, H), _randn(rng, H, I), _randn(rng, H, H)
    b_ih, b_hh, b = _split_bias(rng, H)
    cell = _loaded(torch.nn.RNNCell(I, H, dtype=F64), **_params(U, W, b_ih, b_hh))

    h, _ = ref.rnn_step_forward(x, h_prev, U, W, b)
    expected = cell(torch.from_numpy(x), torch.from_numpy(h_prev)).detach().numpy()
    assert rel_error(h, expected) <= EXACT_TOL


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_rnn_forward_matches_torch_rnn(shape):
    T, B, I, H = shape
    rng = np.random.default_rng(2)
    x, h0, U, W = _randn(rng, T, B, I), _randn(rng, B, H), _randn(rng, H, I), _randn(rng, H, H)
    b_ih, b_hh, b = _split_bias(rng, H)
    rnn = _loaded(torch.nn.RNN(I, H, dtype=F64), **_params(U, W, b_ih, b_hh, suffix="_l0"))

    hs, _ = ref.rnn_forward(x, h0, U, W, b)
    expected, h_last = rnn(torch.from_numpy(x), torch.from_numpy(h0)[None])
    assert rel_error(hs, expected.detach().numpy()) <= EXACT_TOL
    assert rel_error(hs[-1], h_last[0].detach().numpy()) <= EXACT_TOL


# ---------------------------------------------------- the lecture's worked example (seed 000)


def test_lecture_worked_example_pre_activation_and_tanh():
    # one hidden unit h of three: the lecture's w_ih is row h of U, its v_jh row h of W
    x = np.array([[0.4, 1.2, -1.0, 0.6]])
    h_prev = np.array([[2.0, 0.2, -1.2]])  # the lecture's y(t-1)
    U, W = np.zeros((3, 4)), np.zeros((3, 3))
    U[0] = [0.8, 1.6, -0.2, -2.4]
    W[0] = [1.8, -1.2, 0.4]
    # by hand:  0.4·0.8 + 1.2·1.6 + (−1.0)·(−0.2) + 0.6·(−2.4) = 0.32 + 1.92 + 0.20 − 1.44 = 1.00
    #           2.0·1.8 + 0.2·(−1.2) + (−1.2)·0.4              = 3.60 − 0.24 − 0.48        = 2.88
    pre_activation = 3.88
    h, _ = ref.rnn_step_forward(x, h_prev, U, W, np.zeros(3))
    assert h[0, 0] == pytest.approx(math.tanh(pre_activation), abs=1e-15)
    # tanh is one-to-one, so the state holds the pre-activation; near saturation arctanh
    # magnifies rounding by 1 / (1 − h²) ≈ 600, hence the looser tolerance
    assert np.arctanh(h[0, 0]) == pytest.approx(pre_activation, abs=1e-12)
    assert h[0, 0] == pytest.approx(0.99914, abs=1e-5)  # tanh(3.88), rounded by hand
    assert np.array_equal(h[0, 1:], [0.0, 0.0])  # the other units have zero weights


# ---------------------------------------------------- BPTT through the output layer and the loss


def _language_model_problem(T=5, B=3, I=4, H=3, K=6, seed=8):
    rng = np.random.default_rng(seed)
    params = dict(
        x=_randn(rng, T, B, I),
        h0=_randn(rng, B, H),
        U=_randn(rng, H, I),
        W=_randn(rng, H, H),
        b=_randn(rng, H),
        V=_randn(rng, K, H),
        c=_randn(rng, K),
    )
    y = rng.integers(K, size=(T, B))
    mask = (rng.random((T, B)) < 0.7).astype(float)
    return params, y, mask


def _numpy_loss_and_bptt(x, h0, U, W, b, V, c, y, mask):
    hs, rnn_cache = ref.rnn_forward(x, h0, U, W, b)
    logits, affine_cache = ref.temporal_affine_forward(hs, V, c)
    loss, dlogits = ref.softmax_cross_entropy(logits, y, mask)
    dhs, dV, dc = ref.temporal_affine_backward(dlogits, affine_cache)
    dx, dh0, dU, dW, db = ref.rnn_backward(dhs, rnn_cache)
    return loss, dict(x=dx, h0=dh0, U=dU, W=dW, b=db, V=dV, c=dc)


def test_bptt_of_the_summed_loss_matches_torch_autograd():
    params, y, mask = _language_model_problem()
    loss, grads = _numpy_loss_and_bptt(**params, y=y, mask=mask)

    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    hs = torch_rnn(t["x"], t["h0"], t["U"], t["W"], t["b"])
    logits = torch.nn.functional.linear(hs, t["V"], t["c"])
    per_step = torch.nn.functional.cross_entropy(
        logits.flatten(0, 1), torch.from_numpy(y).flatten(), reduction="none"
    )
    expected_loss = (per_step * torch.from_numpy(mask).flatten()).sum()
    expected = torch.autograd.grad(expected_loss, list(t.values()))

    assert loss == pytest.approx(expected_loss.item(), rel=EXACT_TOL)
    for name, e in zip(t, expected, strict=True):
        assert rel_error(grads[name], e.numpy()) <= EXACT_TOL, name


def test_bptt_of_the_summed_loss_matches_finite_differences():
    params, y, mask = _language_model_problem()
    _, grads = _numpy_loss_and_bptt(**params, y=y, mask=mask)
    errors = check_gradients(
        lambda **kw: _numpy_loss_and_bptt(**kw, y=y, mask=mask)[0], params, grads
    )
    assert max(errors.values()) <= FINITE_DIFFERENCE_TOL, errors


# ---------------------------------------------------- softmax cross-entropy


def test_softmax_cross_entropy_matches_torch_sum_reduction_and_autograd():
    rng = np.random.default_rng(9)
    logits, y = rng.normal(size=(4, 3, 5)), rng.integers(5, size=(4, 3))
    loss, dlogits = ref.softmax_cross_entropy(logits, y)

    o = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(
        o.flatten(0, 1), torch.from_numpy(y).flatten(), reduction="sum"
    )
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=EXACT_TOL)
    assert rel_error(dlogits, o.grad.numpy()) <= EXACT_TOL


def test_masked_loss_sums_only_the_kept_positions_and_masked_gradients_are_zero():
    rng = np.random.default_rng(10)
    T, B, K = 5, 3, 4
    logits, y = rng.normal(size=(T, B, K)), rng.integers(K, size=(T, B))
    mask = np.ones((T, B))
    mask[3:, 0] = 0.0  # sequence 0 has length 3
    mask[1:, 2] = 0.0  # sequence 2 has length 1

    loss, dlogits = ref.softmax_cross_entropy(logits, y, mask)

    kept = [(t, s) for t in range(T) for s in range(B) if mask[t, s]]
    expected = sum(
        math.log(sum(math.exp(v) for v in logits[t, s])) - logits[t, s, y[t, s]] for t, s in kept
    )
    assert loss == pytest.approx(expected, rel=EXACT_TOL)
    assert np.all(dlogits[mask == 0] == 0.0)
    _, unmasked = ref.softmax_cross_entropy(logits, y)
    assert np.array_equal(dlogits[mask == 1], unmasked[mask == 1])


def test_softmax_cross_entropy_gradient_matches_finite_differences_with_a_mask():
    rng = np.random.default_rng(11)
    logits, y = rng.normal(size=(3, 2, 4)), rng.integers(4, size=(3, 2))
    mask = np.array([[1, 1], [1, 0], [0, 0]])
    _, dlogits = ref.softmax_cross_entropy(logits, y, mask)
    errors = check_gradients(
        lambda logits: ref.softmax_cross_entropy(logits, y, mask)[0],
        {"logits": logits},
        {"logits": dlogits},
    )
    assert errors["logits"] <= FINITE_DIFFERENCE_TOL


def test_softmax_cross_entropy_is_finite_for_huge_logits():
    # exp(1000) overflows float64; the loss only depends on differences between logits
    logits = np.array([[[1000.0, 1001.0, 998.0]]])
    y = np.array([[0]])
    loss, dlogits = ref.softmax_cross_entropy(logits, y)
    shifted_loss, shifted_dlogits = ref.softmax_cross_entropy(logits - 1000.0, y)
    assert loss == pytest.approx(shifted_loss, rel=EXACT_TOL)
    assert rel_error(dlogits, shifted_dlogits) <= EXACT_TOL
    # by hand: log(e^0 + e^1 + e^-2) − 0
    assert loss == pytest.approx(math.log(1 + math.e + math.exp(-2)), rel=EXACT_TOL)


# ---------------------------------------------------- bad input is named


def test_wrong_weight_shape_names_the_argument_and_both_shapes():
    x, h_prev, U, b = np.zeros((2, 4)), np.zeros((2, 3)), np.zeros((3, 4)), np.zeros(3)
    with pytest.raises(ValueError, match=r"W: expected shape \(H, H\) = \(3, 3\), got \(3, 5\)"):
        ref.rnn_step_forward(x, h_prev, U, np.zeros((3, 5)), b)


def test_wrong_number_of_axes_is_rejected():
    with pytest.raises(ValueError, match=r"x: expected shape \(T, B, I\), got \(2, 4\)"):
        ref.rnn_forward(
            np.zeros((2, 4)), np.zeros((2, 3)), np.zeros((3, 4)), np.zeros((3, 3)), np.zeros(3)
        )


def test_rnn_backward_rejects_upstream_gradient_of_the_wrong_length():
    _, cache = ref.rnn_forward(
        np.zeros((4, 2, 3)), np.zeros((2, 5)), np.zeros((5, 3)), np.zeros((5, 5)), np.zeros(5)
    )
    with pytest.raises(
        ValueError, match=r"dhs: expected shape \(T, B, H\) = \(4, 2, 5\), got \(3, 2, 5\)"
    ):
        ref.rnn_backward(np.zeros((3, 2, 5)), cache)


def test_softmax_cross_entropy_rejects_bad_targets_and_masks():
    logits = np.zeros((2, 1, 3))
    with pytest.raises(ValueError, match=r"y: expected integer classes in \[0, 3\)"):
        ref.softmax_cross_entropy(logits, np.array([[0], [3]]))
    with pytest.raises(ValueError, match=r"y: expected integer classes"):
        ref.softmax_cross_entropy(logits, np.array([[0.0], [1.0]]))
    with pytest.raises(ValueError, match="mask: expected only 0 and 1"):
        ref.softmax_cross_entropy(logits, np.array([[0], [1]]), np.array([[1], [0.5]]))
    with pytest.raises(ValueError, match=r"mask: expected shape \(T, B\) = \(2, 1\), got \(1, 2\)"):
        ref.softmax_cross_entropy(logits, np.array([[0], [1]]), np.array([[1, 0]]))


def test_reference_and_gradcheck_run_without_torch():
    code = "import sys, rnnkit.reference, rnnkit.gradcheck; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
