r"""The GRU in NumPy, PyTorch's convention: one step forward and backward.

This module holds answers to assignment 6: one GRU step forward and backward, and the
backward pass through a whole sequence. The forwards return ``(h, cache)`` and the
backwards take ``(dh, cache)``, as in :mod:`rnnkit.reference`.
``tests/test_answers_ch06_gru.py`` holds them against ``torch.nn.GRUCell``, torch autograd
and central differences.

Gate blocks r, z, n (U (3H, I), W (3H, H)), and two biases b_ih, b_hh (3H,) because r
multiplies only the recurrent half of the candidate's pre-activation:

    r = σ(U_r x + b_ir + W_r h + b_hr),   z = σ(U_z x + b_iz + W_z h + b_hz)
    n = tanh(U_n x + b_in + r ⊙ (W_n h + b_hn)),   h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}

z keeps the old state here; texts that write h_t = (1 − z) ⊙ h_{t-1} + z ⊙ n have the
same model with z ↦ 1 − z (negate the z rows of U, W and both biases).
"""

import numpy as np

from rnnkit.reference import _check_shapes, _check_steps, _sigmoid

ASSIGNED_IN = "ch06_gru"


def gru_step_forward(
    x: np.ndarray,
    h_prev: np.ndarray,
    U: np.ndarray,
    W: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
) -> tuple[np.ndarray, tuple]:
    """One GRU step in PyTorch's convention (z keeps the old state):

    r = σ(U_r x + b_ir + W_r h + b_hr),   z = σ(U_z x + b_iz + W_z h + b_hz)
    n = tanh(U_n x + b_in + r ⊙ (W_n h + b_hn)),   h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}

    x: (B, I) input x_t;  h_prev: (B, H) state h_{t-1}
    U: (3H, I), W: (3H, H): gate blocks in the order r, z, n
    b_ih, b_hh: (3H,) input and recurrent biases, kept apart because r scales b_hn only
    Returns h: (B, H) and the cache gru_step_backward needs.
    """
    _check_shapes(
        x=(x, "B I"),
        h_prev=(h_prev, "B H"),
        U=(U, "3H I"),
        W=(W, "3H H"),
        b_ih=(b_ih, "3H"),
        b_hh=(b_hh, "3H"),
    )
    ax_r, ax_z, ax_n = np.split(x @ U.T + b_ih, 3, axis=1)
    ah_r, ah_z, ah_n = np.split(h_prev @ W.T + b_hh, 3, axis=1)
    r, z = _sigmoid(ax_r + ah_r), _sigmoid(ax_z + ah_z)
    n = np.tanh(ax_n + r * ah_n)
    h = (1.0 - z) * n + z * h_prev
    return h, (x, h_prev, U, W, r, z, n, ah_n)


def gru_step_backward(
    dh: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of one GRU step.

        dn = dh ⊙ (1 − z),  dz = dh ⊙ (h_{t-1} − n),  h_{t-1} also gets dh ⊙ z directly
        δ_n = dn ⊙ (1 − n²),  dr = δ_n ⊙ (W_n h + b_hn)
        the recurrent half of n's pre-activation gets r ⊙ δ_n, the input half δ_n

    dh: (B, H) ∂L/∂h_t
    cache: from gru_step_forward
    Returns dx (B, I), dh_prev (B, H), dU (3H, I), dW (3H, H), db_ih (3H,), db_hh (3H,).
    """
    x, h_prev, U, W, r, z, n, ah_n = cache
    _check_shapes(h_prev=(h_prev, "B H"), dh=(dh, "B H"))
    dn, dz = dh * (1.0 - z), dh * (h_prev - n)
    da_n = dn * (1.0 - n**2)
    da_r, da_z = da_n * ah_n * r * (1.0 - r), dz * z * (1.0 - z)
    dax = np.concatenate([da_r, da_z, da_n], axis=1)
    dah = np.concatenate([da_r, da_z, da_n * r], axis=1)
    dh_prev = dh * z + dah @ W
    return dax @ U, dh_prev, dax.T @ x, dah.T @ h_prev, dax.sum(axis=0), dah.sum(axis=0)


def gru_forward(
    xs: np.ndarray,
    h0: np.ndarray,
    U: np.ndarray,
    W: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
) -> tuple[np.ndarray, list[tuple]]:
    """Unroll the GRU over a sequence with gru_step_forward.

    xs: (T, B, I) inputs, time-major;  h0: (B, H) initial state
    U: (3H, I), W: (3H, H), b_ih, b_hh: (3H,) as in gru_step_forward
    Returns hs: (T, B, H) with hs[t] = h_{t+1}, and the per-step caches.
    """
    _check_shapes(xs=(xs, "T B I"), h0=(h0, "B H"))
    hs, caches, h = [], [], h0
    for x in xs:
        h, cache = gru_step_forward(x, h, U, W, b_ih, b_hh)
        hs.append(h)
        caches.append(cache)
    return np.stack(hs), caches


def gru_backward(
    dhs: np.ndarray, caches: list[tuple]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagation through time for the GRU, walked from t = T down to 1.

        g_t = dhs[t] + ∂L/∂h_t through step t + 1 (zero at the last step)

    dhs: (T, B, H) ∂L/∂h_t through the outputs only (not through later steps)
    caches: from gru_forward
    Returns dxs (T, B, I), dh0 (B, H), dU (3H, I), dW (3H, H), db_ih (3H,), db_hh (3H,),
    the weight gradients summed over every step that shares them.
    """
    _check_steps(dhs, caches)
    x0, _, U, W = caches[0][:4]
    dxs = np.empty((len(caches), *x0.shape))
    grads = [np.zeros(U.shape), np.zeros(W.shape), np.zeros(len(W)), np.zeros(len(W))]
    g_from_later = np.zeros_like(dhs[0])  # the last state feeds no later step
    for t in reversed(range(len(caches))):
        dxs[t], g_from_later, *step_grads = gru_step_backward(dhs[t] + g_from_later, caches[t])
        for total, g in zip(grads, step_grads, strict=True):
            total += g
    return dxs, g_from_later, *grads
