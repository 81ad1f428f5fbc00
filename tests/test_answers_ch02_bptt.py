# ruff: noqa: E741  (I is the course's letter for the input size)
"""rnnkit.answers.ch02_bptt (assignment 2's answers) against torch autograd, torch.nn and
central differences.

Everything runs in float64: autograd agrees with the NumPy code up to rounding, so it is
held to 1e-12; central differences with h = 1e-5 carry an error of about 1e-10, held to 1e-8.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numeric import EXACT_TOL, F64, FINITE_DIFFERENCE_TOL, SEQUENCE_SHAPES
from torch.func import functional_call

from rnnkit import reference as ref
from rnnkit.answers import ch02_bptt as bptt
from rnnkit.gradcheck import check_gradients, rel_error

SHAPES = SEQUENCE_SHAPES


def torch_rnn(x, h0, U, W, b):
    """torch.nn.RNN (tanh) with the course's U, W and b loaded as its weights."""
    rnn = torch.nn.RNN(U.shape[1], W.shape[1], dtype=F64)
    params = {"weight_ih_l0": U, "weight_hh_l0": W, "bias_ih_l0": b}
    params["bias_hh_l0"] = torch.zeros_like(b)
    return functional_call(rnn, params, (x, h0[None]))[0]


def _problem(shape, seed=0):
    T, B, I, H = shape
    rng = np.random.default_rng([seed, *shape])
    names = dict(x=(T, B, I), h0=(B, H), U=(H, I), W=(H, H), b=(H,), dhs=(T, B, H))
    return {k: rng.normal(scale=0.7, size=s) for k, s in names.items()}


# ---------------------------------------------------- one step and the whole sequence


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_rnn_step_backward_matches_torch_autograd(shape):
    p = _problem(shape)
    x, h_prev, dh = p["x"][0], p["h0"], p["dhs"][0]
    _, cache = ref.rnn_step_forward(x, h_prev, p["U"], p["W"], p["b"])
    got = bptt.rnn_step_backward(dh, cache)

    t = {k: torch.tensor(v, requires_grad=True) for k, v in [("x", x), ("h_prev", h_prev)]}
    t |= {k: torch.tensor(p[k], requires_grad=True) for k in ("U", "W", "b")}
    h = torch.tanh(t["x"] @ t["U"].T + t["h_prev"] @ t["W"].T + t["b"])
    expected = torch.autograd.grad((h * torch.from_numpy(dh)).sum(), list(t.values()))
    for name, g, e in zip(t, got, expected, strict=True):
        assert g.shape == e.shape and rel_error(g, e.numpy()) <= EXACT_TOL, name


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_rnn_backward_matches_autograd_through_torch_nn_rnn(shape):
    p = _problem(shape)
    _, cache = ref.rnn_forward(p["x"], p["h0"], p["U"], p["W"], p["b"])
    got = bptt.rnn_backward(p["dhs"], cache)

    t = {k: torch.tensor(p[k], requires_grad=True) for k in ("x", "h0", "U", "W", "b")}
    hs = torch_rnn(**t)
    expected = torch.autograd.grad((hs * torch.from_numpy(p["dhs"])).sum(), list(t.values()))
    for name, g, e in zip(t, got, expected, strict=True):
        assert rel_error(g, e.numpy()) <= EXACT_TOL, name


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_rnn_backward_matches_finite_differences(shape):
    p = _problem(shape)
    inputs = {k: p[k] for k in ("x", "h0", "U", "W", "b")}
    _, cache = ref.rnn_forward(**inputs)
    grads = dict(zip(inputs, bptt.rnn_backward(p["dhs"], cache), strict=True))
    errors = check_gradients(lambda **kw: ref.rnn_forward(**kw)[0], inputs, grads, df=p["dhs"])
    assert max(errors.values()) <= FINITE_DIFFERENCE_TOL, errors


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_temporal_affine_backward_matches_torch_autograd(shape):
    T, B, I, H = shape
    K = I + 2
    rng = np.random.default_rng([1, *shape])
    h, V, b_y, dout = (rng.normal(size=s) for s in [(T, B, H), (K, H), (K,), (T, B, K)])
    _, cache = ref.temporal_affine_forward(h, V, b_y)
    got = bptt.temporal_affine_backward(dout, cache)

    t = [torch.tensor(a, requires_grad=True) for a in (h, V, b_y)]
    out = F.linear(*t)
    expected = torch.autograd.grad((out * torch.from_numpy(dout)).sum(), t)
    for g, e in zip(got, expected, strict=True):
        assert rel_error(g, e.numpy()) <= EXACT_TOL


# ---------------------------------------------------- the loss, the output layer and BPTT


