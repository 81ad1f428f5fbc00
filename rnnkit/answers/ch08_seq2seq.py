"""Additive attention, the masked loss and a full beam search: assignment 8's answers.

These are the instructors' reference implementations of the three functions students of
chapter 8 write themselves. The chapter's own model uses rnnkit's dot-product attention,
torch's cross-entropy and greedy decoding, so nothing in the book needs this module.

- :func:`additive_attention` (Bahdanau et al., 2015), with padded source positions masked:
  ``e_j = vᵀ tanh(W_q q + W_k k_j)``, ``α = softmax`` over the real positions, ``c = Σ α_j k_j``.
- :func:`masked_loss`: ``L = Σ_{t,b} m_tb · (−log softmax(o_tb)[y_tb]) / Σ_{t,b} m_tb``,
  the mean over the real target tokens.
- :func:`beam_search`: k live hypotheses, finished ones set aside at eos, a maximum length,
  GNMT's length penalty ``lp(n) = ((5 + n) / 6)^α`` for the final ranking, and ties broken
  by the order in which candidates are generated.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

ASSIGNED_IN = "ch08_seq2seq"


def additive_attention(
    query: Tensor, keys: Tensor, mask: Tensor, W_q: Tensor, W_k: Tensor, v: Tensor
) -> tuple[Tensor, Tensor]:
    """Additive attention over a padded batch, differentiable, in the dtype of its inputs.

    query: (B, H_q) decoder states s_{t-1};  keys: (S, B, H_k) encoder states h_j
    mask: (S, B) bool, True on real source positions (at least one per column)
    W_q: (A, H_q), W_k: (A, H_k), v: (A,)
    Returns context (B, H_k) and weights (B, S), each row summing to 1, exactly 0 on padding.
    """
    hidden = torch.tanh(query @ W_q.T + keys @ W_k.T)  # (S, B, A): the query broadcasts over S
    scores = (hidden @ v).masked_fill(~mask, float("-inf"))  # (S, B)
    weights = torch.softmax(scores, dim=0)  # subtracts the maximum: no overflow
    context = (weights.unsqueeze(-1) * keys).sum(dim=0)
    return context, weights.T


def masked_loss(logits: Tensor, targets: Tensor, lengths: Tensor) -> Tensor:
    """Mean cross-entropy over the real target tokens of a right-padded batch.

    logits: (T, B, K) floats;  targets: (T, B) int64, anything at padded positions
    lengths: (B,) int64, real tokens per sequence, 1 <= T_b <= T
    Returns a scalar tensor in the dtype of logits, differentiable with respect to them.
    """
    T = logits.shape[0]
    mask = torch.arange(T, device=logits.device)[:, None] < lengths[None, :]  # (T, B)
    # Padded positions may hold anything, even nan or out-of-range ids: replace them before
    # the softmax and the gather, so that neither the value nor the gradient can see them.
    log_probs = torch.log_softmax(logits.masked_fill(~mask[..., None], 0.0), dim=-1)
    picked = log_probs.gather(-1, targets.masked_fill(~mask, 0).unsqueeze(-1)).squeeze(-1)
    return -torch.where(mask, picked, 0.0).sum() / mask.sum()


def beam_search(
    next_log_probs: Callable[[list[tuple[int, ...]]], Tensor],
    eos: int,
    beam_width: int,
    max_len: int,
    alpha: float = 0.0,
) -> list[tuple[tuple[int, ...], float]]:
    """Beam search with finished hypotheses set aside and GNMT's length penalty.

    next_log_probs: ``f(prefixes) -> (N, K)`` float64 tensor, the log-probability of each
        next token after each of the N prefixes (tuples of token ids)
    eos: the end-of-sequence id;  beam_width: k >= 1;  max_len: most tokens, eos included
    alpha: the length-penalty exponent, >= 0
    Returns every hypothesis set aside, as ``(tokens, log_prob)`` sorted by
    ``log_prob / ((5 + len(tokens)) / 6) ** alpha``, best first; ties keep the order in
    which the hypotheses were set aside.
    """
    live: list[tuple[tuple[int, ...], float]] = [((), 0.0)]
    finished: list[tuple[tuple[int, ...], float]] = []
    for _ in range(max_len):
        table = next_log_probs([prefix for prefix, _ in live])
        candidates = [
            (score + float(table[i, w]), prefix + (w,))
            for i, (prefix, score) in enumerate(live)
            for w in range(table.shape[1])
        ]
        # sorted() is stable: equal scores stay in generation order (beam, then token).
        ranked = sorted((c for c in candidates if c[0] > float("-inf")), key=lambda c: -c[0])[
            :beam_width
        ]
        live = []
        for score, prefix in ranked:
            (finished if prefix[-1] == eos else live).append((prefix, score))
        if not live:
            break
    finished += live  # unfinished hypotheses still alive after max_len steps
    return sorted(finished, key=lambda h: -h[1] / ((5 + len(h[0])) / 6) ** alpha)
