"""Answers to assignment 1 (closed loops and recurrence): the window of inhibition in which
the excitatory–inhibitory loop's rest is stable, a latch and running parity wired by hand
into a tiny tanh RNN, the RNN's forward pass in torch, and the training of a latch.

Instructor-only (see ``rnnkit/answers/__init__.py``).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from rnnkit.circuits import LoopWeights

ASSIGNED_IN = "ch01_closed_loop"

PARAMETER_NAMES = ("U", "W", "b", "V", "b_y")


def inhibition_window(w: LoopWeights) -> tuple[float, float]:
    """The open interval (lo, hi) of w_EI in which rest of the two-unit loop is stable.

    w: the loop's other weights (``w.ei`` is ignored), with 1 < ee < 2, 0 <= ii <= 1,
    ie > 0 and 0 < leak <= 1/2, the range in which the set of stable w_EI is one interval.
    Rest is stable when both eigenvalues of J = (1 - alpha) I + alpha M lie inside the unit
    circle. With tau = ee - ii and Delta = ei * ie - ee * ii the trace and determinant of M:

    - lo: a real eigenvalue of M passes through 1 (one of J through 1: latching), where
      the characteristic polynomial of M vanishes at 1, 1 - tau + Delta = 0;
    - hi: the complex pair of J leaves the unit circle (growing oscillation), where
      |lambda|^2 = (1 - alpha)^2 + alpha (1 - alpha) tau + alpha^2 Delta = 1.
    """
    ee, ie, ii, alpha = w.ee, w.ie, w.ii, w.leak
    if not (1.0 < ee < 2.0 and 0.0 <= ii <= 1.0 and ie > 0.0 and 0.0 < alpha <= 0.5):
        raise ValueError(
            "expected 1 < ee < 2, 0 <= ii <= 1, ie > 0 and 0 < leak <= 1/2; got "
            f"ee={ee}, ii={ii}, ie={ie}, leak={alpha}"
        )
    tau = ee - ii
    lo = (ee - 1.0) * (1.0 + ii) / ie
    critical_det = (2.0 - alpha - (1.0 - alpha) * tau) / alpha
    hi = (critical_det + ee * ii) / ie
    return float(lo), float(hi)


def latch_weights() -> dict[str, np.ndarray]:
    """A one-unit tanh RNN that is a set/reset latch, as float64 arrays.

    Inputs x_t = (set, reset); the logit l_t = V h_t + b_y is positive exactly when a set
    has come since the last reset. W = 4 > 1 makes +-1 two stable states (the unit's
    self-excitation latches); the input gain 8 > 4 + atanh(0.999) overrides either state.
    Returns U (1, 2), W (1, 1), b (1,), V (1, 1), b_y (1,).
    """
    return {
        "U": np.array([[8.0, -8.0]]),
        "W": np.array([[4.0]]),
        "b": np.zeros(1),
        "V": np.array([[1.0]]),
        "b_y": np.array([-0.5]),  # h_0 = 0 (nothing set yet) must read as "no"
    }


def parity_weights(gain: float = 10.0) -> dict[str, np.ndarray]:
    """A two-unit tanh RNN whose logit is positive exactly when an odd number of 1s came.

    With g_i = (1 + h_i) / 2 in [0, 1], unit 1 is OR and unit 2 is AND of (parity so far,
    x_t), and the parity so far is g_1 - g_2 = (h_1 - h_2) / 2, a linear read of the old
    state. XOR is not a single threshold of its inputs, so it needs both units:
    h_1' = tanh(gain ((h_1 - h_2)/2 + x - 1/2)), h_2' = tanh(gain ((h_1 - h_2)/2 + x - 3/2)).
    gain: how sharp each threshold is. Returns U (2, 1), W (2, 2), b (2,), V (1, 2), b_y (1,).
    """
    return {
        "U": gain * np.array([[1.0], [1.0]]),
        "W": gain * np.array([[0.5, -0.5], [0.5, -0.5]]),
        "b": gain * np.array([-0.5, -1.5]),
        "V": np.array([[0.5, -0.5]]),
        "b_y": np.array([-0.5]),
    }


def rnn_logits(x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
    """The simple RNN's logits l_t = V h_t + b_y with h_t = tanh(U x_t + W h_{t-1} + b).

    x: (T, B, I);  params: U (H, I), W (H, H), b (H,), V (K, H), b_y (K,);  h_0 = 0.
    Returns (T, B, K), differentiable in every parameter.
    """
    if x.ndim != 3 or x.shape[2] != params["U"].shape[1]:
        raise ValueError(f"expected x (T, B, {params['U'].shape[1]}), got {tuple(x.shape)}")
    h = x.new_zeros(x.shape[1], params["W"].shape[0])
    logits = []
    for x_t in x:
        h = torch.tanh(x_t @ params["U"].T + h @ params["W"].T + params["b"])
        logits.append(h @ params["V"].T + params["b_y"])
    return torch.stack(logits)


def latch_batch(batch_size: int, T: int, p: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random set/reset sequences and the latch's answer at every step, float64.

    Each step is a set with probability p, a reset with probability p, else nothing.
    Returns x (T, B, 2) with x[t, b] = (set, reset) and y (T, B), 1 where a set has come
    since the last reset (a set at step t counts at step t), else 0.
    """
    if not 0.0 < p <= 0.5:
        raise ValueError(f"p must be in (0, 1/2], got {p}")
    u = np.random.default_rng(seed).random((T, batch_size))
    sets, resets = u < p, (u >= p) & (u < 2 * p)
    y = np.zeros((T, batch_size))
    state = np.zeros(batch_size)
    for t in range(T):
        state = np.where(sets[t], 1.0, np.where(resets[t], 0.0, state))
        y[t] = state
    x = np.stack([sets, resets], axis=-1).astype(np.float64)
    return torch.from_numpy(x), torch.from_numpy(y)


def train_latch(logits_fn, seed: int, steps: int, hidden: int = 4) -> dict[str, torch.Tensor]:
    """Train a tanh RNN (float64) to be a latch with Adam on binary cross-entropy.

    logits_fn: a forward like :func:`rnn_logits`; seed: the initialisation and the data;
    steps: optimiser steps on batches of 32 sequences of 40 steps with p = 0.1;
    hidden: H. Returns the trained U, W, b, V, b_y (detached tensors).
    """
    generator = torch.Generator().manual_seed(seed)
    bound = 1.0 / math.sqrt(hidden)  # torch.nn.RNN's initialisation
    shapes = {
        "U": (hidden, 2),
        "W": (hidden, hidden),
        "b": (hidden,),
        "V": (1, hidden),
        "b_y": (1,),
    }
    params = {
        name: torch.empty(shape, dtype=torch.float64)
        .uniform_(-bound, bound, generator=generator)
        .requires_grad_()
        for name, shape in shapes.items()
    }
    optimiser = torch.optim.Adam(params.values(), lr=0.05)
    for step in range(steps):
        x, y = latch_batch(32, 40, 0.1, seed=1_000_000 * (seed + 1) + step)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits_fn(x, params)[..., 0], y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return {name: p.detach() for name, p in params.items()}
