# ruff: noqa: E741  (I is the course's letter for the input size)
"""rnnkit.reference against torch.nn and the lecture.

The simple RNN's backward pass is assignment 2's answer: tests/test_answers_ch02_bptt.py
holds rnnkit.answers.ch02_bptt to the same standards. The LSTM, the coupled-gate LSTM and
the GRU are assignments 4 to 6: tests/test_answers_ch04_lstm.py,
tests/test_answers_ch05_coupled_lstm.py and tests/test_answers_ch06_gru.py hold them.

Everything runs in float64. Forward passes agree with the NumPy code up to rounding
(measured ≈ 1e-16), so they are held to 1e-12.
"""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from numeric import EXACT_TOL, F64, SEQUENCE_SHAPES, loaded, randn, split_bias, torch_params

from rnnkit import reference as ref
from rnnkit.gradcheck import rel_error

SHAPES = SEQUENCE_SHAPES


# ---------------------------------------------------- forward passes against torch.nn modules


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_rnn_step_forward_matches_torch_rnn_cell(shape):
    _, B, I, H = shape
    rng = np.random.default_rng(1)
    x, h_prev, U, W = randn(rng, B, I), randn(rng, B, H), randn(rng, H, I), randn(rng, H, H)
    b_ih, b_hh, b = split_bias(rng, H)
    cell = loaded(torch.nn.RNNCell(I, H, dtype=F64), **torch_params(U, W, b_ih, b_hh))

    h, _ = ref.rnn_step_forward(x, h_prev, U, W, b)
    expected = cell(torch.from_numpy(x), torch.from_numpy(h_prev)).detach().numpy()
    assert rel_error(h, expected) <= EXACT_TOL


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_rnn_forward_matches_torch_rnn(shape):
    T, B, I, H = shape
    rng = np.random.default_rng(2)
    x, h0, U, W = randn(rng, T, B, I), randn(rng, B, H), randn(rng, H, I), randn(rng, H, H)
    b_ih, b_hh, b = split_bias(rng, H)
    rnn = loaded(torch.nn.RNN(I, H, dtype=F64), **torch_params(U, W, b_ih, b_hh, suffix="_l0"))

    hs, _ = ref.rnn_forward(x, h0, U, W, b)
    expected, h_last = rnn(torch.from_numpy(x), torch.from_numpy(h0)[None])
    assert rel_error(hs, expected.detach().numpy()) <= EXACT_TOL
    assert rel_error(hs[-1], h_last[0].detach().numpy()) <= EXACT_TOL


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_temporal_affine_forward_matches_torch_linear_with_output_bias_b_y(shape):
    T, B, _, H = shape
    K = H + 1
    rng = np.random.default_rng(3)
    h, V, b_y = randn(rng, T, B, H), randn(rng, K, H), randn(rng, K)
    linear = loaded(torch.nn.Linear(H, K, dtype=F64), weight=V, bias=b_y)

    logits, _ = ref.temporal_affine_forward(h, V, b_y=b_y)
    expected = linear(torch.from_numpy(h)).detach().numpy()
    assert rel_error(logits, expected) <= EXACT_TOL


def test_temporal_affine_forward_names_the_output_bias_when_its_shape_is_wrong():
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match=r"b_y: expected shape \(K\)"):
        ref.temporal_affine_forward(randn(rng, 2, 3, 4), randn(rng, 5, 4), randn(rng, 4))


# ---------------------------------------------------- the lecture's worked example (seed 000)


def test_lecture_worked_example_pre_activation_and_tanh():
    # one hidden unit h of three: the lecture's w_ih is row h of U, its v_jh row h of W
    x = np.array([[0.4, 1.2, -1.0, 0.6]])
    h_prev = np.array([[2.0, 0.2, -1.2]])  # the lecture's y(t-1)
    U, W = np.zeros((3, 4)), np.zeros((3, 3))
    U[0] = [0.8, 1.6, -0.2, -2.4]
    W[0] = [1.8, -1.2, 0.4]
    # by hand:  0.4·0.8 + 1.2·1.6 + (−1.0)·(−0.2) + 0.6·(−2.4) = 0.32 + 1.92 + 0.20 − 1.44 = 1.00
    #           2.0·1.8 + 0.2·(−1.2) + (−1.2)·0.4              = 3.60 − 0.24 − 0.48        = 2.88
    pre_activation = 3.88
    h, _ = ref.rnn_step_forward(x, h_prev, U, W, np.zeros(3))
    assert h[0, 0] == pytest.approx(math.tanh(pre_activation), abs=1e-15)
    # tanh is one-to-one, so the state holds the pre-activation; near saturation arctanh
    # magnifies rounding by 1 / (1 − h²) ≈ 600, hence the looser tolerance
    assert np.arctanh(h[0, 0]) == pytest.approx(pre_activation, abs=1e-12)
    assert h[0, 0] == pytest.approx(0.99914, abs=1e-5)  # tanh(3.88), rounded by hand
    assert np.array_equal(h[0, 1:], [0.0, 0.0])  # the other units have zero weights


# ---------------------------------------------------- bad input is named


def test_wrong_weight_shape_names_the_argument_and_both_shapes():
    x, h_prev, U, b = np.zeros((2, 4)), np.zeros((2, 3)), np.zeros((3, 4)), np.zeros(3)
    with pytest.raises(ValueError, match=r"W: expected shape \(H, H\) = \(3, 3\), got \(3, 5\)"):
        ref.rnn_step_forward(x, h_prev, U, np.zeros((3, 5)), b)


def test_wrong_number_of_axes_is_rejected():
    with pytest.raises(ValueError, match=r"x: expected shape \(T, B, I\), got \(2, 4\)"):
        ref.rnn_forward(
            np.zeros((2, 4)), np.zeros((2, 3)), np.zeros((3, 4)), np.zeros((3, 3)), np.zeros(3)
        )


def test_reference_and_gradcheck_run_without_torch():
    code = "import sys, rnnkit.reference, rnnkit.gradcheck; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
