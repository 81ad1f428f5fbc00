r"""Answers to assignment 10 (language models): perplexity from logits, nucleus sampling,
and training with the state carried across chunks (truncated BPTT).

Instructor-only until the assignment is revealed (see ``rnnkit/answers/__init__.py``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.lm import CharLM, contiguous_batches, detach

ASSIGNED_IN = "ch10_language_models"


def perplexity(logits: np.ndarray, targets: np.ndarray) -> float:
    """exp of the mean −log softmax(ℓ_t)[y_t] over N predictions.

    logits: (N, K) float64, ℓ_t for each prediction.  targets: (N,) int64, y_t in 0 … K − 1.
    log softmax(ℓ)[y] = ℓ[y] − m − log Σ_k exp(ℓ[k] − m), with m = max_k ℓ[k] so that no
    exp overflows.
    """
    m = logits.max(axis=1, keepdims=True)
    log_norm = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    nll = log_norm - logits[np.arange(len(targets)), targets]
    return float(np.exp(nll.mean()))


def top_p_distribution(logits: Tensor, temperature: float = 1.0, top_p: float = 0.9) -> Tensor:
    """Nucleus sampling's distribution: softmax(ℓ / τ) on the smallest set of likeliest
    symbols whose probability reaches top_p, renormalised; 0 elsewhere.

    logits: (K,) or (B, K).  temperature: τ > 0.  top_p: in (0, 1].
    Returns probabilities of logits' shape.
    """
    p = torch.softmax(logits / temperature, dim=-1)
    sorted_p, order = p.sort(dim=-1, descending=True)
    before = sorted_p.cumsum(dim=-1) - sorted_p  # mass of the likelier symbols
    keep_sorted = before < top_p  # the likeliest one always stays
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    kept = torch.where(keep, p, torch.zeros_like(p))
    return kept / kept.sum(dim=-1, keepdim=True)


def train_char_lm(
    ids: Tensor,
    vocab_size: int,
    hidden_size: int,
    steps: int,
    seed: int = 0,
    cell: str = "lstm",
    batch_size: int = 32,
    seq_len: int = 64,
    lr: float = 3e-3,
    carry: bool = True,
) -> tuple[CharLM, list[float]]:
    """Train a CharLM on ids (N,) int64 with truncated BPTT -> (model, losses).

    The model is ``CharLM(vocab_size, hidden_size, cell)`` made right after
    ``torch.manual_seed(seed)``. Adam (lr, torch's other defaults) takes one step per chunk
    of :func:`rnnkit.lm.contiguous_batches` (batch_size, seq_len), passing over ids again
    as often as ``steps`` needs, on the mean cross-entropy of the chunk with the gradient
    norm clipped to 1. The state is carried, detached, from chunk to chunk if ``carry``
    (from zeros at the start of each pass), else every chunk starts from zeros.
    losses: the ``steps`` training losses (nats per character) as floats.
    """
    torch.manual_seed(seed)
    model = CharLM(vocab_size, hidden_size, cell)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses: list[float] = []
    while len(losses) < steps:
        state = None
        for x, y in contiguous_batches(ids, batch_size, seq_len):
            logits, state = model(x, state if carry else None)
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            state = detach(state)
            losses.append(loss.item())
            if len(losses) == steps:
                break
    return model, losses
