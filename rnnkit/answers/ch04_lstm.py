r"""The LSTM in NumPy: one step forward and backward, and backpropagation through time.

This module holds the answers to assignment 4 (one LSTM step forward and its backward
pass); the sequence versions ``lstm_forward`` and ``lstm_backward`` unroll them. Each
forward returns ``(out, cache)`` and each backward takes ``(dout..., cache)``, as in
:mod:`rnnkit.reference`. ``tests/test_answers_ch04_lstm.py`` holds every function here
against ``torch.nn.LSTMCell`` / ``torch.nn.LSTM``, torch autograd and central differences.

One step, with the gate blocks of U (4H, I), W (4H, H), b (4H,) in the order i, f, g, o
(CONTRIBUTING.md's notation; b is torch's bias_ih + bias_hh):

    a = U x_t + W h_{t-1} + b,   [a_i; a_f; a_g; a_o] = a
    i = σ(a_i),  f = σ(a_f),  g = tanh(a_g),  o = σ(a_o)
    c_t = f ⊙ c_{t-1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)

In code the batch is in rows, so U x_t is ``x @ U.T``. Sequences are time-major: ``x`` is
(T, B, I) and ``hs[t]`` holds h_{t+1}, the state after reading ``x[t]``.
"""

import numpy as np

from rnnkit.reference import _check_shapes, _check_steps, _sigmoid

ASSIGNED_IN = "ch04_lstm"


def lstm_step_forward(
    x: np.ndarray,
    h_prev: np.ndarray,
    c_prev: np.ndarray,
    U: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple]:
    """One LSTM step: c_t = f ⊙ c_{t-1} + i ⊙ g, h_t = o ⊙ tanh(c_t).

    x: (B, I) input x_t;  h_prev, c_prev: (B, H) state at t-1
    U: (4H, I), W: (4H, H), b: (4H,): gate blocks in the order i, f, g, o
    Returns (h, c): (B, H) each, and the cache lstm_step_backward needs.
    """
    _check_shapes(
        x=(x, "B I"),
        h_prev=(h_prev, "B H"),
        c_prev=(c_prev, "B H"),
        U=(U, "4H I"),
        W=(W, "4H H"),
        b=(b, "4H"),
    )
    a_i, a_f, a_g, a_o = np.split(x @ U.T + h_prev @ W.T + b, 4, axis=1)
    i, f, g, o = _sigmoid(a_i), _sigmoid(a_f), np.tanh(a_g), _sigmoid(a_o)
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    return (h, c), (x, h_prev, c_prev, U, W, i, f, g, o, c)


def lstm_step_backward(
    dh: np.ndarray, dc: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of one LSTM step.

    The cell state gathers dc and what flows back through h_t = o ⊙ tanh(c_t); each
    gate then gets the other factor of its product, times its own derivative
    (σ' = σ(1 − σ), tanh' = 1 − tanh²):

        dc_t ← dc + dh ⊙ o ⊙ (1 − tanh² c_t)
        do = dh ⊙ tanh c_t,  di = dc_t ⊙ g,  df = dc_t ⊙ c_{t-1},  dg = dc_t ⊙ i
        dc_{t-1} = dc_t ⊙ f

    dh, dc: (B, H) ∂L/∂h_t and ∂L/∂c_t from the layers and steps that use them
    cache: from lstm_step_forward
    Returns dx (B, I), dh_prev (B, H), dc_prev (B, H), dU (4H, I), dW (4H, H), db (4H,).
    """
    x, h_prev, c_prev, U, W, i, f, g, o, c = cache
    _check_shapes(c=(c, "B H"), dh=(dh, "B H"), dc=(dc, "B H"))
    tanh_c = np.tanh(c)
    dc = dc + dh * o * (1.0 - tanh_c**2)
    di, df, dg, do = dc * g, dc * c_prev, dc * i, dh * tanh_c
    da = np.concatenate(
        [di * i * (1.0 - i), df * f * (1.0 - f), dg * (1.0 - g**2), do * o * (1.0 - o)], axis=1
    )
    return da @ U, da @ W, dc * f, da.T @ x, da.T @ h_prev, da.sum(axis=0)


def lstm_forward(
    x: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    U: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
) -> tuple[np.ndarray, list[tuple]]:
    """Unroll the LSTM over a sequence.

    x: (T, B, I) inputs, time-major;  h0, c0: (B, H) initial state
    U: (4H, I), W: (4H, H), b: (4H,): gate blocks in the order i, f, g, o
    Returns hs: (T, B, H) with hs[t] = h_{t+1}, and the per-step caches.
    """
    _check_shapes(
        x=(x, "T B I"), h0=(h0, "B H"), c0=(c0, "B H"), U=(U, "4H I"), W=(W, "4H H"), b=(b, "4H")
    )
    hs, cache, h, c = [], [], h0, c0
    for x_t in x:
        (h, c), step_cache = lstm_step_forward(x_t, h, c, U, W, b)
        hs.append(h)
        cache.append(step_cache)
    return np.stack(hs), cache


def lstm_backward(
    dhs: np.ndarray, cache: list[tuple]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagation through time for the LSTM; h and c both carry gradient backwards.

    dhs: (T, B, H) ∂L/∂h_t through the outputs only (not through later steps)
    cache: from lstm_forward
    Returns dx (T, B, I), dh0 (B, H), dc0 (B, H), dU (4H, I), dW (4H, H), db (4H,).
    """
    _check_steps(dhs, cache)
    x0, _, _, U, W, *_ = cache[0]
    dx = np.empty((len(cache), *x0.shape))
    dU, dW, db = np.zeros_like(U), np.zeros_like(W), np.zeros(W.shape[0])
    # the last step's h and c feed no later step
    dh_from_next, dc_from_next = np.zeros_like(dhs[0]), np.zeros_like(dhs[0])
    for t in reversed(range(len(cache))):
        dx[t], dh_from_next, dc_from_next, dU_t, dW_t, db_t = lstm_step_backward(
            dhs[t] + dh_from_next, dc_from_next, cache[t]
        )
        dU += dU_t
        dW += dW_t
        db += db_t
    return dx, dh_from_next, dc_from_next, dU, dW, db
