"""The instructors' answers to assignment 8, each checked against an independent truth.

Additive attention against a hand computation, a per-example loop and autograd's
numerical gradient check; the masked loss against torch's cross-entropy over the real
tokens; beam search against greedy decoding (width 1), exhaustive enumeration (a beam wide
enough to keep everything) and outcomes worked by hand.
"""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from rnnkit.answers.ch08_seq2seq import additive_attention, beam_search, masked_loss
from rnnkit.seq2seq import length_mask

# --- additive attention ---------------------------------------------------------------------


def _attention_case(seed=0, lengths=(6, 1, 4), H_q=3, H_k=4, A=5, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    S, B = max(lengths), len(lengths)
    shapes = [(B, H_q), (S, B, H_k), (A, H_q), (A, H_k), (A,)]
    query, keys, W_q, W_k, v = (torch.randn(s, generator=gen, dtype=dtype) for s in shapes)
    return query, keys, length_mask(torch.tensor(lengths), S), W_q, W_k, v


def test_additive_attention_matches_a_hand_computation():
    # W_q q = 0.5 - 0.5 = 0. Key 1 is 0, so e_1 = 2 tanh(0) = 0. Key 2 is (ln(3)/2, 0) and
    # tanh(ln(3)/2) = (3 - 1) / (3 + 1) = 1/2, so e_2 = 1. Key 3 is padding.
    query = torch.tensor([[1.0, 0.5]], dtype=torch.float64)
    keys = torch.tensor([[[0.0, 0.0]], [[math.log(3) / 2, 0.0]], [[7.0, 7.0]]]).double()
    mask = torch.tensor([[True], [True], [False]])
    W_q, W_k, v = torch.tensor([[0.5, -1.0]]), torch.tensor([[1.0, 2.0]]), torch.tensor([2.0])
    context, weights = additive_attention(query, keys, mask, W_q.double(), W_k.double(), v.double())
    e = math.e
    assert torch.allclose(weights, torch.tensor([[1 / (1 + e), e / (1 + e), 0.0]]).double())
    expected = torch.tensor([[e / (1 + e) * math.log(3) / 2, 0.0]], dtype=torch.float64)
    assert torch.allclose(context, expected)


def test_additive_attention_matches_a_loop_over_examples_and_positions():
    query, keys, mask, W_q, W_k, v = _attention_case()
    context, weights = additive_attention(query, keys, mask, W_q, W_k, v)
    for b, n in enumerate([6, 1, 4]):
        scores = torch.stack([v @ torch.tanh(W_q @ query[b] + W_k @ keys[j, b]) for j in range(n)])
        alpha = torch.softmax(scores, dim=0)
        assert torch.allclose(weights[b, :n], alpha, atol=1e-14)
        assert torch.all(weights[b, n:] == 0)
        assert torch.allclose(context[b], (alpha[:, None] * keys[:n, b]).sum(0), atol=1e-14)


def test_additive_attention_gradients_pass_a_numerical_check():
    query, keys, mask, W_q, W_k, v = _attention_case(seed=1, lengths=(3, 2), A=2)
    inputs = [t.requires_grad_(True) for t in (query, keys, W_q, W_k, v)]

    def both(query, keys, W_q, W_k, v):
        return additive_attention(query, keys, mask, W_q, W_k, v)

    assert torch.autograd.gradcheck(both, inputs)


def test_additive_attention_keeps_float32_and_survives_huge_scores():
    query, keys, mask, W_q, W_k, v = _attention_case(seed=2, dtype=torch.float32)
    context, weights = additive_attention(query, keys, mask, W_q, W_k, 1e4 * v)
    assert context.dtype == weights.dtype == torch.float32
    assert torch.isfinite(context).all() and torch.allclose(weights.sum(1), torch.ones(3))


# --- masked loss ----------------------------------------------------------------------------


def _padded_batch(T=5, B=4, K=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(T, B, K, generator=gen, dtype=torch.float64)
    targets = torch.randint(0, K, (T, B), generator=gen)
    lengths = torch.tensor([5, 1, 3, 2])[:B]
    return logits, targets, lengths


def test_masked_loss_equals_torch_cross_entropy_over_the_real_tokens_only():
    logits, targets, lengths = _padded_batch()
    # Collect the real tokens with a plain loop, independently of any mask.
    real_logits = [logits[t, b] for b in range(4) for t in range(int(lengths[b]))]
    real_targets = [targets[t, b] for b in range(4) for t in range(int(lengths[b]))]
    expected = F.cross_entropy(torch.stack(real_logits), torch.stack(real_targets))
    assert torch.allclose(masked_loss(logits, targets, lengths), expected, atol=1e-12)


def test_masked_loss_divides_by_real_tokens_not_by_padded_length():
    # Uniform logits: every real token costs exactly log K, so the mean per token is log K.
    # Dividing each sequence by the padded length T = 3 would give (1 + 3) / 3 / 2 log K.
    K = 4
    logits = torch.zeros(3, 2, K, dtype=torch.float64)
    targets = torch.zeros(3, 2, dtype=torch.long)
    loss = masked_loss(logits, targets, torch.tensor([1, 3]))
    assert loss.item() == pytest.approx(math.log(K), abs=1e-14)


def test_masked_loss_ignores_what_the_padding_holds_and_gives_it_no_gradient():
    logits, targets, lengths = _padded_batch()
    loss = masked_loss(logits, targets, lengths)
    pad = ~length_mask(lengths, 5)
    noisy_logits = logits.clone()
    noisy_logits[pad] = torch.tensor([float("nan"), float("inf"), 1e30, -1e30, 0.0, 3.0]).double()
    noisy_logits.requires_grad_(True)
    noisy_targets = targets.clone()
    noisy_targets[pad] = -100  # out of range: would fail if it were ever used as an index
    noisy = masked_loss(noisy_logits, noisy_targets, lengths)
    assert noisy.item() == loss.item()
    noisy.backward()
    assert torch.all(noisy_logits.grad[pad] == 0)
    assert torch.all(noisy_logits.grad[~pad].abs().sum(-1) > 0)


def test_masked_loss_is_the_same_with_more_padding():
    logits, targets, lengths = _padded_batch()
    more_logits = torch.cat([logits, torch.randn(3, 4, 6, dtype=torch.float64)])
    more_targets = torch.cat([targets, torch.zeros(3, 4, dtype=torch.long)])
    longer = masked_loss(more_logits, more_targets, lengths)
    assert torch.allclose(longer, masked_loss(logits, targets, lengths), rtol=0, atol=1e-15)


# --- beam search ----------------------------------------------------------------------------

EOS = 0


def _table_scorer(probabilities):
    """next_log_probs for a table ``prefix -> probabilities of the next token``."""

    def next_log_probs(prefixes):
        rows = [probabilities(tuple(prefix)) for prefix in prefixes]
        return torch.tensor(rows, dtype=torch.float64).log()

    return next_log_probs


def _random_model(seed, K=3):
    """A made-up language model: every prefix gets its own seeded random distribution."""

    def probabilities(prefix):
        gen = torch.Generator().manual_seed(hash((seed, prefix)) % 2**31)
        p = torch.rand(K, generator=gen, dtype=torch.float64) + 0.05
        return (p / p.sum()).tolist()

    return probabilities


# The course's worked example: tokens eos 0, A 1, B 2. Greedy takes A (0.5), then eos
# (0.4): P = 0.2. "B eos" has P = 0.4 * 0.9 = 0.36, which a beam of 2 finds.
def _worked_example(prefix):
    if prefix == ():
        return [0.1, 0.5, 0.4]
    if prefix == (1,):
        return [0.4, 0.3, 0.3]
    if len(prefix) == 1:
        return [0.9, 0.05, 0.05]
    return [0.9, 0.05, 0.05] if len(prefix) == 2 else [1.0, 0.0, 0.0]


def test_beam_search_finds_what_greedy_misses_on_the_worked_example():
    found = beam_search(_table_scorer(_worked_example), EOS, beam_width=2, max_len=3)
    assert [tokens for tokens, _ in found] == [(2, 0), (1, 0)]
    assert [score for _, score in found] == pytest.approx([math.log(0.36), math.log(0.2)])
    greedy = beam_search(_table_scorer(_worked_example), EOS, beam_width=1, max_len=3)
    assert greedy[0][0] == (1, 0)


def test_beam_search_breaks_ties_by_beam_then_token_and_keeps_unfinished_at_max_len():
    # Width 3: step 1 keeps all three tokens and sets "eos" aside. After step 2, "A A" and
    # "A B" tie at log(0.15); "A A" (lower token) wins the last place. Step 3 sets
    # "A A eos" aside; "A A A" and "A A B" (tied) are still alive at max_len.
    found = beam_search(_table_scorer(_worked_example), EOS, beam_width=3, max_len=3)
    expected = [(2, 0), (1, 0), (1, 1, 0), (0,), (1, 1, 1), (1, 1, 2)]
    assert [tokens for tokens, _ in found] == expected
    assert found[4][1] == found[5][1] == pytest.approx(math.log(0.5 * 0.3 * 0.05))


def test_beam_search_length_penalty_changes_which_finished_hypothesis_wins():
    # "eos" alone: P = 0.5; "A eos": P = 0.4. GNMT's penalty with alpha = 2 divides by
    # (6/6)^2 = 1 and (7/6)^2: log 0.4 / 1.361 = -0.673 beats log 0.5 = -0.693.
    table = {(): [0.5, 0.5, 0.0], (1,): [0.8, 0.2, 0.0], (1, 1): [1.0, 0.0, 0.0]}
    scorer = _table_scorer(lambda prefix: table[prefix])
    plain = beam_search(scorer, EOS, beam_width=2, max_len=3)
    penalised = beam_search(scorer, EOS, beam_width=2, max_len=3, alpha=2.0)
    assert plain[0][0] == (0,) and penalised[0][0] == (1, 0)
    assert penalised[0][1] == pytest.approx(math.log(0.4))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_search_of_width_one_is_greedy_decoding(seed):
    model = _random_model(seed)
    prefix, score = (), 0.0
    while len(prefix) < 5 and (not prefix or prefix[-1] != EOS):
        p = model(prefix)
        token = max(range(3), key=lambda w: p[w])
        prefix, score = prefix + (token,), score + math.log(p[token])
    found = beam_search(_table_scorer(model), EOS, beam_width=1, max_len=5)
    assert found[0][0] == prefix and found[0][1] == pytest.approx(score, abs=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.7])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_beam_that_keeps_everything_is_an_exhaustive_search(seed, alpha):
    model, K, max_len = _random_model(seed), 3, 4
    outputs = []  # every sequence that ends at its first eos, or runs to max_len
    for n in range(1, max_len + 1):
        for tokens in itertools.product(range(K), repeat=n):
            if EOS in tokens[:-1] or (tokens[-1] != EOS and n < max_len):
                continue
            log_p = sum(math.log(model(tokens[:i])[w]) for i, w in enumerate(tokens))
            outputs.append((tokens, log_p))
    outputs.sort(key=lambda h: -h[1] / ((5 + len(h[0])) / 6) ** alpha)
    found = beam_search(_table_scorer(model), EOS, beam_width=K**max_len, max_len=max_len)
    found = sorted(found, key=lambda h: -h[1] / ((5 + len(h[0])) / 6) ** alpha)
    assert [t for t, _ in found] == [t for t, _ in outputs]
    assert [s for _, s in found] == pytest.approx([s for _, s in outputs], abs=1e-12)
