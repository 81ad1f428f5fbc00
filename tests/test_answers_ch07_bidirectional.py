"""rnnkit.answers.ch07_bidirectional against torch's packed sequences, autograd and
central differences.

Everything runs in float64: the NumPy code and torch agree up to rounding (≈ 1e-16), so
they are held to 1e-12; central differences with h = 1e-6 are held to 1e-7 (relative).
"""

import numpy as np
import pytest
import torch
from torch import nn

from rnnkit.answers import ch07_bidirectional as answers
from rnnkit.gradcheck import numerical_gradient, rel_error

CASES = [  # T, I, H, lengths
    (5, 3, 4, [5, 2, 4, 1]),
    (1, 2, 3, [1]),
    (6, 1, 2, [6, 6]),
    (7, 4, 5, [3, 7, 1, 5, 2]),
]


def problem(T, I, H, lengths, seed=0):
    rng = np.random.default_rng(seed)
    xs = rng.normal(size=(T, len(lengths), I))
    fw, bw = (
        tuple(rng.normal(scale=0.6, size=s) for s in ((H, I), (H, H), (H,))) for _ in range(2)
    )
    return xs, np.array(lengths), fw, bw


def torch_packed(xs, lengths, fw, bw):
    """torch.nn.RNN(bidirectional=True) on the packed batch, with the weights copied."""
    T, _, I = xs.shape
    H = fw[1].shape[0]
    rnn = nn.RNN(I, H, bidirectional=True, dtype=torch.float64)
    with torch.no_grad():
        for suffix, (U, W, b) in (("", fw), ("_reverse", bw)):
            getattr(rnn, f"weight_ih_l0{suffix}").copy_(torch.from_numpy(U))
            getattr(rnn, f"weight_hh_l0{suffix}").copy_(torch.from_numpy(W))
            getattr(rnn, f"bias_ih_l0{suffix}").copy_(torch.from_numpy(b))
            getattr(rnn, f"bias_hh_l0{suffix}").zero_()
    x = torch.from_numpy(xs).requires_grad_()
    packed = nn.utils.rnn.pack_padded_sequence(x, torch.from_numpy(lengths), enforce_sorted=False)
    out, _ = nn.utils.rnn.pad_packed_sequence(rnn(packed)[0], total_length=T)
    return out, x, rnn


@pytest.mark.parametrize("case", CASES, ids=str)
def test_forward_matches_torch_packed_sequences(case):
    xs, lengths, fw, bw = problem(*case)
    expected, _, _ = torch_packed(xs, lengths, fw, bw)
    got = answers.birnn_forward(xs, lengths, fw, bw)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected.detach().numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_backward_matches_torch_autograd_and_ignores_the_padding(case):
    xs, lengths, fw, bw = problem(*case, seed=1)
    out, x, rnn = torch_packed(xs, lengths, fw, bw)
    dout = np.random.default_rng(2).normal(size=out.shape)  # nonzero at padding too
    (out * torch.from_numpy(dout)).sum().backward()
    dxs, dfw, dbw = answers.birnn_backward(dout, xs, lengths, fw, bw, out.detach().numpy())
    assert rel_error(dxs, x.grad.numpy()) <= 1e-12
    for suffix, grads in (("", dfw), ("_reverse", dbw)):
        for name, g in zip(("weight_ih", "weight_hh", "bias_ih"), grads, strict=True):
            want = getattr(rnn, f"{name}_l0{suffix}").grad.numpy()
            assert rel_error(g, want) <= 1e-12, (name, suffix)
    padded = np.arange(xs.shape[0])[:, None] >= lengths[None, :]
    assert np.all(dxs[padded] == 0)


def test_backward_matches_central_differences():
    xs, lengths, fw, bw = problem(4, 2, 3, [4, 2, 3], seed=3)
    dout = np.random.default_rng(4).normal(size=(4, 3, 6))

    def loss(_):  # numerical_gradient nudges the array in place; loss reads it from there
        return float((answers.birnn_forward(xs, lengths, fw, bw) * dout).sum())

    out = answers.birnn_forward(xs, lengths, fw, bw)
    dxs, dfw, dbw = answers.birnn_backward(dout, xs, lengths, fw, bw, out)
    assert rel_error(dxs, numerical_gradient(loss, xs, h=1e-6)) <= 1e-7
    for params, grads in ((fw, dfw), (bw, dbw)):
        for p, g in zip(params, grads, strict=True):
            assert rel_error(g, numerical_gradient(loss, p, h=1e-6)) <= 1e-7
