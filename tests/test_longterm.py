"""rnnkit.longterm against torch.nn, NumPy and numbers worked by hand."""

import numpy as np
import pytest
import torch
from torch import nn

from rnnkit.longterm import (
    LeakyRNN,
    identity_,
    random_orthogonal,
    reservoir,
    reservoir_states,
    scale_to_radius,
    shift_like,
    spectral_radius,
)


def test_spectral_radius_of_a_rotation_and_of_a_triangular_matrix():
    rotation = torch.tensor([[0.0, -2.0], [2.0, 0.0]])  # eigenvalues ±2i
    assert spectral_radius(rotation) == pytest.approx(2.0)
    triangular = torch.tensor([[0.5, 7.0], [0.0, -0.8]])  # eigenvalues on the diagonal
    assert spectral_radius(triangular) == pytest.approx(0.8)


def test_scale_to_radius_matches_numpy_eigenvalues():
    W = torch.randn(20, 20, generator=torch.Generator().manual_seed(0))
    scaled = scale_to_radius(W, 0.9)
    assert np.abs(np.linalg.eigvals(scaled.numpy())).max() == pytest.approx(0.9, rel=1e-5)


def test_scale_to_radius_rejects_nilpotent_matrix_and_non_positive_radius():
    with pytest.raises(ValueError, match="nilpotent"):
        scale_to_radius(torch.tensor([[0.0, 1.0], [0.0, 0.0]]), 0.9)
    with pytest.raises(ValueError, match="rho must be positive"):
        scale_to_radius(torch.eye(2), 0.0)


def test_random_orthogonal_is_orthogonal_and_seeded():
    Q = random_orthogonal(16, seed=3)
    assert torch.allclose(Q @ Q.T, torch.eye(16), atol=1e-5)
    assert torch.equal(Q, random_orthogonal(16, seed=3))
    assert not torch.equal(Q, random_orthogonal(16, seed=4))


def test_shift_like_has_every_eigenvalue_rho_and_powers_worked_by_hand():
    W = shift_like(4, 0.5)
    assert spectral_radius(W) == pytest.approx(0.5)
    # (ρI + N)^2 = ρ² I + 2ρ N + N², N the shift down by one row
    expected = torch.tensor(
        [[0.25, 0, 0, 0], [1.0, 0.25, 0, 0], [1.0, 1.0, 0.25, 0], [0, 1.0, 1.0, 0.25]]
    )
    assert torch.allclose(W @ W, expected)


def test_identity_sets_weight_in_place_and_rejects_non_square():
    rnn = nn.RNN(2, 5, nonlinearity="relu")
    identity_(rnn.weight_hh_l0, gain=0.5)
    assert torch.equal(rnn.weight_hh_l0.detach(), 0.5 * torch.eye(5))
    with pytest.raises(ValueError, match="square"):
        identity_(rnn.weight_ih_l0)


def test_reservoir_has_the_asked_radius_and_input_range():
    U, W = reservoir(50, 3, rho=0.95, seed=0, input_scale=0.2, density=0.1)
    assert U.shape == (50, 3) and W.shape == (50, 50)
    assert U.abs().max() <= 0.2
    assert spectral_radius(W) == pytest.approx(0.95, rel=1e-5)
    assert 0.05 < (W != 0).float().mean() < 0.15


def test_reservoir_states_follow_the_leaky_update_by_hand():
    U = torch.tensor([[1.0], [0.5]])
    W = torch.tensor([[0.0, 0.5], [-0.5, 0.0]])
    x = torch.tensor([[[1.0]], [[0.0]]])  # T = 2, B = 1, I = 1
    states = reservoir_states(U, W, x, leak=0.5)
    h1 = 0.5 * torch.tanh(torch.tensor([1.0, 0.5]))
    h2 = 0.5 * h1 + 0.5 * torch.tanh(W @ h1)
    assert torch.allclose(states[:, 0], torch.stack([h1, h2]))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_leaky_rnn_without_leak_or_skip_matches_torch_rnn(nonlinearity):
    torch.manual_seed(0)
    ours = LeakyRNN(3, 6, nonlinearity=nonlinearity)
    theirs = nn.RNN(3, 6, nonlinearity=nonlinearity)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(theirs, f"{name}_l0").copy_(getattr(ours, name))
    x = torch.randn(7, 4, 3)
    assert torch.allclose(ours(x), theirs(x)[0], atol=1e-6)


def test_leaky_rnn_keeps_one_minus_alpha_of_the_state():
    rnn = LeakyRNN(1, 1, alpha=0.25)
    with torch.no_grad():
        for p in rnn.parameters():
            p.zero_()
        rnn.weight_ih.fill_(1.0)
    x = torch.tensor([[[2.0]], [[0.0]], [[0.0]]])
    h1 = 0.25 * np.tanh(2.0)
    expected = torch.tensor([h1, 0.75 * h1, 0.75**2 * h1], dtype=torch.float32)
    assert torch.allclose(rnn(x).flatten(), expected)


def test_skip_connection_of_one_more_step_is_an_extra_term_by_hand():
    torch.manual_seed(1)
    rnn = LeakyRNN(2, 3, delay=2)
    x = torch.randn(5, 1, 2)
    U, W, Wd = rnn.weight_ih, rnn.weight_hh, rnn.weight_skip
    b = rnn.bias_ih + rnn.bias_hh
    hs = [torch.zeros(3)] * 2  # h_{-1}, h_0
    for x_t in x[:, 0]:
        hs.append(torch.tanh(U @ x_t + W @ hs[-1] + Wd @ hs[-2] + b))
    assert torch.allclose(rnn(x)[:, 0], torch.stack(hs[2:]), atol=1e-6)


def test_skip_connection_shortens_the_gradient_path():
    # With W = 0 only the skip links h_5 to h_1: ∂h_5/∂h_1 is non-zero with d = 2
    # (h_1 → h_3 → h_5) and exactly zero with d = 3 (steps 1, 4, 7 miss 5).
    torch.manual_seed(0)
    reach = {}
    for d in (2, 3):
        rnn = LeakyRNN(1, 2, delay=d)
        with torch.no_grad():
            rnn.weight_hh.zero_()
        x = torch.randn(5, 1, 1, requires_grad=True)
        rnn(x)[4].sum().backward()
        reach[d] = x.grad[0].abs().sum().item()
    assert reach[2] > 0 and reach[3] == 0


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="alpha"):
        LeakyRNN(1, 2, alpha=0.0)
    with pytest.raises(ValueError, match="delay"):
        LeakyRNN(1, 2, delay=1)
    with pytest.raises(ValueError, match="nonlinearity"):
        LeakyRNN(1, 2, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"\(T, B, 1\)"):
        LeakyRNN(1, 2)(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="leak"):
        reservoir_states(torch.zeros(2, 1), torch.zeros(2, 2), torch.zeros(3, 1, 1), leak=1.5)
