r"""Backpropagation through time for the tanh RNN with a softmax output, in NumPy.

This module holds the answers to assignment 2: the gradient of softmax cross-entropy, the
backward pass of one RNN step and of a whole sequence with its output layer, and clipping
by the global norm. The forward passes it builds on (``rnn_step_forward``, ``rnn_forward``,
``temporal_affine_forward``) are in :mod:`rnnkit.reference`. ``tests/test_answers_ch02_bptt.py``
holds every function here against torch autograd and central differences.

The model, for t = 1 … T from a given h_0 (CONTRIBUTING.md's notation):

    a_t = U x_t + W h_{t-1} + b,   h_t = tanh(a_t),   ℓ_t = V h_t + b_y
    L = Σ_t L_t,   L_t = −log softmax(ℓ_t)[y_t]

Backward, with g_t = ∂L/∂h_t and δ_t = ∂L/∂a_t:

    ∂L/∂ℓ_t = softmax(ℓ_t) − e_{y_t}                 (e_k: the one-hot vector of class k)
    g_t     = V^T ∂L/∂ℓ_t + W^T δ_{t+1},             δ_{T+1} = 0
    δ_t     = (1 − h_t ⊙ h_t) ⊙ g_t
    ∂L/∂U = Σ_t δ_t x_t^T,  ∂L/∂W = Σ_t δ_t h_{t-1}^T,  ∂L/∂b = Σ_t δ_t,  ∂L/∂h_0 = W^T δ_1
    ∂L/∂V = Σ_t (∂L/∂ℓ_t) h_t^T,  ∂L/∂b_y = Σ_t ∂L/∂ℓ_t

In code the batch is in rows, so W^T δ is ``delta @ W`` and Σ_b δ h^T is ``delta.T @ h``.
"""

import numpy as np

from rnnkit.reference import _check_shapes, _check_steps, rnn_forward, temporal_affine_forward

ASSIGNED_IN = "ch02_bptt"