def _language_model_problem(T=5, B=3, I=4, H=3, K=6, seed=8):
    rng = np.random.default_rng(seed)
    shapes = dict(x=(T, B, I), h0=(B, H), U=(H, I), W=(H, H), b=(H,), V=(K, H), b_y=(K,))
    params = {k: rng.normal(scale=0.7, size=s) for k, s in shapes.items()}
    y = rng.integers(K, size=(T, B))
    mask = (rng.random((T, B)) < 0.7).astype(float)
    return params, y, mask


def _torch_loss(t, y, mask=None):
    hs = torch_rnn(t["x"], t["h0"], t["U"], t["W"], t["b"])
    logits = F.linear(hs, t["V"], t["b_y"])
    per_step = F.cross_entropy(
        logits.flatten(0, 1), torch.from_numpy(y).flatten(), reduction="none"
    )
    keep = torch.ones_like(per_step) if mask is None else torch.from_numpy(mask).flatten()
    return (per_step * keep).sum(), hs[-1]


def _numpy_loss_and_bptt(x, h0, U, W, b, V, b_y, y, mask):
    hs, rnn_cache = ref.rnn_forward(x, h0, U, W, b)
    logits, affine_cache = ref.temporal_affine_forward(hs, V, b_y)
    loss, dlogits = bptt.softmax_cross_entropy(logits, y, mask)
    dhs, dV, db_y = bptt.temporal_affine_backward(dlogits, affine_cache)
    dx, dh0, dU, dW, db = bptt.rnn_backward(dhs, rnn_cache)
    return loss, dict(x=dx, h0=dh0, U=dU, W=dW, b=db, V=dV, b_y=db_y)


def test_bptt_of_the_masked_summed_loss_matches_torch_autograd():
    params, y, mask = _language_model_problem()
    loss, grads = _numpy_loss_and_bptt(**params, y=y, mask=mask)

    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    expected_loss, _ = _torch_loss(t, y, mask)
    expected = torch.autograd.grad(expected_loss, list(t.values()))
    assert loss == pytest.approx(expected_loss.item(), rel=EXACT_TOL)
    for name, e in zip(t, expected, strict=True):
        assert rel_error(grads[name], e.numpy()) <= EXACT_TOL, name


def test_bptt_of_the_masked_summed_loss_matches_finite_differences():
    params, y, mask = _language_model_problem()
    _, grads = _numpy_loss_and_bptt(**params, y=y, mask=mask)
    errors = check_gradients(
        lambda **kw: _numpy_loss_and_bptt(**kw, y=y, mask=mask)[0], params, grads
    )
    assert max(errors.values()) <= FINITE_DIFFERENCE_TOL, errors


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rnn_loss_and_grads_matches_torch_autograd_and_returns_the_last_state(seed):
    params, y, _ = _language_model_problem(T=7, B=2, I=5, H=4, K=5, seed=seed)
    xs, h0 = params.pop("x"), params.pop("h0")
    loss, grads, h_last = bptt.rnn_loss_and_grads(xs, y, h0, params)

    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    t["x"], t["h0"] = torch.tensor(xs), torch.tensor(h0, requires_grad=True)
    expected_loss, expected_last = _torch_loss(t, y)
    names = ["U", "W", "b", "V", "b_y", "h0"]
    expected = torch.autograd.grad(expected_loss, [t[k] for k in names])
    assert isinstance(loss, float) and loss == pytest.approx(expected_loss.item(), rel=EXACT_TOL)
    assert sorted(grads) == sorted(names)
    for name, e in zip(names, expected, strict=True):
        assert rel_error(grads[name], e.numpy()) <= EXACT_TOL, name
    assert rel_error(h_last, expected_last.detach().numpy()) <= EXACT_TOL


# ---------------------------------------------------- softmax cross-entropy


def test_softmax_cross_entropy_matches_torch_sum_reduction_and_autograd():
    rng = np.random.default_rng(9)
    logits, y = rng.normal(size=(4, 3, 5)), rng.integers(5, size=(4, 3))
    loss, dlogits = bptt.softmax_cross_entropy(logits, y)

    o = torch.tensor(logits, requires_grad=True)
    expected = F.cross_entropy(o.flatten(0, 1), torch.from_numpy(y).flatten(), reduction="sum")
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

    loss, dlogits = bptt.softmax_cross_entropy(logits, y, mask)

    kept = [(t, s) for t in range(T) for s in range(B) if mask[t, s]]
    expected = sum(
        math.log(sum(math.exp(v) for v in logits[t, s])) - logits[t, s, y[t, s]] for t, s in kept
    )
    assert loss == pytest.approx(expected, rel=EXACT_TOL)
    assert np.all(dlogits[mask == 0] == 0.0)
    _, unmasked = bptt.softmax_cross_entropy(logits, y)
    assert np.array_equal(dlogits[mask == 1], unmasked[mask == 1])


