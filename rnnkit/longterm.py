"""Long-term dependencies: recurrent matrices that keep or lose a signal, and the remedies.

Chapter 3 in code. A gradient that travels from step t back to step k is multiplied by
``T − k`` step Jacobians ``diag(φ'(a_j)) W``; what happens to it is decided by ``W``.

- Recurrent matrices with a chosen spectral radius ρ (the largest |eigenvalue|):
  :func:`spectral_radius`, :func:`scale_to_radius`, :func:`random_orthogonal`,
  :func:`shift_like`. Orthogonal·ρ is normal (its norm shrinks exactly like ρ^t); a
  Gaussian or a shift-like matrix with the same ρ is not, and its powers can grow first.
- An echo state network's fixed reservoir (:func:`reservoir`) and its states
  (:func:`reservoir_states`); only a linear readout is trained on them.
- Leaky units and skip connections through time (:class:`LeakyRNN`)::

      h_t = (1 − α) h_{t-1} + α φ(U x_t + W h_{t-1} + W_d h_{t-d} + b)

  with α = 1 and no skip the simple RNN of chapter 1.
- The identity initialisation of an IRNN (Le et al., 2015): :func:`identity_`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _square(W: Tensor, name: str = "W") -> None:
    if not isinstance(W, Tensor) or W.dim() != 2 or W.shape[0] != W.shape[1]:
        got = tuple(W.shape) if isinstance(W, Tensor) else type(W).__name__
        raise ValueError(f"{name} must be a square (H, H) tensor, got {got}")


def _positive_int(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def spectral_radius(W: Tensor) -> float:
    """ρ(W), the largest modulus of W's eigenvalues.

    W: (H, H). It sets the *asymptotic* rate ‖W^t‖^(1/t) → ρ(W); over a finite horizon
    ‖W^t‖ is bounded by σ_max(W)^t instead, which can be far larger.
    """
    _square(W)
    return torch.linalg.eigvals(W.double()).abs().max().item()


def scale_to_radius(W: Tensor, rho: float) -> Tensor:
    """W rescaled so that its spectral radius is ``rho`` (a new tensor).

    W: (H, H) with a non-zero eigenvalue;  rho: the wanted radius, > 0.
    """
    if not rho > 0:
        raise ValueError(f"rho must be positive, got {rho!r}")
    radius = spectral_radius(W)
    if radius == 0:
        raise ValueError("W must have a non-zero eigenvalue to be rescaled (it is nilpotent)")
    return W * (rho / radius)


def random_orthogonal(H: int, seed: int | torch.Generator) -> Tensor:
    """A random orthogonal (H, H) matrix, uniform over the orthogonal group.

    The QR factors of a Gaussian matrix, with the signs of R's diagonal moved into Q so
    that the distribution does not depend on the QR routine (Mezzadri, 2007).
    """
    _positive_int(H=H)
    gen = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(seed)
    Q, R = torch.linalg.qr(torch.randn(H, H, generator=gen, dtype=torch.float64))
    return (Q * torch.sign(torch.diagonal(R))).float()


def shift_like(H: int, rho: float) -> Tensor:
    """ρ I + N, where N copies unit j into unit j + 1: one Jordan block, all eigenvalues ρ.

    Every eigenvalue is ρ, yet the shift hands a signal on from unit to unit, so for
    t < H the powers grow like (ρ + 1)^t before ρ^t wins. Returns (H, H) float32.
    """
    _positive_int(H=H)
    return rho * torch.eye(H) + torch.diag(torch.ones(H - 1), -1)


def identity_(weight_hh: Tensor, gain: float = 1.0) -> Tensor:
    """Set a recurrent matrix to ``gain · I`` in place (the IRNN's W, with zero biases).

    weight_hh: (H, H), e.g. ``torch.nn.RNN(...).weight_hh_l0``. Returns it.
    """
    _square(weight_hh, "weight_hh")
    with torch.no_grad():
        return weight_hh.copy_(gain * torch.eye(weight_hh.shape[0]))


# ---------------------------------------------------------------------------------------
# Echo state networks
# ---------------------------------------------------------------------------------------


def reservoir(
    H: int, I: int, rho: float, seed: int, *, input_scale: float = 1.0, density: float = 1.0
) -> tuple[Tensor, Tensor]:
    """A fixed random reservoir (Jaeger, 2001): input weights and a recurrent matrix.

    H: reservoir units;  I: input features;  rho: spectral radius of W;  seed: an int.
    input_scale: U is uniform on [−input_scale, input_scale];  density: the fraction of
    W's entries that are non-zero (sparse reservoirs are common; 1 keeps them all).
    Returns U: (H, I) and W: (H, H), float32.
    """
    _positive_int(H=H, I=I)
    if not 0 < density <= 1:
        raise ValueError(f"density must be in (0, 1], got {density!r}")
    gen = torch.Generator().manual_seed(seed)
    U = input_scale * (2 * torch.rand(H, I, generator=gen) - 1)
    W = torch.randn(H, H, generator=gen) * (torch.rand(H, H, generator=gen) < density)
    return U, scale_to_radius(W, rho)


def reservoir_states(U: Tensor, W: Tensor, x: Tensor, leak: float = 1.0) -> Tensor:
    """Run a reservoir over x, learning nothing: ``h_t = (1 − α) h_{t-1} + α tanh(a_t)``.

    ``a_t = U x_t + W h_{t-1}`` (no bias).

    U: (H, I);  W: (H, H);  x: (T, B, I) time-major;  leak: α in (0, 1], 1 for no leak.
    Returns the states h_1 … h_T: (T, B, H), which a linear readout then maps to targets.
    """
    _square(W)
    if x.dim() != 3 or x.shape[-1] != U.shape[1] or U.shape[0] != W.shape[0]:
        raise ValueError(
            f"expected x (T, B, {U.shape[1]}) for U {tuple(U.shape)} and W {tuple(W.shape)}, "
            f"got x {tuple(x.shape)}"
        )
    if not 0 < leak <= 1:
        raise ValueError(f"leak must be in (0, 1], got {leak!r}")
    drive = x @ U.T  # the input part of every step at once
    h = x.new_zeros(x.shape[1], W.shape[0])
    states = []
    for drive_t in drive:
        h = (1 - leak) * h + leak * torch.tanh(drive_t + h @ W.T)
        states.append(h)
    return torch.stack(states)


# ---------------------------------------------------------------------------------------
# Leaky units and skip connections through time
# ---------------------------------------------------------------------------------------


class LeakyRNN(nn.Module):
    """A simple RNN layer with leaky units and, optionally, a skip connection in time.

    ``h_t = (1 − α) h_{t-1} + α φ(U x_t + W h_{t-1} + W_d h_{t-d} + b)``, φ = tanh or relu,
    ``h_t = 0`` for t ≤ 0. A leak α < 1 lets part of the state through untouched (a
    Jacobian close to (1 − α) I); the skip term reaches d steps back in one hop, so a
    gradient crosses a distance D in about D/d Jacobians instead of D.

    Args:
        input_size: I;  hidden_size: H.
        alpha: the leak α in (0, 1]; 1 is the plain RNN.
        delay: d ≥ 2 for a skip connection through time, or None for none.
        nonlinearity: ``"tanh"`` or ``"relu"``.

    Parameters: ``weight_ih`` U (H, I), ``weight_hh`` W (H, H), ``bias_ih`` and
    ``bias_hh`` (H,) as in ``torch.nn.RNN``'s layer 0 (drawn the same way, so with
    α = 1 and no skip a copied ``torch.nn.RNN`` agrees), and ``weight_skip`` W_d (H, H),
    drawn like W, when ``delay`` is given.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        alpha: float = 1.0,
        delay: int | None = None,
        nonlinearity: str = "tanh",
    ) -> None:
        super().__init__()
        _positive_int(input_size=input_size, hidden_size=hidden_size)
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
        if delay is not None and (type(delay) is not int or delay < 2):
            raise ValueError(f"delay must be an int >= 2 or None, got {delay!r}")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.hidden_size, self.alpha, self.delay = hidden_size, alpha, delay
        self.activation = torch.tanh if nonlinearity == "tanh" else torch.relu
        rnn = nn.RNN(input_size, hidden_size)  # torch's initialisation, then its tensors
        self.weight_ih = nn.Parameter(rnn.weight_ih_l0.detach().clone())
        self.weight_hh = nn.Parameter(rnn.weight_hh_l0.detach().clone())
        self.bias_ih = nn.Parameter(rnn.bias_ih_l0.detach().clone())
        self.bias_hh = nn.Parameter(rnn.bias_hh_l0.detach().clone())
        if delay is not None:
            bound = hidden_size**-0.5
            self.weight_skip = nn.Parameter(torch.empty(hidden_size, hidden_size))
            nn.init.uniform_(self.weight_skip, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """x: (T, B, I) time-major. Returns every state h_1 … h_T: (T, B, H)."""
        if x.dim() != 3 or x.shape[-1] != self.weight_ih.shape[1]:
            raise ValueError(
                f"LeakyRNN expected x of shape (T, B, {self.weight_ih.shape[1]}), "
                f"got {tuple(x.shape)}"
            )
        drive = x @ self.weight_ih.T + self.bias_ih + self.bias_hh
        h = x.new_zeros(x.shape[1], self.hidden_size)
        states: list[Tensor] = []
        for t, drive_t in enumerate(drive):
            a = drive_t + h @ self.weight_hh.T
            if self.delay is not None and t >= self.delay:
                a = a + states[t - self.delay] @ self.weight_skip.T
            h = (1 - self.alpha) * h + self.alpha * self.activation(a)
            states.append(h)
        return torch.stack(states)
