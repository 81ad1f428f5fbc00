"""Answers to assignment 11: BIO tags back to spans, span-level scores, the masked token
loss, and a bidirectional tagger trained with it.

Spans are ``(start, end, entity)`` triples over word positions, end exclusive, as in
:class:`rnnkit.labelling.Sentence`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from rnnkit import labelling

ASSIGNED_IN = "ch11_sequence_labelling"


def bio_to_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """The entities a BIO tag sequence marks, in order.

    ``B-X`` starts an entity of type X; ``I-X`` continues the open entity if it has type X
    and otherwise starts one (an ``I-`` without its ``B-``, as taggers produce); ``O``
    closes the open entity. Two ``B-X`` in a row are two entities.
    """
    spans: list[tuple[int, int, str]] = []
    start, entity = None, None
    for t, tag in enumerate([*tags, "O"]):  # the sentinel closes the last entity
        prefix, _, kind = tag.partition("-")
        if prefix not in ("B", "I", "O") or (prefix == "O") != (kind == ""):
            raise ValueError(f"expected tags O, B-X or I-X, got {tag!r} at {t}")
        continues = prefix == "I" and kind == entity
        if entity is not None and not continues:
            spans.append((start, t, entity))
            start, entity = None, None
        if prefix in ("B", "I") and not continues:
            start, entity = t, kind
    return spans


def span_scores(
    gold: Sequence[Sequence[tuple[int, int, str]]], pred: Sequence[Sequence[tuple[int, int, str]]]
) -> dict[str, tuple[float, float, float]]:
    """Precision, recall and F1 of predicted spans, per entity type and over all (``"all"``).

    gold, pred: one list of spans per sentence, the same number of sentences. A predicted
    span is right only if a gold span of the same sentence has the same start, end and
    type. P = right / predicted, R = right / gold, F1 = 2PR / (P + R); each is 0 when its
    denominator is 0. Types: every type in gold or pred, sorted.
    """
    if len(gold) != len(pred):
        raise ValueError(
            f"expected as many predicted sentences as gold, got {len(pred)} and {len(gold)}"
        )
    counts: dict[str, list[int]] = {}  # type -> [right, predicted, gold]
    for g, p in zip(gold, pred, strict=True):
        g, p = set(g), set(p)
        for spans, column in ((p & g, 0), (p, 1), (g, 2)):
            for *_, kind in spans:
                for key in (kind, "all"):
                    counts.setdefault(key, [0, 0, 0])[column] += 1
    scores = {}
    for kind in sorted(k for k in counts if k != "all") + (["all"] if counts else []):
        right, predicted, total = counts[kind]
        precision = right / predicted if predicted else 0.0
        recall = right / total if total else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[kind] = (precision, recall, f1)
    return scores


def masked_token_loss(logits: Tensor, targets: Tensor, lengths: Tensor) -> Tensor:
    """Mean of -log softmax(ℓ_t)[y_t] over the real steps of a padded batch.

    logits: (T, B, K); targets: (T, B) int64, anything at padded steps (even -100);
    lengths: (B,) real lengths. Returns a 0-d tensor.
    """
    T = logits.shape[0]
    real = torch.arange(T)[:, None] < lengths[None, :]  # (T, B)
    safe = torch.where(real, targets, 0)  # padded targets may not be valid indices
    picked = logits.log_softmax(-1).gather(-1, safe[..., None])[..., 0]
    return -(picked * real).sum() / real.sum()


def train_tagger(
    loss_fn, sentences: Sequence[labelling.Sentence], vocab: dict[str, int], steps: int, seed: int
) -> labelling.Tagger:
    """A bidirectional GRU tagger (E = 32, H = 32) trained for ``steps`` Adam steps on
    batches of 32 sentences with ``loss_fn(logits, tags, lengths)`` and words dropped to
    ``<unk>`` at rate 0.1."""
    torch.manual_seed(seed)
    model = labelling.Tagger(len(vocab), 32, 32)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        pick = torch.randint(len(sentences), (32,), generator=gen).tolist()
        words, tags, lengths = labelling.tag_batch([sentences[i] for i in pick], vocab, 0.1, gen)
        loss = loss_fn(model(words, lengths), tags, lengths)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
    return model.eval()
