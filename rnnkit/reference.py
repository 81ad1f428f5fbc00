r"""NumPy reference: every recurrent layer of the course with its backward pass by hand.

Each layer comes as a pair: ``*_forward(...)`` returns ``(out, cache)`` and
``*_backward(dout, cache)`` returns the gradient of a scalar loss with respect to every
input, given ``dout``, the gradient with respect to ``out``. Nothing here imports torch:
the tests hold these functions against torch autograd and finite differences.

Notation (CONTRIBUTING.md). Maths uses column vectors; code keeps the batch in rows, so
``U x_t`` is written ``x @ U.T`` and a weight gradient ``Σ δ x^T`` becomes ``da.T @ x``
(the sum over the batch comes with the matrix product).

Simple RNN, for t = 1 … T, with h_0 given:

    a_t = U x_t + W h_{t-1} + b          U (H, I), W (H, H), b (H,)
    h_t = tanh(a_t)
    o_t = V h_t + c                      V (K, H), c (K,)
    ŷ_t = softmax(o_t),   L = Σ_t L_t,   L_t = −log ŷ_t[y_t]

Backpropagation through time. Write g_t = ∂L/∂h_t and δ_t = ∂L/∂a_t. The state h_t
reaches the loss along two paths, through its own output o_t and through the next
step's pre-activation a_{t+1} = … + W h_t, so

    ∂L/∂o_t = ŷ_t − e_{y_t}                           (e_k: the one-hot vector of class k)
    g_t     = V^T ∂L/∂o_t + W^T δ_{t+1},              δ_{T+1} = 0
    δ_t     = (1 − h_t ⊙ h_t) ⊙ g_t                   (tanh' = 1 − tanh²)

and the shared weights collect one term from every step:

    ∂L/∂U = Σ_t δ_t x_t^T      ∂L/∂W = Σ_t δ_t h_{t-1}^T      ∂L/∂b = Σ_t δ_t
    ∂L/∂V = Σ_t (∂L/∂o_t) h_t^T                              ∂L/∂c = Σ_t ∂L/∂o_t

``rnn_backward`` runs the second line backwards in time: the ``dhs[t]`` it receives is
the output path V^T ∂L/∂o_t, and ``rnn_step_backward`` returns the other one, W^T δ_t,
as ``dh_prev``. The lecture's delta notation is the same recursion written per unit:
its w_ih is ``U[h, i]``, its v_jh is ``W[h, j]``, its z_h^t is ``a_t[h]``.

LSTM (gate blocks of U (4H, I), W (4H, H), b (4H,) in the order i, f, g, o):

    i = σ(a_i),  f = σ(a_f),  g = tanh(a_g),  o = σ(a_o),   a = U x_t + W h_{t-1} + b
    c_t = f ⊙ c_{t-1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)

Coupled-gate LSTM: as the LSTM with f = 1 − i; blocks i, g, o; U (3H, I).

GRU, PyTorch's convention (blocks r, z, n; two biases because r multiplies only the
recurrent half of the candidate's pre-activation):

    r = σ(U_r x + b_ir + W_r h + b_hr),   z = σ(U_z x + b_iz + W_z h + b_hz)
    n = tanh(U_n x + b_in + r ⊙ (W_n h + b_hn)),   h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}

Sequences are time-major: ``x`` is (T, B, I) and ``hs[t]`` holds h_{t+1}, the state
after reading ``x[t]`` (code counts from 0, the maths from 1).
"""

import numpy as np

# ------------------------------------------------------------------ shape checks


