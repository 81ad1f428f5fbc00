"""The instructors' answers to assignment 10, against torch and numbers worked by hand."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnkit.answers.ch10_language_models import perplexity, top_p_distribution, train_char_lm
from rnnkit.lm import CharLM


@pytest.mark.parametrize("shift", [0.0, 800.0, -800.0])
def test_perplexity_matches_torch_cross_entropy_even_for_huge_logits(shift):
    rng = np.random.default_rng(0)
    logits = 2.0 * rng.normal(size=(20, 9)) + shift
    targets = rng.integers(0, 9, size=20)
    expected = math.exp(
        F.cross_entropy(torch.from_numpy(logits - shift), torch.from_numpy(targets)).item()
    )
    assert perplexity(logits, targets) == pytest.approx(expected, rel=1e-12)


def test_perplexity_of_uniform_logits_is_k():
    assert perplexity(np.zeros((3, 7)), np.array([0, 4, 6])) == pytest.approx(7.0, rel=1e-14)


def test_top_p_keeps_the_smallest_set_that_reaches_p():
    q = torch.tensor([0.1, 0.5, 0.15, 0.25], dtype=torch.float64)
    cases = {0.7: [0, 2 / 3, 0, 1 / 3], 0.4: [0, 1, 0, 0], 0.95: [0.1, 0.5, 0.15, 0.25]}
    for p, expected in cases.items():
        got = top_p_distribution(q.log(), 1.0, p)
        torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64) / sum(expected))


def test_top_p_one_is_the_tempered_softmax_and_rows_are_independent():
    logits = torch.randn(5, 11, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(
        top_p_distribution(logits, 0.7, 1.0), torch.softmax(logits / 0.7, dim=-1)
    )
    rows = torch.stack([top_p_distribution(row, 1.3, 0.6) for row in logits])
    torch.testing.assert_close(top_p_distribution(logits, 1.3, 0.6), rows)


def test_train_char_lm_first_loss_is_the_seeded_models_cross_entropy():
    ids = torch.randint(0, 6, (200,), generator=torch.Generator().manual_seed(1))
    _, losses = train_char_lm(ids, 6, 8, steps=1, seed=4, batch_size=3, seq_len=5)
    torch.manual_seed(4)
    fresh = CharLM(6, 8, "lstm")
    starts = torch.arange(3) * (199 // 3)
    x = ids[starts[:, None] + torch.arange(5)].T
    y = ids[starts[:, None] + torch.arange(1, 6)].T
    logits, _ = fresh(x)
    assert losses == [
        pytest.approx(F.cross_entropy(logits.flatten(0, 1), y.flatten()).item(), rel=1e-6)
    ]


def test_carrying_changes_only_the_chunks_after_the_first_of_each_pass():
    ids = torch.randint(0, 6, (41,), generator=torch.Generator().manual_seed(2))
    # 4 streams of 10 targets, chunks of 5: two chunks a pass
    _, carried = train_char_lm(ids, 6, 8, 4, batch_size=4, seq_len=5, carry=True)
    _, reset = train_char_lm(ids, 6, 8, 4, batch_size=4, seq_len=5, carry=False)
    assert carried[0] == reset[0]
    assert carried[1] != pytest.approx(reset[1], abs=1e-6)
    # a text that fits in one chunk restarts from zeros every pass either way
    _, one_carried = train_char_lm(ids[:21], 6, 8, 3, batch_size=4, seq_len=5, carry=True)
    _, one_reset = train_char_lm(ids[:21], 6, 8, 3, batch_size=4, seq_len=5, carry=False)
    assert one_carried == one_reset and len(one_carried) == 3
