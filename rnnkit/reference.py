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
    ℓ_t = V h_t + b_y                    V (K, H), b_y (K,)
    ŷ_t = softmax(ℓ_t),   L = Σ_t L_t,   L_t = −log ŷ_t[y_t]

The logits are ℓ_t and the output bias b_y, so that o_t stays the LSTM's output gate and
c_t its cell (book/notation.md).

The backward passes of the simple RNN and of its softmax output are assignment 2's
questions: ``rnnkit.answers.ch02_bptt`` holds them, out of the students' package until
the assignment is due. The lecture's delta notation names the same quantities per unit:
its w_ih is ``U[h, i]``, its v_jh is ``W[h, j]``, its z_h^t is ``a_t[h]``.

The gated cells' NumPy steps are assignments 4-6's questions and live in
``rnnkit.answers`` (ch04_lstm, ch05_coupled_lstm, ch06_gru); their equations, which the
chapters and the torch cells in ``rnnkit.cells`` use:

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
    Returns h: (B, H) and the cache (x, h_prev, U, W, h) for the backward pass.
    """
    _check_shapes(x=(x, "B I"), h_prev=(h_prev, "B H"), U=(U, "H I"), W=(W, "H H"), b=(b, "H"))
    a = x @ U.T + h_prev @ W.T + b
    h = np.tanh(a)
    return h, (x, h_prev, U, W, h)


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


# ------------------------------------------------------------------ output layer and loss


def temporal_affine_forward(
    h: np.ndarray, V: np.ndarray, b_y: np.ndarray
) -> tuple[np.ndarray, tuple]:
    """Output logits at every step: ℓ_t = V h_t + b_y.

    h: (T, B, H) hidden states;  V: (K, H) output weights;  b_y: (K,) output bias
    Returns logits: (T, B, K) and the cache (h, V) for the backward pass.
    """
    _check_shapes(h=(h, "T B H"), V=(V, "K H"), b_y=(b_y, "K"))
    return h @ V.T + b_y, (h, V)
