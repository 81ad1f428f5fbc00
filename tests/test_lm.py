"""rnnkit.lm: contiguous batches, carried state, perplexity by hand, sampling, features."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnkit.lm import (
    CharLM,
    contiguous_batches,
    mean_nll,
    python_features,
    sample,
    sampling_distribution,
)


def constant_model(probs: list[float]) -> CharLM:
    """A CharLM whose every prediction is probs, whatever it reads (V = 0, b_y = log p)."""
    model = CharLM(len(probs), 4, "gru", embedding_size=3)
    with torch.no_grad():
        model.readout.weight.zero_()
        model.readout.bias.copy_(torch.tensor(probs).log())
    return model


def test_contiguous_batches_continue_each_row_in_the_next_chunk():
    chunks = list(contiguous_batches(torch.arange(11), batch_size=2, seq_len=3))
    # (11 − 1) // 2 = 5 targets per stream: stream 0 reads 0…5, stream 1 reads 5…10
    assert [x.T.tolist() for x, _ in chunks] == [[[0, 1, 2], [5, 6, 7]], [[3, 4], [8, 9]]]
    assert [y.T.tolist() for _, y in chunks] == [[[1, 2, 3], [6, 7, 8]], [[4, 5], [9, 10]]]


def test_contiguous_batches_make_every_character_a_target_once():
    ids = torch.arange(1001)
    targets = torch.cat([y.T for _, y in contiguous_batches(ids, 4, 7)], dim=1).flatten()
    assert sorted(targets.tolist()) == list(range(1, 1001))


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_carried_state_over_chunks_equals_one_long_sequence(cell):
    torch.manual_seed(0)
    model = CharLM(7, 5, cell, embedding_size=3).double()
    ids = torch.randint(0, 7, (41,))
    whole, _ = model(ids[:-1, None])
    pieces, state = [], None
    for x, _ in contiguous_batches(ids, batch_size=1, seq_len=6):
        logits, state = model(x, state)
        pieces.append(logits)
    torch.testing.assert_close(torch.cat(pieces), whole, rtol=0, atol=1e-12)


def test_mean_nll_with_carried_state_is_the_cross_entropy_of_one_long_run():
    torch.manual_seed(1)
    model = CharLM(6, 8, "lstm", embedding_size=4)
    ids = torch.randint(0, 6, (301,))
    logits, _ = model(ids[:-1, None])
    expected = F.cross_entropy(logits[:, 0], ids[1:]).item()
    assert mean_nll(model, ids, batch_size=1, seq_len=17) == pytest.approx(expected, rel=1e-6)


def test_mean_nll_of_a_constant_model_by_hand():
    # p = (1/4, 3/4); the text 0 1 1 0 1 asks for 1, 1, 0, 1
    nll = mean_nll(constant_model([0.25, 0.75]), torch.tensor([0, 1, 1, 0, 1]), 1, 2)
    assert nll == pytest.approx((3 * math.log(4 / 3) + math.log(4)) / 4, rel=1e-6)
    # perplexity = (0.75³ · 0.25)^(−1/4) = (256 / 27)^(1/4)
    assert math.exp(nll) == pytest.approx((256 / 27) ** 0.25, rel=1e-6)


def test_a_uniform_model_has_perplexity_k_and_log2_k_bits():
    nll = mean_nll(constant_model([0.2] * 5), torch.tensor([0, 3, 4, 1, 2, 2, 0]), 2, 2)
    assert math.exp(nll) == pytest.approx(5.0, rel=1e-6)
    assert nll / math.log(2) == pytest.approx(math.log2(5), rel=1e-6)


def test_mean_nll_without_carry_resets_the_state_every_chunk():
    torch.manual_seed(2)
    model = CharLM(6, 8, "gru", embedding_size=4)
    ids = torch.randint(0, 6, (41,))
    total = 0.0
    for start in range(0, 40, 10):  # four independent windows of 10 predictions
        logits, _ = model(ids[start : start + 10, None])
        total += F.cross_entropy(logits[:, 0], ids[start + 1 : start + 11], reduction="sum")
    got = mean_nll(model, ids, batch_size=1, seq_len=10, carry=False)
    assert got == pytest.approx(total.item() / 40, rel=1e-6)


def test_sampling_distribution_by_hand():
    logits = torch.tensor([0.0, math.log(2), math.log(4)], dtype=torch.float64)
    expected = {
        (1.0, None): [1 / 7, 2 / 7, 4 / 7],
        (0.5, None): [1 / 21, 4 / 21, 16 / 21],  # τ = 1/2 squares the odds
        (1.0, 2): [0.0, 1 / 3, 2 / 3],
        (2.0, 1): [0.0, 0.0, 1.0],
    }
    for (temperature, top_k), p in expected.items():
        got = sampling_distribution(logits, temperature, top_k)
        torch.testing.assert_close(got, torch.tensor(p, dtype=torch.float64))


def test_sampling_distribution_works_on_a_batch_and_keeps_ties():
    logits = torch.tensor([[1.0, 1.0, 0.0], [3.0, 2.0, 1.0]])
    got = sampling_distribution(logits, top_k=1)
    torch.testing.assert_close(got, torch.tensor([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]]))


def test_sampling_distribution_rejects_bad_arguments():
    with pytest.raises(ValueError, match="temperature"):
        sampling_distribution(torch.zeros(3), temperature=0.0)
    with pytest.raises(ValueError, match="top_k"):
        sampling_distribution(torch.zeros(3), top_k=4)


def test_sample_draws_from_the_filtered_distribution_and_repeats_with_the_seed():
    model = constant_model([0.1, 0.2, 0.3, 0.4])
    prompt = torch.tensor([0])
    drawn = sample(model, prompt, 4000, torch.Generator().manual_seed(0), top_k=2)
    freq = torch.bincount(drawn, minlength=4).double() / 4000
    # top-2 keeps 0.3 and 0.4: 3/7 and 4/7; 4,000 draws put each within ~0.025 (3 s.d.)
    torch.testing.assert_close(
        freq, torch.tensor([0, 0, 3 / 7, 4 / 7]).double(), atol=0.025, rtol=0
    )
    again = sample(model, prompt, 4000, torch.Generator().manual_seed(0), top_k=2)
    assert torch.equal(drawn, again)


def test_python_features_mark_strings_brackets_and_indentation():
    source = "x = f('a(', [1,\n    2])\n"
    feats = python_features(source)
    assert "".join(c for c, s in zip(source, feats["in string"], strict=True) if s) == "'a('"
    depth = dict(enumerate(feats["bracket depth"]))
    assert depth[source.index("f")] == 0 and depth[source.index("'")] == 1
    assert depth[source.index("2")] == 2 and depth[len(source) - 2] == 0
    np.testing.assert_array_equal(feats["indentation"], [0] * 16 + [4] * 8)


def test_char_lm_rejects_an_unknown_cell():
    with pytest.raises(ValueError, match="cell must be one of"):
        CharLM(5, 4, "transformer")
