r"""A bidirectional tanh RNN over a padded batch in NumPy: forward and backward.

This module holds the answers to assignment 7. Each direction is a tanh RNN with its own
weights ``(U, W, b)``; sequence b of the batch has ``lengths[b]`` = T_b real steps and is
padded to T. Both chains start from zero and see only the real steps:

    h→_t = tanh(U→ x_t + W→ h→_{t-1} + b→),  t = 1..T_b,  h→_0 = 0
    h←_t = tanh(U← x_t + W← h←_{t+1} + b←),  t = T_b..1,  h←_{T_b+1} = 0

and the output at step t is ``[h→_t, h←_t]`` (2H), zero at padded steps, as
``torch.nn.RNN(..., bidirectional=True)`` returns it for a packed sequence.
``tests/test_answers_ch07_bidirectional.py`` holds both functions against torch's packed
sequences, torch autograd and central differences.
"""

import numpy as np

ASSIGNED_IN = "ch07_bidirectional"

Direction = tuple[np.ndarray, np.ndarray, np.ndarray]


def _valid(lengths: np.ndarray, T: int) -> np.ndarray:
    """(T, B, 1) bool: True where step t is a real step of sequence b."""
    return (np.arange(T)[:, None] < np.asarray(lengths)[None, :])[:, :, None]


def birnn_forward(xs: np.ndarray, lengths: np.ndarray, fw: Direction, bw: Direction) -> np.ndarray:
    """The outputs of a bidirectional tanh RNN over a padded batch.

    xs: (T, B, I) float64;  lengths: (B,) ints in [1, T];
    fw, bw: (U (H, I), W (H, H), b (H,)) of the forward and the backward direction.
    Returns outputs (T, B, 2H): [h→_t, h←_t] at real steps, zero at padded ones.
    """
    T, B, _ = xs.shape
    H = fw[1].shape[0]
    valid = _valid(lengths, T)
    out = np.zeros((T, B, 2 * H))
    for (U, W, b), steps, half in (
        (fw, range(T), slice(0, H)),
        (bw, range(T - 1, -1, -1), slice(H, 2 * H)),
    ):
        h = np.zeros((B, H))
        for t in steps:
            new = np.tanh(xs[t] @ U.T + h @ W.T + b)
            # A padded step leaves the state alone: the forward chain stops at T_b, and the
            # backward chain stays at zero until it reaches T_b.
            h = np.where(valid[t], new, h)
            out[t, :, half] = np.where(valid[t], new, 0.0)
    return out


def birnn_backward(
    dout: np.ndarray,
    xs: np.ndarray,
    lengths: np.ndarray,
    fw: Direction,
    bw: Direction,
    out: np.ndarray,
) -> tuple[np.ndarray, Direction, Direction]:
    """Gradients of a loss L through :func:`birnn_forward`.

    dout: (T, B, 2H) ∂L/∂outputs (its padded steps do not count: the outputs there are
    constant zeros);  xs, lengths, fw, bw: the forward's inputs;  out: its outputs.
    Returns dxs (T, B, I), zero at padded steps, and (dU, dW, db) for each direction.

    The concatenation splits the gradient: ∂L/∂h→_t = dout[t, :, :H] + W→ᵀ δ→_{t+1} runs
    from t = T_b down to 1, ∂L/∂h←_t = dout[t, :, H:] + W←ᵀ δ←_{t-1} from t = 1 up to T_b,
    with δ_t = ∂L/∂h_t ⊙ (1 − h_t²) on real steps only.
    """
    T, B, _ = xs.shape
    H = fw[1].shape[0]
    valid = _valid(lengths, T)
    dout = np.where(valid, dout, 0.0)
    dxs = np.zeros_like(xs)
    grads = []
    # The forward chain is differentiated backwards in time, the backward chain forwards;
    # the state a step read is the neighbour on the side its chain came from (zero at the
    # ends, which the zero padding of out provides for the backward chain).
    directions = (
        (fw, range(T - 1, -1, -1), slice(0, H), -1),
        (bw, range(T), slice(H, 2 * H), +1),
    )
    for (U, W, b), steps, half, came_from in directions:
        h = out[:, :, half]
        dU, dW, db = np.zeros_like(U), np.zeros_like(W), np.zeros_like(b)
        dh_next = np.zeros((B, H))
        for t in steps:
            delta = np.where(valid[t], (dout[t, :, half] + dh_next) * (1.0 - h[t] ** 2), 0.0)
            s = t + came_from
            h_read = h[s] if 0 <= s < T else np.zeros((B, H))
            dU += delta.T @ xs[t]
            dW += delta.T @ h_read
            db += delta.sum(axis=0)
            dxs[t] += delta @ U
            dh_next = delta @ W
        grads.append((dU, dW, db))
    return dxs, grads[0], grads[1]
