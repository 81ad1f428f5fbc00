r"""Character n-gram count models: the baseline every character-level model must beat.

An order-n model predicts the next symbol from the n − 1 symbols before it, by counting.
Raw relative frequencies give probability 0 to anything the training text never showed,
so the counts are smoothed by *interpolated absolute discounting* (Ney, Essen and Kneser
1994; Kneser–Ney without its continuation counts): every seen count gives up a discount d,
and the mass freed is spread by the model one order lower,

    P_m(x | h) = max(c(h x) − d, 0) / c(h) + d · N₁₊(h ·) / c(h) · P_{m−1}(x | h′)

where h is the last m − 1 symbols, h′ is h without its oldest symbol, c(h) is how often h
was followed by anything, N₁₊(h ·) is the number of distinct symbols seen after h, and
P_0(x) = 1 / K is uniform. A context never seen (c(h) = 0) falls back to P_{m−1}
entirely. Every P_m sums to 1 over the K symbols, so the bits per character it reports are
a fair score next to a neural model's cross-entropy.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np


class CharNGram:
    """An order-n character model with interpolated absolute discounting.

    order: n ≥ 1, the symbols seen = the n − 1 before the one predicted (1: unigram).
    vocab_size: K, symbols are the integers 0 … K − 1.
    discount: d in [0, 1), taken from every seen count (0: no smoothing above P_0).
    """

    def __init__(self, order: int, vocab_size: int, discount: float = 0.75) -> None:
        for name, value in (("order", order), ("vocab_size", vocab_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not 0 <= discount < 1:
            raise ValueError(f"discount must be in [0, 1), got {discount}")
        self.order, self.vocab_size, self.discount = order, vocab_size, discount
        # counts[m][h] = Counter of the symbols that followed context h (a tuple of m ids)
        self.counts: list[defaultdict[tuple[int, ...], Counter[int]]] = [
            defaultdict(Counter) for _ in range(order)
        ]

    def fit(self, ids: Sequence[int] | np.ndarray) -> CharNGram:
        """Count every context of 0 … n − 1 symbols in ``ids`` (N,) and what followed it.

        Calling ``fit`` again adds to the counts. Returns the model.
        """
        ids = self._symbols(ids)
        for t, x in enumerate(ids):
            for m in range(min(t, self.order - 1) + 1):
                self.counts[m][tuple(ids[t - m : t])][x] += 1
        return self

    def distribution(self, context: Sequence[int]) -> np.ndarray:
        """P(· | context): (K,) probabilities of the next symbol, summing to 1.

        context: the symbols before it, oldest first; only the last n − 1 are used, and a
        shorter one (the start of a text) uses the orders it has.
        """
        context = self._symbols(context)
        context = context[len(context) - min(len(context), self.order - 1) :]
        p = np.full(self.vocab_size, 1.0 / self.vocab_size)
        for m in range(len(context) + 1):  # unigram first, then longer contexts
            seen = self.counts[m].get(tuple(context[len(context) - m :]))
            if not seen:
                break  # a longer context that contains this one is unseen too
            total = sum(seen.values())
            keys = np.fromiter(seen.keys(), dtype=np.int64, count=len(seen))
            values = np.fromiter(seen.values(), dtype=np.float64, count=len(seen))
            p = p * (self.discount * len(seen) / total)
            p[keys] += np.maximum(values - self.discount, 0.0) / total
        return p

    def bits_per_char(self, ids: Sequence[int] | np.ndarray) -> float:
        """Mean −log₂ P(ids[t] | the n − 1 symbols before it) over t = 1 … N − 1.

        ids: (N,) a text the model has not been fit on. The first symbol, which has no
        context, is not scored, as in a next-character model that reads ids[t − 1] and
        predicts ids[t].
        """
        ids = self._symbols(ids)
        if len(ids) < 2:
            raise ValueError(f"need at least 2 symbols to score, got {len(ids)}")
        total = 0.0
        for t in range(1, len(ids)):
            context = ids[max(0, t - self.order + 1) : t]
            total -= math.log2(self.distribution(context)[ids[t]])
        return total / (len(ids) - 1)

    def _symbols(self, ids: Sequence[int] | np.ndarray) -> list[int]:
        ids = np.asarray(ids)
        if ids.size and (ids.ndim != 1 or ids.dtype.kind not in "iu"):
            raise ValueError(f"expected a 1-D sequence of int ids, got shape {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"ids must be in 0 … {self.vocab_size - 1}")
        return ids.tolist()
