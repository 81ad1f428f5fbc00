"""rnnkit.ngram: the smoothed character n-gram model, against numbers worked by hand."""

import math

import numpy as np
import pytest

from rnnkit.ngram import CharNGram

ABAB = [0, 1, 0, 1]  # "abab" with a = 0, b = 1


def test_unigram_with_half_discount_matches_hand_worked_numbers():
    # counts a: 2, b: 2 of N = 4, two distinct symbols; K = 3 so the unseen c gets mass:
    # P(a) = (2 - 0.5)/4 + 0.5·2/4 · 1/3 = 0.375 + 1/12;  P(c) = 0.5·2/4 · 1/3 = 1/12
    model = CharNGram(1, 3, discount=0.5).fit(ABAB)
    assert np.allclose(model.distribution([]), [0.375 + 1 / 12, 0.375 + 1 / 12, 1 / 12])


def test_bigram_interpolates_with_the_unigram_as_worked_by_hand():
    # after a: b twice, so P(b|a) = (2 - 0.5)/2 + 0.5·1/2 · P1(b) = 0.75 + 0.25·0.5
    # after b: a once,  so P(a|b) = (1 - 0.5)/1 + 0.5·1/1 · P1(a) = 0.5 + 0.5·0.5
    model = CharNGram(2, 2, discount=0.5).fit(ABAB)
    assert np.allclose(model.distribution([0]), [0.125, 0.875])
    assert np.allclose(model.distribution([1]), [0.75, 0.25])
    # only the last symbol of a longer context counts for a bigram
    assert np.allclose(model.distribution([1, 1, 0]), [0.125, 0.875])


def test_bits_per_char_scores_every_symbol_after_the_first_as_worked_by_hand():
    model = CharNGram(2, 2, discount=0.5).fit(ABAB)
    # "abba": P(b|a) = 0.875, P(b|b) = 0.25, P(a|b) = 0.75
    expected = -(math.log2(0.875) + math.log2(0.25) + math.log2(0.75)) / 3
    assert model.bits_per_char([0, 1, 1, 0]) == pytest.approx(expected, rel=1e-12)


def test_unseen_context_falls_back_to_the_lower_order():
    model = CharNGram(3, 3, discount=0.5).fit(ABAB)
    bigram = CharNGram(2, 3, discount=0.5).fit(ABAB)
    # the context (b, b) never occurred: the trigram model uses P2(· | b)
    assert np.allclose(model.distribution([1, 1]), bigram.distribution([1]))


def test_untrained_model_is_uniform_and_scores_log2_k():
    model = CharNGram(4, 8)
    assert np.allclose(model.distribution([1, 2, 3]), np.full(8, 1 / 8))
    assert model.bits_per_char([0, 5, 7, 2]) == pytest.approx(3.0)


def test_every_distribution_sums_to_one_on_a_random_text():
    rng = np.random.default_rng(0)
    text = rng.integers(0, 5, size=500)
    for order in (1, 2, 3, 5):
        model = CharNGram(order, 7, discount=0.75).fit(text)
        for t in range(0, 40):
            p = model.distribution(text[t : t + order - 1])
            assert p.sum() == pytest.approx(1.0, abs=1e-12) and (p > 0).all()


def test_zero_discount_unigram_is_the_relative_frequency():
    model = CharNGram(1, 3, discount=0.0).fit([0, 0, 0, 1])
    assert np.allclose(model.distribution([]), [0.75, 0.25, 0.0])


def test_higher_order_predicts_a_repetitive_text_better():
    text = np.tile([0, 1, 2, 0, 2, 1], 50)
    scores = [CharNGram(n, 3).fit(text[:240]).bits_per_char(text[240:]) for n in (1, 2, 3)]
    assert scores[0] > scores[1] > scores[2]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"order": 0, "vocab_size": 3}, "order must be a positive int"),
        ({"order": 2, "vocab_size": 3, "discount": 1.0}, r"discount must be in \[0, 1\)"),
    ],
)
def test_bad_settings_are_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CharNGram(**kwargs)


def test_ids_outside_the_vocabulary_are_a_value_error():
    with pytest.raises(ValueError, match="ids must be in 0 … 2"):
        CharNGram(2, 3).fit([0, 3])