def _check_shapes(**named: tuple[np.ndarray, str]) -> None:
    """Raise ValueError unless each array matches its pattern, such as "B I" or "4H H".

    A letter takes its size from the first array that uses it, so sizes must agree
    across arguments; a number before a letter multiplies it (stacked gate blocks).
    """
    sizes: dict[str, int] = {}
    for name, (array, pattern) in named.items():
        tokens = pattern.split()
        shape = np.shape(array)
        if len(shape) != len(tokens):
            raise ValueError(f"{name}: expected shape ({', '.join(tokens)}), got {shape}")
        expected = []
        for token, n in zip(tokens, shape, strict=True):
            k = int(token[:-1] or 1)
            expected.append(k * sizes.setdefault(token[-1], n // k))
        if tuple(expected) != shape:
            raise ValueError(
                f"{name}: expected shape ({', '.join(tokens)}) = {tuple(expected)}, got {shape}"
            )


def _check_steps(dhs: np.ndarray, cache: list[tuple]) -> None:
    """Raise ValueError unless dhs is (T, B, H) for the T steps stored in a sequence cache."""
    h_prev = cache[0][1]  # every step cache stores h_prev second
    expected = (len(cache), *h_prev.shape)
    if np.shape(dhs) != expected:
        raise ValueError(f"dhs: expected shape (T, B, H) = {expected}, got {np.shape(dhs)}")


def _sigmoid(a: np.ndarray) -> np.ndarray:
    # exp(-log(1 + e^{-a})) never overflows and stays accurate for large |a|
    return np.exp(-np.logaddexp(0.0, -a))


# ------------------------------------------------------------------ simple RNN


def rnn_step_forward(
    x: np.ndarray, h_prev: np.ndarray, U: np.ndarray, W: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, tuple]:
    """One step of the simple RNN: a_t = U x_t + W h_{t-1} + b, h_t = tanh(a_t).

    x: (B, I) input x_t;  h_prev: (B, H) state h_{t-1}
    U: (H, I) input-to-hidden;  W: (H, H) hidden-to-hidden;  b: (H,) bias
    Returns h: (B, H) and the cache rnn_step_backward needs.
    """
    _check_shapes(x=(x, "B I"), h_prev=(h_prev, "B H"), U=(U, "H I"), W=(W, "H H"), b=(b, "H"))
    a = x @ U.T + h_prev @ W.T + b
    h = np.tanh(a)
    return h, (x, h_prev, U, W, h)


def rnn_step_backward(
    dh: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of one RNN step: δ = (1 − h²) ⊙ dh, then each input's share of δ.

    dh: (B, H) ∂L/∂h_t, from every path that uses h_t
    cache: from rnn_step_forward
    Returns dx (B, I), dh_prev (B, H) = δ W, dU (H, I) = δ^T x, dW (H, H) = δ^T h_prev,
    db (H,) = δ summed over the batch.
    """
    x, h_prev, U, W, h = cache
    _check_shapes(h=(h, "B H"), dh=(dh, "B H"))
    da = (1.0 - h * h) * dh
    return da @ U, da @ W, da.T @ x, da.T @ h_prev, da.sum(axis=0)


def rnn_forward(
    x: np.ndarray, h0: np.ndarray, U: np.ndarray, W: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, list[tuple]]:
    """Unroll the simple RNN over a sequence: h_t = tanh(U x_t + W h_{t-1} + b).

    x: (T, B, I) inputs, time-major;  h0: (B, H) initial state
    U: (H, I);  W: (H, H);  b: (H,)
    Returns hs: (T, B, H) with hs[t] = h_{t+1}, and the per-step caches.
    """
    _check_shapes(x=(x, "T B I"), h0=(h0, "B H"), U=(U, "H I"), W=(W, "H H"), b=(b, "H"))
    hs, cache, h = [], [], h0
    for x_t in x:
        h, step_cache = rnn_step_forward(x_t, h, U, W, b)
        hs.append(h)
        cache.append(step_cache)
    return np.stack(hs), cache


def rnn_backward(
    dhs: np.ndarray, cache: list[tuple]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagation through time: g_t = dhs[t] + W^T δ_{t+1}, walked from t = T down to 1.

    dhs: (T, B, H) ∂L/∂h_t through the outputs only (not through later steps)
    cache: from rnn_forward
    Returns dx (T, B, I), dh0 (B, H), dU (H, I), dW (H, H), db (H,), the weight
    gradients summed over every step that shares them.
    """
    _check_steps(dhs, cache)
    x0, _, U, W, _ = cache[0]
    dx = np.empty((len(cache), *x0.shape))
    dU, dW, db = np.zeros_like(U), np.zeros_like(W), np.zeros(W.shape[0])
    dh_from_next = np.zeros_like(dhs[0])  # δ_{T+1} = 0: the last state feeds no later step
    for t in reversed(range(len(cache))):
        dx[t], dh_from_next, dU_t, dW_t, db_t = rnn_step_backward(dhs[t] + dh_from_next, cache[t])
        dU += dU_t
        dW += dW_t
        db += db_t
    return dx, dh_from_next, dU, dW, db


# ------------------------------------------------------------------ LSTM


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


# ------------------------------------------------------------------ coupled-gate LSTM


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


# ------------------------------------------------------------------ GRU


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


# ------------------------------------------------------------------ output layer and loss


def temporal_affine_forward(
    h: np.ndarray, V: np.ndarray, c: np.ndarray
) -> tuple[np.ndarray, tuple]:
    """Output logits at every step: o_t = V h_t + c.

    h: (T, B, H) hidden states;  V: (K, H) output weights;  c: (K,) output bias
    Returns logits: (T, B, K) and the cache temporal_affine_backward needs.
    """
    _check_shapes(h=(h, "T B H"), V=(V, "K H"), c=(c, "K"))
    return h @ V.T + c, (h, V)


def temporal_affine_backward(
    dlogits: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of the output layer: dh_t = V^T do_t, dV = Σ_t do_t h_t^T, dc = Σ_t do_t.

    dlogits: (T, B, K) ∂L/∂o_t
    cache: from temporal_affine_forward
    Returns dh (T, B, H), dV (K, H), dc (K,), sums running over time and batch.
    """
    h, V = cache
    _check_shapes(h=(h, "T B H"), V=(V, "K H"), dlogits=(dlogits, "T B K"))
    dV = np.einsum("tbk,tbh->kh", dlogits, h)
    return dlogits @ V, dV, dlogits.sum(axis=(0, 1))


def softmax_cross_entropy(
    logits: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """L = Σ_t Σ_b mask[t, b] · (−log softmax(o_t)[y_t]), and its gradient ŷ_t − e_{y_t}.

    The loss is summed, not averaged, over time and batch, as L = Σ_t L_t in the text
    (torch's cross_entropy with reduction="sum"); divide by the count yourself for a mean.

    logits: (T, B, K) o_t for every step and sequence
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
