r"""The coupled-gate LSTM (CIFG) in NumPy: one step and a sequence, forward and backward.

This module holds the answers to assignment 5: one step of the coupled cell forward and
backward, and backpropagation through time over a sequence. The step forward returns
``((h, c), cache)`` and the backward takes ``(dh, dc, cache)``, as in
:mod:`rnnkit.reference`.
``tests/test_answers_ch05_coupled_lstm.py`` holds both against an LSTM whose forget gate
reads −(the input gate's pre-activation), torch autograd and central differences.

As the LSTM with the forget gate tied to the input gate, f = 1 − i; the gate blocks of
U (3H, I), W (3H, H), b (3H,) come in the order i, g, o:

    a = U x_t + W h_{t-1} + b,   [a_i; a_g; a_o] = a
    i = σ(a_i),  g = tanh(a_g),  o = σ(a_o)
    c_t = (1 − i) ⊙ c_{t-1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)
"""

import numpy as np

from rnnkit.reference import _check_shapes, _sigmoid

ASSIGNED_IN = "ch05_coupled_lstm"


def coupled_lstm_step_forward(
    x: np.ndarray,
    h_prev: np.ndarray,
    c_prev: np.ndarray,
    U: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple]:
    """One coupled-gate LSTM step: the forget gate is f = 1 − i, so

    c_t = (1 − i) ⊙ c_{t-1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)

    x: (B, I) input x_t;  h_prev, c_prev: (B, H) state at t-1
    U: (3H, I), W: (3H, H), b: (3H,): gate blocks in the order i, g, o
    Returns (h, c): (B, H) each, and the cache coupled_lstm_step_backward needs.
    """
    _check_shapes(
        x=(x, "B I"),
        h_prev=(h_prev, "B H"),
        c_prev=(c_prev, "B H"),
        U=(U, "3H I"),
        W=(W, "3H H"),
        b=(b, "3H"),
    )
    a_i, a_g, a_o = np.split(x @ U.T + h_prev @ W.T + b, 3, axis=1)
    i, g, o = _sigmoid(a_i), np.tanh(a_g), _sigmoid(a_o)
    c = (1.0 - i) * c_prev + i * g
    h = o * np.tanh(c)
    return (h, c), (x, h_prev, c_prev, U, W, i, g, o, c)


def coupled_lstm_step_backward(
    dh: np.ndarray, dc: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of one coupled-gate LSTM step.

    As the LSTM, except that i now opens the new content and closes the old one, so it
    collects both shares, ∂c_t/∂i = g − c_{t-1}:

        dc_t ← dc + dh ⊙ o ⊙ (1 − tanh² c_t)
        do = dh ⊙ tanh c_t,  di = dc_t ⊙ (g − c_{t-1}),  dg = dc_t ⊙ i
        dc_{t-1} = dc_t ⊙ (1 − i)

    dh, dc: (B, H) ∂L/∂h_t and ∂L/∂c_t
    cache: from coupled_lstm_step_forward
    Returns dx (B, I), dh_prev (B, H), dc_prev (B, H), dU (3H, I), dW (3H, H), db (3H,).
    """
    x, h_prev, c_prev, U, W, i, g, o, c = cache
    _check_shapes(c=(c, "B H"), dh=(dh, "B H"), dc=(dc, "B H"))
    tanh_c = np.tanh(c)
    dc = dc + dh * o * (1.0 - tanh_c**2)
    di, dg, do = dc * (g - c_prev), dc * i, dh * tanh_c
    da = np.concatenate([di * i * (1.0 - i), dg * (1.0 - g**2), do * o * (1.0 - o)], axis=1)
    return da @ U, da @ W, dc * (1.0 - i), da.T @ x, da.T @ h_prev, da.sum(axis=0)


def coupled_lstm_forward(
    xs: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    U: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
) -> tuple[np.ndarray, list]:
    """The coupled cell over a sequence, from the state (h0, c0).

    xs: (T, B, I);  h0, c0: (B, H);  U: (3H, I), W: (3H, H), b: (3H,), blocks i, g, o.
    Returns hs: (T, B, H), hs[t] the output after reading xs[t], and the list of the T
    step caches that coupled_lstm_backward needs.
    """
    hs, caches, h, c = [], [], h0, c0
    for x in xs:
        (h, c), cache = coupled_lstm_step_forward(x, h, c, U, W, b)
        hs.append(h)
        caches.append(cache)
    return np.stack(hs), caches


def coupled_lstm_backward(
    dhs: np.ndarray, caches: list
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagation through time for coupled_lstm_forward.

    Walks back from the last step; each step's h receives dhs[t] from the loss plus what
    flows back from step t + 1, and its c only what flows back along the cell.

    dhs: (T, B, H) ∂L/∂hs;  caches: from coupled_lstm_forward.
    Returns dxs (T, B, I), dh0 (B, H), dc0 (B, H), dU (3H, I), dW (3H, H), db (3H,).
    """
    dh, dc = np.zeros_like(dhs[0]), np.zeros_like(dhs[0])
    dxs, dU, dW, db = [], 0.0, 0.0, 0.0
    for t in reversed(range(len(caches))):
        dx, dh, dc, dU_t, dW_t, db_t = coupled_lstm_step_backward(dhs[t] + dh, dc, caches[t])
        dxs.append(dx)
        dU, dW, db = dU + dU_t, dW + dW_t, db + db_t
    return np.stack(dxs[::-1]), dh, dc, dU, dW, db
