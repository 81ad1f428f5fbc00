"""Answers to assignment 3 (long-term dependencies): the Jacobian of a tanh RNN's state
over many steps, a bound on its norm from singular values, and an echo state network's
ridge readout in closed form.

Instructor-only (see ``rnnkit/answers/__init__.py``).
"""

from __future__ import annotations

import numpy as np

ASSIGNED_IN = "ch03_long_term"


def _check_states(W: np.ndarray, hs: np.ndarray, k: int) -> int:
    """Raise ValueError on mismatched shapes or a k outside 0 … T; return T."""
    if W.ndim != 2 or W.shape[0] != W.shape[1] or hs.ndim != 2 or hs.shape[1] != W.shape[0]:
        raise ValueError(f"expected W (H, H) and hs (T+1, H), got {W.shape} and {hs.shape}")
    T = hs.shape[0] - 1
    if not 0 <= k <= T:
        raise ValueError(f"k must be in 0 … {T}, got {k}")
    return T


def state_jacobian(W: np.ndarray, hs: np.ndarray, k: int) -> np.ndarray:
    """∂h_T/∂h_k of the tanh RNN h_t = tanh(U x_t + W h_{t-1} + b).

    W: (H, H);  hs: (T+1, H), the states h_0 … h_T of one sequence;  k: 0 … T.
    Returns J_T ⋯ J_{k+1} with J_j = diag(1 − h_j²) W, (H, H); the identity for k = T.
    """
    T = _check_states(W, hs, k)
    J = np.eye(W.shape[0])
    for j in range(k + 1, T + 1):
        J = ((1.0 - hs[j] ** 2)[:, None] * W) @ J  # the newest Jacobian multiplies from the left
    return J


def singular_value_bound(W: np.ndarray, hs: np.ndarray, k: int) -> float:
    """∏_{j=k+1}^{T} max_i (1 − h_j[i]²) · σ_max(W), an upper bound on ‖∂h_T/∂h_k‖₂.

    ‖diag(d) W‖₂ ≤ ‖diag(d)‖₂ ‖W‖₂ = max_i |d_i| · σ_max(W), and the spectral norm of a
    product is at most the product of the norms.  W: (H, H);  hs: (T+1, H);  k: 0 … T.
    """
    T = _check_states(W, hs, k)
    sigma = np.linalg.norm(W, 2)
    return float(np.prod([(1.0 - hs[j] ** 2).max() * sigma for j in range(k + 1, T + 1)]))


def ridge_readout(S: np.ndarray, Y: np.ndarray, lam: float) -> np.ndarray:
    """The minimiser of ‖S V − Y‖² + λ‖V‖²: V = (SᵀS + λI)⁻¹ SᵀY.

    S: (N, F) states (with a column of ones for a bias);  Y: (N, K) targets;  lam: λ > 0.
    Returns V: (F, K). Setting the gradient 2Sᵀ(SV − Y) + 2λV to zero gives the formula;
    SᵀS + λI is positive definite, so the system has one solution.
    """
    if S.ndim != 2 or Y.ndim != 2 or S.shape[0] != Y.shape[0]:
        raise ValueError(f"expected S (N, F) and Y (N, K), got {S.shape} and {Y.shape}")
    if not lam > 0:
        raise ValueError(f"lam must be positive, got {lam}")
    return np.linalg.solve(S.T @ S + lam * np.eye(S.shape[1]), S.T @ Y)
