r"""The LSTM in NumPy: one step forward and backward, and backpropagation through time.

This module holds the answers to assignment 4: one LSTM step forward and its backward
pass, the sequence backward ``lstm_backward`` (``lstm_forward`` unrolls the step, and the
assignment gives it), the loss and gradients of an LSTM with a linear readout on the adding
problem, and the training loop that drives it with Adam. Each forward returns
``(out, cache)`` and each backward takes ``(dout..., cache)``, as in :mod:`rnnkit.reference`.
``tests/test_answers_ch04_lstm.py`` holds every function here against ``torch.nn.LSTMCell``
/ ``torch.nn.LSTM``, torch autograd and central differences, and checks that the training
loop learns. Everything is float64.

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
from rnnkit.tasks import adding_problem

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


# ------------------------------------------------------------- the adding problem

PARAM_NAMES = ("U", "W", "b", "V", "b_y")


def adding_loss_and_grads(
    params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, lengths: np.ndarray
) -> tuple[float, dict[str, np.ndarray]]:
    """Mean squared error of an LSTM with a linear readout, and the gradient of every weight.

    The LSTM reads x from h_0 = c_0 = 0; the prediction for sequence n is V h + b_y at its
    own last step, h = hs[lengths[n] - 1, n]; steps after it (padding) do not count.

    params: U (4H, 2), W (4H, H), b (4H,), V (1, H), b_y (1,)
    x: (T, B, 2) from the adding problem, float64;  y: (B,) targets;  lengths: (B,) ints
    Returns loss = mean_n (pred_n - y_n)^2 as a float, and a dict of the gradients of the
    loss by parameter name, each of its parameter's shape.
    """
    U, W, b, V, b_y = (params[k] for k in PARAM_NAMES)
    _check_shapes(x=(x, "T B I"), y=(y, "B"), lengths=(lengths, "B"), V=(V, "1 H"), b_y=(b_y, "1"))
    B, H = x.shape[1], W.shape[1]
    zeros = np.zeros((B, H))
    hs, caches = lstm_forward(x, zeros, zeros, U, W, b)
    last = hs[lengths - 1, np.arange(B)]  # (B, H), each sequence at its own end
    error = last @ V[0] + b_y[0] - y
    dpred = 2.0 * error / B
    # only the read-out steps receive gradient from the loss; BPTT carries it further back
    dhs = np.zeros_like(hs)
    dhs[lengths - 1, np.arange(B)] = dpred[:, None] * V
    _, _, _, dU, dW, db = lstm_backward(dhs, caches)
    grads = {"U": dU, "W": dW, "b": db, "V": (dpred @ last)[None], "b_y": np.array([dpred.sum()])}
    return float(np.mean(error**2)), grads


def adam_update(
    params: dict[str, np.ndarray],
    grads: dict[str, np.ndarray],
    state: dict,
    lr: float,
    clip: float = 1.0,
) -> float:
    """One Adam step (β = 0.9, 0.999, ε = 1e-8) on the global-norm-clipped gradients.

    params, grads: arrays by name (updated in place: params);  state: {} before the first
    step, then kept by this function;  lr: the step size;  clip: the largest global norm.
    Returns the global norm of grads before clipping.
    """
    norm = float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))
    scale = min(1.0, clip / norm) if norm > 0 else 1.0
    state["t"] = t = state.get("t", 0) + 1
    for name, g in grads.items():
        m, v = state.setdefault(name, (np.zeros_like(g), np.zeros_like(g)))
        m = 0.9 * m + 0.1 * scale * g
        v = 0.999 * v + 0.001 * (scale * g) ** 2
        state[name] = (m, v)
        params[name] -= lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return norm


def adding_batch(batch_size: int, T: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """A fresh batch of :func:`rnnkit.tasks.adding_problem` in float64 NumPy, seeded by rng.

    Returns x (T_max, B, 2), y (B,) and lengths (B,) int64.
    """
    x, y, lengths = adding_problem(batch_size, T, int(rng.integers(2**31)))
    return x.double().numpy(), y.double().numpy(), lengths.numpy()


def init_adding_lstm(hidden_size: int, forget_bias: float, rng: np.random.Generator) -> dict:
    """Weights for adding_loss_and_grads: U, W, V uniform in ±1/√H as torch.nn.LSTM draws
    them, zero biases except b_f = forget_bias on the forget block (rows H:2H of b)."""
    H, k = hidden_size, 1.0 / np.sqrt(hidden_size)
    params = {
        "U": rng.uniform(-k, k, (4 * H, 2)),
        "W": rng.uniform(-k, k, (4 * H, H)),
        "b": np.zeros(4 * H),
        "V": rng.uniform(-k, k, (1, H)),
        "b_y": np.zeros(1),
    }
    params["b"][H : 2 * H] = forget_bias
    return params


def train_adding_lstm(
    T: int,
    hidden_size: int,
    steps: int,
    batch_size: int = 32,
    lr: float = 0.01,
    forget_bias: float = 5.0,
    seed: int = 0,
) -> tuple[dict[str, np.ndarray], list[float]]:
    """Train the LSTM of adding_loss_and_grads on fresh batches with Adam, clipped at 1.

    T: minimal sequence length;  hidden_size: H;  steps: updates;  batch_size: B;
    lr: Adam's step size;  forget_bias: the initial b_f;  seed: seeds weights and batches.
    Returns the trained params and the training loss of every step.
    """
    rng = np.random.default_rng(seed)
    params, state, losses = init_adding_lstm(hidden_size, forget_bias, rng), {}, []
    for _ in range(steps):
        loss, grads = adding_loss_and_grads(params, *adding_batch(batch_size, T, rng))
        adam_update(params, grads, state, lr)
        losses.append(loss)
    return params, losses
