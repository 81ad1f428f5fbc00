"""The DNC's temporal links: precedence, link matrix and directional read weightings.

This module holds the answers to assignment 9 (questions 1 to 3). ``rnnkit.dnc.DNC`` uses
these three functions by default when this module is installed; otherwise the caller passes
its own through ``rnnkit.dnc.Mechanisms``. The equations, as ``rnnkit.dnc`` states them
(Graves et al. 2016, Methods; their L is the course's Λ)::

    precedence   p_t = (1 − Σ_n w^w_t[n]) p_{t-1} + w^w_t
    links        Λ_t[n, m] = (1 − w^w_t[n] − w^w_t[m]) Λ_{t-1}[n, m] + w^w_t[n] p_{t-1}[m],
                 Λ_t[n, n] = 0
    directions   forward_i = Λ_t w^r_{t-1,i},  backward_i = Λ_tᵀ w^r_{t-1,i}

Each is a few tensor operations, differentiable, in the dtype it is given.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.dnc import _check

ASSIGNED_IN = "ch09_dnc"


def precedence_update(precedence: Tensor, write_weights: Tensor) -> Tensor:
    """How much each slot was the last one written, after this step's write.

    A full write (weights summing to 1) replaces the precedence; no write keeps it.
    precedence: (B, N), p_{t-1} (zeros at the start);  write_weights: (B, N), w^w_t.
    Returns p_t: (B, N).
    """
    _check("precedence", precedence, (None, None))
    _check("write_weights", write_weights, tuple(precedence.shape))
    written = write_weights.sum(dim=1, keepdim=True)  # (B, 1)
    return (1 - written) * precedence + write_weights


def link_update(link: Tensor, precedence: Tensor, write_weights: Tensor) -> Tensor:
    """Record "slot n was written right after slot m" in Λ[n, m].

    Writing to n or to m fades the old link between them; the new link points from the
    slot written now to where the previous writes went (the precedence p_{t-1}).
    link: (B, N, N), Λ_{t-1};  precedence: (B, N), p_{t-1};  write_weights: (B, N), w^w_t.
    Returns Λ_t: (B, N, N), zero on the diagonal.
    """
    _check("link", link, (None, None, None))
    B, N, _ = link.shape
    _check("link", link, (B, N, N))
    _check("precedence", precedence, (B, N))
    _check("write_weights", write_weights, (B, N))
    to_slot = write_weights.unsqueeze(2)  # (B, N, 1): w[n] along the rows
    from_slot = write_weights.unsqueeze(1)  # (B, 1, N): w[m] along the columns
    faded = (1 - to_slot - from_slot) * link
    fresh = to_slot * precedence.unsqueeze(1)  # w[n] p[m]
    # Multiplying (not writing zeros in place) keeps the graph intact for autograd.
    not_self = 1 - torch.eye(N, dtype=link.dtype, device=link.device)
    return (faded + fresh) * not_self


def directional_weightings(link: Tensor, read_weights: Tensor) -> tuple[Tensor, Tensor]:
    """Step every read head along the links: forward with Λ, backward with Λᵀ.

    Λ[n, m] is large when n was written after m, so Λ w moves a head from a slot to the
    slot written after it, and Λᵀ w to the slot written before it.
    link: (B, N, N), Λ_t;  read_weights: (B, R, N), the previous step's w^r.
    Returns (forward, backward), each (B, R, N).
    """
    _check("link", link, (None, None, None))
    B, N, _ = link.shape
    _check("read_weights", read_weights, (B, None, N))
    # Heads are rows here, so Λ w for each head is w Λᵀ, and Λᵀ w is w Λ.
    forward = read_weights @ link.transpose(1, 2)
    backward = read_weights @ link
    return forward, backward