def softmax_cross_entropy(
    logits: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """L = Σ_t Σ_b mask[t, b] · (−log softmax(ℓ_t)[y_t]), and its gradient ŷ_t − e_{y_t}.

    The loss is summed, not averaged, over time and batch (torch's cross_entropy with
    reduction="sum"); divide by the count yourself for a mean.

    logits: (T, B, K) ℓ_t for every step and sequence
    y: (T, B) integer targets in [0, K)
    mask: (T, B) of 0/1, optional; 0 drops a (padded) step from the loss and its gradient
    Returns loss (float) and dlogits (T, B, K).
    """
    keep = np.ones(np.shape(y)) if mask is None else np.asarray(mask, dtype=float)
    _check_shapes(logits=(logits, "T B K"), y=(y, "T B"), mask=(keep, "T B"))
    K = logits.shape[-1]
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= K:
        raise ValueError(
            f"y: expected integer classes in [0, {K}), got {y.dtype} in [{y.min()}, {y.max()}]"
        )
    if not np.isin(keep, (0.0, 1.0)).all():
        raise ValueError(f"mask: expected only 0 and 1, got values {np.unique(keep)}")

    # subtracting the row maximum leaves softmax unchanged and keeps exp from overflowing
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    log_p_target = np.take_along_axis(log_p, y[..., None], axis=-1)[..., 0]
    loss = -(keep * log_p_target).sum()

    dlogits = np.exp(log_p) - np.eye(K)[y]
    return float(loss), dlogits * keep[..., None]


def rnn_step_backward(
    dh: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of one RNN step: δ = (1 − h²) ⊙ dh, then each input's share of δ.

    dh: (B, H) ∂L/∂h_t, from every path that uses h_t
    cache: (x, h_prev, U, W, h) from rnnkit.reference.rnn_step_forward
    Returns dx (B, I), dh_prev (B, H) = δ W, dU (H, I) = δ^T x, dW (H, H) = δ^T h_prev,
    db (H,) = δ summed over the batch.
    """
    x, h_prev, U, W, h = cache
    _check_shapes(h=(h, "B H"), dh=(dh, "B H"))
    delta = (1.0 - h * h) * dh
    return delta @ U, delta @ W, delta.T @ x, delta.T @ h_prev, delta.sum(axis=0)


def rnn_backward(
    dhs: np.ndarray, cache: list[tuple]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagation through time: g_t = dhs[t] + W^T δ_{t+1}, walked from t = T down to 1.

    dhs: (T, B, H) ∂L/∂h_t through the outputs only (not through later steps)
    cache: from rnnkit.reference.rnn_forward
    Returns dx (T, B, I), dh0 (B, H), dU (H, I), dW (H, H), db (H,), the weight
    gradients summed over every step that shares them.
    """
    _check_steps(dhs, cache)
    x0, _, U, W, _ = cache[0]
    dx = np.empty((len(cache), *x0.shape))
    dU, dW, db = np.zeros(U.shape), np.zeros(W.shape), np.zeros(len(W))
    g_from_later = np.zeros_like(dhs[0])  # δ_{T+1} = 0: the last state feeds no later step
    for t in reversed(range(len(cache))):
        dx[t], g_from_later, dU_t, dW_t, db_t = rnn_step_backward(dhs[t] + g_from_later, cache[t])
        dU += dU_t
        dW += dW_t
        db += db_t
    return dx, g_from_later, dU, dW, db


def temporal_affine_backward(
    dlogits: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of the output layer: dh_t = V^T dℓ_t, dV = Σ_t dℓ_t h_t^T, db_y = Σ_t dℓ_t.

    dlogits: (T, B, K) ∂L/∂ℓ_t
    cache: from rnnkit.reference.temporal_affine_forward
    Returns dh (T, B, H), dV (K, H), db_y (K,), sums running over time and batch.
    """
    h, V = cache
    _check_shapes(h=(h, "T B H"), V=(V, "K H"), dlogits=(dlogits, "T B K"))
    dV = np.einsum("tbk,tbh->kh", dlogits, h)
    return dlogits @ V, dV, dlogits.sum(axis=(0, 1))


def rnn_loss_and_grads(
    xs: np.ndarray, ys: np.ndarray, h0: np.ndarray, params: dict[str, np.ndarray]
) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
    """The summed cross-entropy of the tanh/softmax RNN over a sequence, and its gradients.

    xs: (T, B, I) inputs;  ys: (T, B) integer targets in [0, K);  h0: (B, H) initial state
    params: U (H, I), W (H, H), b (H,), V (K, H), b_y (K,)
    Returns loss (float, summed over time and batch); grads, a dict with the keys
    U, W, b, V, b_y and h0, each of its array's shape; and h_T (B, H), the last state.
    """
    hs, rnn_cache = rnn_forward(xs, h0, params["U"], params["W"], params["b"])
    logits, out_cache = temporal_affine_forward(hs, params["V"], params["b_y"])
    loss, dlogits = softmax_cross_entropy(logits, ys)
    dhs, dV, db_y = temporal_affine_backward(dlogits, out_cache)
    _, dh0, dU, dW, db = rnn_backward(dhs, rnn_cache)
    grads = {"U": dU, "W": dW, "b": db, "V": dV, "b_y": db_y, "h0": dh0}
    return loss, grads, hs[-1]


def clip_gradients(
    grads: dict[str, np.ndarray], max_norm: float
) -> tuple[dict[str, np.ndarray], float]:
    """Scale all gradients by min(1, max_norm / ‖g‖), g every array of grads stacked.

    grads: name -> array, any shapes;  max_norm: τ > 0
    Returns a new dict of scaled arrays (the inputs are left as they are) and ‖g‖ before
    clipping, as a float.
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm: expected a positive number, got {max_norm}")
    norm = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))
    scale = max_norm / norm if norm > max_norm else 1.0
    return {name: g * scale for name, g in grads.items()}, norm
