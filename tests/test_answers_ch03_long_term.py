"""rnnkit/answers/ch03_long_term.py against autograd and NumPy's least squares."""

import numpy as np
import pytest
import torch

from rnnkit.answers.ch03_long_term import ridge_readout, singular_value_bound, state_jacobian
from rnnkit.longterm import shift_like


def _tanh_states(W, T, seed):
    # h_0 … h_T of h_t = tanh(U x_t + W h_{t-1}) from a random h_0, in float64
    rng = np.random.default_rng(seed)
    H = W.shape[0]
    U, xs = rng.standard_normal((H, 2)), rng.standard_normal((T, 2))
    hs = [np.tanh(rng.standard_normal(H))]
    for x in xs:
        hs.append(np.tanh(U @ x + W @ hs[-1]))
    return np.array(hs), U, xs


@pytest.mark.parametrize("k", [0, 3, 7])
def test_state_jacobian_matches_autograd(k):
    rng = np.random.default_rng(0)
    W = rng.standard_normal((5, 5)) / 2
    hs, U, xs = _tanh_states(W, 7, seed=1)
    h_k = torch.tensor(hs[k], requires_grad=True)

    def h_T(h):
        for x in xs[k:]:
            h = torch.tanh(torch.tensor(U @ x) + torch.tensor(W) @ h)
        return h

    expected = torch.autograd.functional.jacobian(h_T, h_k).numpy()
    assert np.allclose(state_jacobian(W, hs, k), expected, rtol=1e-10, atol=1e-12)


def test_singular_value_bound_holds_and_is_below_the_crude_bound():
    rng = np.random.default_rng(2)
    for W in (rng.standard_normal((6, 6)), shift_like(6, 0.9).double().numpy()):
        hs, _, _ = _tanh_states(W, 12, seed=3)
        sigma = np.linalg.norm(W, 2)
        for k in range(12):
            true = np.linalg.norm(state_jacobian(W, hs, k), 2)
            bound = singular_value_bound(W, hs, k)
            assert true <= bound * (1 + 1e-12) <= sigma ** (12 - k) * (1 + 1e-12)


def test_singular_value_bound_by_hand():
    W = np.diag([2.0, 0.5])
    hs = np.array([[0.0, 0.0], [0.5, 0.0], [0.0, 0.9]])  # factors max(1 - h²) = 1, 1
    assert singular_value_bound(W, hs, 0) == pytest.approx(4.0)
    hs[2] = [0.6, 0.8]  # 1 - h² = 0.64, 0.36
    assert singular_value_bound(W, hs, 1) == pytest.approx(0.64 * 2.0)
    assert singular_value_bound(W, hs, 2) == 1.0


def test_ridge_readout_matches_augmented_least_squares_and_zeroes_the_gradient():
    rng = np.random.default_rng(4)
    S, Y, lam = rng.standard_normal((40, 6)), rng.standard_normal((40, 3)), 0.3
    V = ridge_readout(S, Y, lam)
    A = np.vstack([S, np.sqrt(lam) * np.eye(6)])
    expected = np.linalg.lstsq(A, np.vstack([Y, np.zeros((6, 3))]), rcond=None)[0]
    assert np.allclose(V, expected, atol=1e-12)
    V_t = torch.tensor(V, requires_grad=True)
    loss = ((torch.tensor(S) @ V_t - torch.tensor(Y)) ** 2).sum() + lam * (V_t**2).sum()
    loss.backward()
    assert np.abs(V_t.grad.numpy()).max() < 1e-10


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="k must be"):
        state_jacobian(np.eye(2), np.zeros((3, 2)), 5)
    with pytest.raises(ValueError, match="lam must be positive"):
        ridge_readout(np.zeros((3, 2)), np.zeros((3, 1)), 0.0)
