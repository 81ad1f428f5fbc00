"""rnnkit/answers/ch01_closed_loop.py against eigenvalues found numerically, simulations of
the loop, torch.nn.RNN with copied weights, autograd and hand-worked sequences."""

import numpy as np
import pytest
import torch

from rnnkit.answers.ch01_closed_loop import (
    inhibition_window,
    latch_batch,
    latch_weights,
    parity_weights,
    rnn_logits,
    train_latch,
)
from rnnkit.circuits import LoopWeights, rest_jacobian, simulate_loop
from rnnkit.reference import rnn_forward

LOOPS = [
    LoopWeights(),
    LoopWeights(ee=1.5, ie=2.0, ii=0.5, leak=0.2),
    LoopWeights(ee=1.1, ie=1.0, ii=1.0, leak=0.5),
    LoopWeights(ee=1.9, ie=0.7, ii=0.3, leak=0.05),
]


def _radius(w: LoopWeights, ei: float) -> float:
    J = rest_jacobian(LoopWeights(**{**vars(w), "ei": ei}))
    return float(np.abs(np.linalg.eigvals(J)).max())


@pytest.mark.parametrize("w", LOOPS)
def test_inhibition_window_is_where_the_spectral_radius_of_j_is_below_one(w):
    lo, hi = inhibition_window(w)
    grid = np.linspace(0.0, 2 * hi, 4001)
    inside = np.array([_radius(w, ei) < 1.0 for ei in grid])
    stable, step = grid[inside], 1.001 * (grid[1] - grid[0])
    assert inside.sum() == np.ptp(np.flatnonzero(inside)) + 1  # one interval
    assert abs(stable.min() - lo) <= step and abs(stable.max() - hi) <= step
    assert _radius(w, lo) == pytest.approx(1.0, abs=1e-12)
    assert _radius(w, hi) == pytest.approx(1.0, abs=1e-12)


def test_below_the_window_a_pulse_latches_and_inside_it_fades():
    w = LoopWeights()
    lo, _ = inhibition_window(w)
    drive = np.zeros(600)
    drive[10:20] = 0.5
    below = simulate_loop(drive, LoopWeights(ei=0.8 * lo))
    inside = simulate_loop(drive, LoopWeights(ei=1.2 * lo))
    assert below[-1, 0] > 0.2 and inside[-1, 0] < 1e-3


def test_inhibition_window_names_the_range_it_needs():
    with pytest.raises(ValueError, match="1 < ee < 2"):
        inhibition_window(LoopWeights(ee=0.8))


def _logits_np(params, xs):
    hs, _ = rnn_forward(
        xs, np.zeros((xs.shape[1], params["W"].shape[0])), *(params[k] for k in ("U", "W", "b"))
    )
    return hs @ params["V"].T + params["b_y"]


def test_latch_weights_answer_every_step_of_random_sequences():
    x, y = latch_batch(64, 800, 0.02, seed=3)
    logits = _logits_np(latch_weights(), x.numpy())[..., 0]
    assert np.array_equal(logits > 0, y.numpy() == 1)


def test_parity_weights_track_the_parity_over_long_sequences():
    bits = np.random.default_rng(4).integers(0, 2, size=(2000, 16)).astype(np.float64)
    logits = _logits_np(parity_weights(), bits[..., None])[..., 0]
    assert np.array_equal(logits > 0, np.cumsum(bits, axis=0) % 2 == 1)


def test_latch_batch_labels_a_worked_sequence():
    x, y = latch_batch(200, 30, 0.2, seed=0)
    for b in range(200):
        state = 0.0
        for t in range(30):
            if x[t, b, 0]:
                state = 1.0
            elif x[t, b, 1]:
                state = 0.0
            assert y[t, b] == state
    assert x.dtype == y.dtype == torch.float64 and not (x[..., 0] * x[..., 1]).any()


def test_rnn_logits_match_torch_nn_rnn_and_its_gradients():
    torch.manual_seed(0)
    T, B, I, H, K = 6, 3, 2, 4, 3
    rnn = torch.nn.RNN(I, H, dtype=torch.float64)
    readout = torch.nn.Linear(H, K, dtype=torch.float64)
    params = {
        "U": rnn.weight_ih_l0.detach().clone().requires_grad_(),
        "W": rnn.weight_hh_l0.detach().clone().requires_grad_(),
        "b": (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach().clone().requires_grad_(),
        "V": readout.weight.detach().clone().requires_grad_(),
        "b_y": readout.bias.detach().clone().requires_grad_(),
    }
    x = torch.randn(T, B, I, dtype=torch.float64)
    want = readout(rnn(x)[0])
    got = rnn_logits(x, params)
    assert torch.allclose(got, want, atol=1e-12)
    weights = torch.randn(T, B, K, dtype=torch.float64)
    (want * weights).sum().backward()
    (got * weights).sum().backward()
    assert torch.allclose(params["W"].grad, rnn.weight_hh_l0.grad, atol=1e-12)
    assert torch.allclose(params["b"].grad, rnn.bias_hh_l0.grad, atol=1e-12)
    assert torch.allclose(params["V"].grad, readout.weight.grad, atol=1e-12)


def test_trained_latch_generalises_to_long_sparse_sequences_for_three_seeds():
    x, y = latch_batch(100, 1000, 0.01, seed=99)
    for seed in range(3):
        params = train_latch(rnn_logits, seed, steps=200)
        with torch.no_grad():
            accuracy = ((rnn_logits(x, params)[..., 0] > 0).double() == y).double().mean()
        assert accuracy >= 0.99