def test_softmax_cross_entropy_gradient_matches_finite_differences_with_a_mask():
    rng = np.random.default_rng(11)
    logits, y = rng.normal(size=(3, 2, 4)), rng.integers(4, size=(3, 2))
    mask = np.array([[1, 1], [1, 0], [0, 0]])
    _, dlogits = bptt.softmax_cross_entropy(logits, y, mask)
    errors = check_gradients(
        lambda logits: bptt.softmax_cross_entropy(logits, y, mask)[0],
        {"logits": logits},
        {"logits": dlogits},
    )
    assert errors["logits"] <= FINITE_DIFFERENCE_TOL


def test_softmax_cross_entropy_is_finite_for_huge_logits():
    # exp(1000) overflows float64; the loss only depends on differences between logits
    logits = np.array([[[1000.0, 1001.0, 998.0]]])
    y = np.array([[0]])
    loss, dlogits = bptt.softmax_cross_entropy(logits, y)
    shifted_loss, shifted_dlogits = bptt.softmax_cross_entropy(logits - 1000.0, y)
    assert loss == pytest.approx(shifted_loss, rel=EXACT_TOL)
    assert rel_error(dlogits, shifted_dlogits) <= EXACT_TOL
    # by hand: log(e^0 + e^1 + e^-2) − 0
    assert loss == pytest.approx(math.log(1 + math.e + math.exp(-2)), rel=EXACT_TOL)


# ---------------------------------------------------- clipping by the global norm


def test_clip_gradients_matches_torch_clip_grad_norm_and_leaves_its_input_alone():
    rng = np.random.default_rng(12)
    grads = {"U": rng.normal(size=(4, 3)), "W": rng.normal(size=(4, 4)), "b": rng.normal(size=4)}
    before = {k: v.copy() for k, v in grads.items()}
    clipped, norm = bptt.clip_gradients(grads, 0.5)

    tensors = [torch.zeros(v.shape, dtype=F64, requires_grad=True) for v in grads.values()]
    for tensor, g in zip(tensors, grads.values(), strict=True):
        tensor.grad = torch.tensor(g)
    expected_norm = torch.nn.utils.clip_grad_norm_(tensors, 0.5)
    assert isinstance(norm, float) and norm == pytest.approx(expected_norm.item(), rel=1e-12)
    for name, tensor in zip(grads, tensors, strict=True):
        # torch divides by (norm + 1e-6); the course scales by exactly τ / norm
        assert rel_error(clipped[name], tensor.grad.numpy()) <= 1e-5
        assert np.array_equal(grads[name], before[name])
    total = math.sqrt(sum(float((g * g).sum()) for g in clipped.values()))
    assert total == pytest.approx(0.5, rel=1e-12)


def test_clip_gradients_keeps_small_and_zero_gradients_and_rejects_a_bad_threshold():
    small = {"w": np.array([0.6, 0.8])}  # norm exactly 1
    clipped, norm = bptt.clip_gradients(small, 1.0)
    assert norm == 1.0 and np.array_equal(clipped["w"], small["w"])
    zeros, norm = bptt.clip_gradients({"w": np.zeros(3)}, 1.0)
    assert norm == 0.0 and np.array_equal(zeros["w"], np.zeros(3))
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="max_norm"):
            bptt.clip_gradients(small, bad)


# ---------------------------------------------------- bad input is named


def test_rnn_backward_rejects_upstream_gradient_of_the_wrong_length():
    _, cache = ref.rnn_forward(
        np.zeros((4, 2, 3)), np.zeros((2, 5)), np.zeros((5, 3)), np.zeros((5, 5)), np.zeros(5)
    )
    with pytest.raises(
        ValueError, match=r"dhs: expected shape \(T, B, H\) = \(4, 2, 5\), got \(3, 2, 5\)"
    ):
        bptt.rnn_backward(np.zeros((3, 2, 5)), cache)


def test_softmax_cross_entropy_rejects_bad_targets_and_masks():
    logits = np.zeros((2, 1, 3))
    with pytest.raises(ValueError, match=r"y: expected integer classes in \[0, 3\)"):
        bptt.softmax_cross_entropy(logits, np.array([[0], [3]]))
    with pytest.raises(ValueError, match=r"y: expected integer classes"):
        bptt.softmax_cross_entropy(logits, np.array([[0.0], [1.0]]))
    with pytest.raises(ValueError, match="mask: expected only 0 and 1"):
        bptt.softmax_cross_entropy(logits, np.array([[0], [1]]), np.array([[1], [0.5]]))
    with pytest.raises(ValueError, match=r"mask: expected shape \(T, B\) = \(2, 1\), got \(1, 2\)"):
        bptt.softmax_cross_entropy(logits, np.array([[0], [1]]), np.array([[1, 0]]))
