"""Tests for rnnkit.seq2seq: the masked loss, additive attention, the model and decoding."""

import math

import pytest
import torch
import torch.nn.functional as F

from rnnkit import tasks
from rnnkit.seq2seq import (
    AdditiveAttention,
    Decoder,
    DecoderState,
    Encoder,
    Seq2Seq,
    beam_search,
    beam_search_step,
    greedy_decode,
    length_mask,
    masked_cross_entropy,
)

PAD, BOS, EOS = 0, 1, 2


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The models here are tiny: a second thread only adds synchronisation, which costs
    several times the work itself on a busy two-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _padded_batch(T=5, B=4, K=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(T, B, K, generator=gen, dtype=torch.float64)
    targets = torch.randint(0, K, (T, B), generator=gen)
    lengths = torch.tensor([5, 1, 3, 2])[:B]
    return logits, targets, lengths


def _model(attention: bool, seed=0, src_vocab=9, tgt_vocab=7, hidden=8):
    torch.manual_seed(seed)
    encoder = Encoder(src_vocab, 5, hidden, pad_id=PAD)
    decoder = Decoder(tgt_vocab, 4, hidden, hidden, 6 if attention else None)
    return Seq2Seq(encoder, decoder, BOS, EOS, PAD).double()


def _source(seed=1, S=6, B=3, vocab=9):
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(3, vocab, (S, B), generator=gen)
    lengths = torch.tensor([6, 2, 4])[:B]
    src[length_mask(lengths, S).logical_not()] = PAD
    return src, lengths


# --- masked_cross_entropy -------------------------------------------------------------------


def test_masked_cross_entropy_equals_torch_cross_entropy_over_the_real_tokens_only():
    logits, targets, lengths = _padded_batch()
    # Collect the real tokens with a plain loop, independently of length_mask.
    real_logits = [logits[t, b] for b in range(4) for t in range(int(lengths[b]))]
    real_targets = [targets[t, b] for b in range(4) for t in range(int(lengths[b]))]
    expected = F.cross_entropy(torch.stack(real_logits), torch.stack(real_targets))
    assert torch.allclose(masked_cross_entropy(logits, targets, lengths), expected, atol=1e-12)


def test_masked_cross_entropy_divides_by_real_tokens_not_by_padded_length():
    # Uniform logits: every real token costs exactly log K, so the mean per token is log K.
    # Averaging over the padded time axis first (d2l.ai issue #2076) would give
    # (1 + 3) / 3 / 2 * log K = 2/3 log K for these lengths.
    K = 4
    logits = torch.zeros(3, 2, K, dtype=torch.float64)
    targets = torch.zeros(3, 2, dtype=torch.long)
    loss = masked_cross_entropy(logits, targets, torch.tensor([1, 3]))
    assert loss.item() == pytest.approx(math.log(K), abs=1e-14)


def test_masked_cross_entropy_ignores_what_the_padding_holds():
    logits, targets, lengths = _padded_batch()
    loss = masked_cross_entropy(logits, targets, lengths)
    pad = ~length_mask(lengths, 5)
    noisy_logits = logits.clone()
    noisy_logits[pad] = torch.tensor([float("nan"), float("inf"), 1e30, -1e30, 0.0, 3.0]).double()
    noisy_targets = targets.clone()
    noisy_targets[pad] = -100  # out of range: would fail if it were ever used as an index
    assert masked_cross_entropy(noisy_logits, noisy_targets, lengths).item() == loss.item()


def test_masked_cross_entropy_is_the_same_with_more_padding():
    logits, targets, lengths = _padded_batch()
    more_logits = torch.cat([logits, torch.randn(3, 4, 6, dtype=torch.float64)])
    more_targets = torch.cat([targets, torch.zeros(3, 4, dtype=torch.long)])
    assert torch.allclose(
        masked_cross_entropy(more_logits, more_targets, lengths),
        masked_cross_entropy(logits, targets, lengths),
        rtol=0,
        atol=1e-15,
    )


def test_masked_cross_entropy_gives_padded_logits_zero_gradient():
    logits, targets, lengths = _padded_batch()
    logits.requires_grad_(True)
    masked_cross_entropy(logits, targets, lengths).backward()
    pad = ~length_mask(lengths, 5)
    assert torch.all(logits.grad[pad] == 0)
    assert torch.all(logits.grad[~pad].abs().sum(-1) > 0)


def test_masked_cross_entropy_accepts_a_mask_equal_to_the_lengths():
    logits, targets, lengths = _padded_batch()
    mask = length_mask(lengths, 5)
    assert masked_cross_entropy(logits, targets, mask=mask) == masked_cross_entropy(
        logits, targets, lengths
    )


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda lg, tg, ln: (lg[0], tg, ln, None), "logits must be"),
        (lambda lg, tg, ln: (lg, tg[:2], ln, None), "targets must be"),
        (lambda lg, tg, ln: (lg, tg.double(), ln, None), "targets must be"),
        (lambda lg, tg, ln: (lg, tg, None, None), "exactly one"),
        (lambda lg, tg, ln: (lg, tg, ln, length_mask(ln, 5)), "exactly one"),
        (lambda lg, tg, ln: (lg, tg, None, torch.zeros(5, 4, dtype=torch.bool)), "no token"),
        (lambda lg, tg, ln: (lg, tg, None, torch.ones(5, 4)), "mask must be"),
        (lambda lg, tg, ln: (lg, tg, torch.tensor([5, 1, 9, 2]), None), "lengths must"),
    ],
)
def test_masked_cross_entropy_rejects_bad_input(change, message):
    logits, targets, lengths, mask = change(*_padded_batch())
    with pytest.raises(ValueError, match=message):
        masked_cross_entropy(logits, targets, lengths, mask)


# --- attention ------------------------------------------------------------------------------


def test_additive_attention_matches_a_hand_computation():
    attention = AdditiveAttention(query_size=2, key_size=2, hidden_size=1).double()
    with torch.no_grad():
        attention.query_proj.weight.copy_(torch.tensor([[0.5, -1.0]]))
        attention.key_proj.weight.copy_(torch.tensor([[1.0, 2.0]]))
        attention.score.weight.copy_(torch.tensor([[2.0]]))
    # W_q q = 0.5 - 0.5 = 0. Key 1 is 0, so e_1 = 2 tanh(0) = 0. Key 2 is (ln(3)/2, 0) and
    # tanh(ln(3)/2) = (3 - 1) / (3 + 1) = 1/2, so e_2 = 1. Key 3 is padding.
    query = torch.tensor([[1.0, 0.5]], dtype=torch.float64)
    keys = torch.tensor([[[0.0, 0.0]], [[math.log(3) / 2, 0.0]], [[7.0, 7.0]]]).double()
    mask = torch.tensor([[True], [True], [False]])
    context, weights = attention(query, keys, mask)
    e = math.e
    assert torch.allclose(weights, torch.tensor([[1 / (1 + e), e / (1 + e), 0.0]]).double())
    expected = torch.tensor([[e / (1 + e) * math.log(3) / 2, 0.0]], dtype=torch.float64)
    assert torch.allclose(context, expected)


def test_attention_weights_sum_to_one_and_are_exactly_zero_on_padding():
    torch.manual_seed(0)
    attention = AdditiveAttention(3, 4, 5)
    keys = torch.randn(6, 3, 4)
    mask = length_mask(torch.tensor([6, 1, 4]), 6)
    _, weights = attention(torch.randn(3, 3), keys, mask)
    assert weights.shape == (3, 6)
    assert torch.allclose(weights.sum(dim=1), torch.ones(3))
    assert torch.all(weights[~mask.T] == 0)
    assert torch.all(weights[mask.T] > 0)


def test_attention_ignores_what_padded_keys_hold():
    torch.manual_seed(0)
    attention = AdditiveAttention(3, 4, 5)
    query, keys = torch.randn(3, 3), torch.randn(6, 3, 4)
    mask = length_mask(torch.tensor([6, 1, 4]), 6)
    context, weights = attention(query, keys, mask)
    keys[~mask] = 1e6
    context2, weights2 = attention(query, keys, mask)
    assert torch.equal(weights, weights2)
    assert torch.allclose(context, context2, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "query, keys, mask, message",
    [
        (torch.zeros(2, 3), torch.zeros(5, 2), torch.ones(5, 2, dtype=torch.bool), "keys must"),
        (torch.zeros(3, 3), torch.zeros(5, 2, 4), torch.ones(5, 2, dtype=torch.bool), "query"),
        (torch.zeros(2, 3), torch.zeros(5, 2, 4), torch.ones(5, 2), "mask must"),
        (torch.zeros(2, 3), torch.zeros(5, 2, 4), torch.zeros(5, 2, dtype=torch.bool), "at least"),
    ],
)
def test_attention_rejects_bad_input(query, keys, mask, message):
    with pytest.raises(ValueError, match=message):
        AdditiveAttention(3, 4, 5)(query, keys, mask)


# --- encoder and model ----------------------------------------------------------------------


def test_encoder_final_state_is_the_state_at_each_sequences_own_end():
    model = _model(attention=False)
    src, lengths = _source()
    memory, final = model.encoder(src, lengths)
    for b in range(3):
        n = int(lengths[b])
        alone, _ = model.encoder.rnn(model.encoder.embedding(src[:n, b : b + 1]))
        assert torch.allclose(final[b], alone[-1, 0], atol=1e-12)
        assert torch.allclose(memory[:n, b], alone[:, 0], atol=1e-12)


@pytest.mark.parametrize("attention", [False, True])
def test_seq2seq_output_does_not_depend_on_source_padding(attention):
    model = _model(attention)
    src, lengths = _source()
    target_in = torch.tensor([[BOS] * 3, [4, 5, 6], [3, 3, 3]])
    logits, weights = model(src, lengths, target_in)
    longer = torch.cat([src, torch.full((3, 3), 8)])  # extra padding holding real token ids
    logits2, weights2 = model(longer, lengths, target_in)
    assert logits.shape == (3, 3, 7)
    assert torch.allclose(logits, logits2, atol=1e-12)
    if attention:
        assert weights.shape == (3, 3, 6)
        assert torch.allclose(weights, weights2[:, :, :6], atol=1e-12)
        assert torch.all(weights2[:, :, 6:] == 0)
    else:
        assert weights is None and weights2 is None


def test_encoder_and_model_reject_bad_input():
    model = _model(attention=True)
    src, lengths = _source()
    with pytest.raises(ValueError, match="lengths must lie in 1..6"):
        model.encoder(src, torch.tensor([6, 0, 4]))
    with pytest.raises(ValueError, match="lengths must be"):
        model.encoder(src, lengths[:2])
    with pytest.raises(ValueError, match="src must be"):
        model.encoder(src.double(), lengths)
    with pytest.raises(ValueError, match="target_in must be"):
        model(src, lengths, torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="context_size"):
        Seq2Seq(Encoder(9, 5, 8), Decoder(7, 4, 8, 6), BOS, EOS, PAD)


def test_decoder_without_attention_sees_the_source_only_through_the_final_state():
    model = _model(attention=False)
    src, lengths = _source()
    state = model.start(src, lengths)
    token = torch.tensor([BOS] * 3)
    logits, _, _ = model.step(token, state)
    scrambled = DecoderState(state.hidden, torch.randn_like(state.memory), state.mask, state.final)
    logits2, _, _ = model.step(token, scrambled)
    assert torch.equal(logits, logits2)


@pytest.mark.parametrize("attention", [False, True])
def test_gradients_reach_every_parameter(attention):
    model = _model(attention)
    src, lengths = _source()
    target = torch.tensor([[BOS] * 3, [4, 5, 6], [3, 4, EOS], [EOS, EOS, PAD]])
    logits, _ = model(src, lengths, target[:-1])
    masked_cross_entropy(logits, target[1:], torch.tensor([3, 3, 2])).backward()
    names = [name for name, _ in model.named_parameters()]
    assert any("attention" in name for name in names) == attention
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_training_on_the_number_task_reduces_the_loss():
    source_vocab, target_vocab = tasks.translation_vocabs()
    torch.manual_seed(0)
    model = Seq2Seq(
        Encoder(len(source_vocab), 8, 16),
        Decoder(len(target_vocab), 8, 16, 16, 16),
        target_vocab.BOS,
        target_vocab.EOS,
        target_vocab.PAD,
    )
    src, src_lengths, tgt, tgt_lengths = tasks.translation_batch(
        tasks.translation_pairs(32, seed=0, max_number=999)
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(20):
        logits, _ = model(src, src_lengths, tgt[:-1])
        loss = masked_cross_entropy(logits, tgt[1:], tgt_lengths - 1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# --- decoding -------------------------------------------------------------------------------


class MarkovModel:
    """A decoder whose next-token log-probabilities depend only on the previous token.

    table: rows indexed by the previous token, columns by the next one (probabilities).
    """

    bos_id, eos_id, pad_id = BOS, EOS, PAD

    def __init__(self, table):
        self.log_table = torch.tensor(table, dtype=torch.float64).log()

    def start(self, src, lengths):
        B = len(lengths)
        return DecoderState(
            torch.zeros(B, 1),
            torch.zeros(1, B, 1),
            torch.ones(1, B, dtype=torch.bool),
            torch.zeros(B, 1),
        )

    def step(self, token, state):
        return self.log_table[token], state, None


def _run(model, decoder, **kwargs):
    src, lengths = torch.zeros(1, 1, dtype=torch.long), torch.ones(1, dtype=torch.long)
    return decoder(model, src, lengths, **kwargs)


# tokens: pad 0, bos 1, eos 2, a 3, b 4. Greedy takes a (0.6) and then eos (0.5): p = 0.30.
# "b eos" has p = 0.4 * 0.9 = 0.36, the most probable output; only a beam of 2 finds it.
GREEDY_TRAP = [
    [0, 0, 0, 0, 0],
    [0, 0, 0, 0.6, 0.4],
    [0, 0, 1, 0, 0],
    [0, 0, 0.5, 0.25, 0.25],
    [0, 0, 0.9, 0.05, 0.05],
]


def test_greedy_decode_takes_the_locally_best_token_and_stops_at_eos():
    tokens, scores, attention = _run(MarkovModel(GREEDY_TRAP), greedy_decode, max_len=5)
    assert tokens.tolist() == [[3], [EOS]]
    assert scores.item() == pytest.approx(math.log(0.6 * 0.5), abs=1e-12)
    assert attention is None


def test_beam_search_finds_the_most_probable_output_where_greedy_does_not():
    tokens, scores = _run(MarkovModel(GREEDY_TRAP), beam_search, beam_width=2, max_len=5)
    assert tokens.tolist() == [[4], [EOS]]
    assert scores.item() == pytest.approx(math.log(0.4 * 0.9), abs=1e-12)


def test_beam_search_length_penalty_changes_which_finished_beam_wins():
    # "eos" alone has p = 0.5 (1 token); "a eos" has p = 0.4 (2 tokens). Per token,
    # log(0.4) / 2 = -0.46 beats log(0.5) / 1 = -0.69.
    table = [
        [0, 0, 0, 0.5, 0.5],
        [0, 0, 0.5, 0.5, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 0.8, 0.2, 0],
        [0, 0, 1, 0, 0],
    ]
    plain, plain_score = _run(MarkovModel(table), beam_search, beam_width=2, max_len=4)
    per_token, score = _run(
        MarkovModel(table), beam_search, beam_width=2, max_len=4, length_penalty=1.0
    )
    assert plain.tolist() == [[EOS]] and plain_score.item() == pytest.approx(math.log(0.5))
    assert per_token.tolist() == [[3], [EOS]] and score.item() == pytest.approx(math.log(0.4))


@pytest.mark.parametrize("attention", [False, True])
def test_beam_search_of_width_one_is_greedy_decoding(attention):
    model = _model(attention, tgt_vocab=7).eval()
    src, lengths = _source()
    greedy_tokens, greedy_scores, _ = greedy_decode(model, src, lengths, max_len=6)
    beam_tokens, beam_scores = beam_search(model, src, lengths, beam_width=1, max_len=6)
    assert torch.equal(beam_tokens, greedy_tokens)
    assert torch.allclose(beam_scores, greedy_scores, atol=1e-10)


def _naive_beam_search(log_table, beam_width, max_len, length_penalty):
    """Beam search on a Markov model with Python lists: (tokens, log P) of the winner."""
    beams = [([], 0.0, False)]  # (tokens, log-probability, ended)
    for _ in range(max_len):
        candidates = []
        for tokens, score, ended in beams:
            if ended:
                candidates.append((tokens + [PAD], score, True))
                continue
            previous = tokens[-1] if tokens else BOS
            for token, logp in enumerate(log_table[previous].tolist()):
                candidates.append((tokens + [token], score + logp, token == EOS))
        beams = sorted(candidates, key=lambda c: c[1], reverse=True)[:beam_width]
        if all(ended for _, _, ended in beams):
            break

    def n_tokens(beam):
        tokens, _, ended = beam
        return tokens.index(EOS) + 1 if ended else len(tokens)

    best = max(beams, key=lambda b: b[1] / n_tokens(b) ** length_penalty)
    return best[0][: n_tokens(best)], best[1]


@pytest.mark.parametrize("beam_width", [2, 3])
@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_search_matches_a_plain_python_beam_search(beam_width, length_penalty, seed):
    gen = torch.Generator().manual_seed(seed)
    table = torch.rand(6, 6, generator=gen, dtype=torch.float64)
    table[:, [PAD, BOS]] = 0  # never produced, as in a trained model
    model = MarkovModel((table / table.sum(dim=1, keepdim=True)).tolist())
    expected_tokens, expected_score = _naive_beam_search(
        model.log_table, beam_width, 4, length_penalty
    )
    tokens, score = _run(
        model, beam_search, beam_width=beam_width, max_len=4, length_penalty=length_penalty
    )
    assert tokens[:, 0].tolist() == expected_tokens
    assert score.item() == pytest.approx(expected_score, abs=1e-12)


def test_beam_search_step_keeps_the_best_extensions_worked_by_hand():
    beam_scores = torch.tensor([-1.0, -2.0])
    next_log_probs = torch.tensor([[-0.1, -3.0, -2.0], [-0.5, -0.2, -4.0]])
    # Extensions: beam 0 -> -1.1, -4.0, -3.0; beam 1 -> -2.5, -2.2, -6.0.
    scores, beams, tokens = beam_search_step(beam_scores, next_log_probs, beam_width=3)
    assert torch.allclose(scores, torch.tensor([-1.1, -2.2, -2.5]))
    assert beams.tolist() == [0, 1, 1]
    assert tokens.tolist() == [0, 1, 0]
    assert beams.dtype == tokens.dtype == torch.int64


@pytest.mark.parametrize(
    "scores, log_probs, width, message",
    [
        (torch.zeros(2, 1), torch.zeros(2, 3), 1, "beam_scores must be"),
        (torch.zeros(2), torch.zeros(3, 3), 1, "one row per beam"),
        (torch.zeros(2), torch.zeros(2, 3), 7, "beam_width"),
        (torch.zeros(2), torch.zeros(2, 3), 0, "beam_width"),
    ],
)
def test_beam_search_step_rejects_bad_input(scores, log_probs, width, message):
    with pytest.raises(ValueError, match=message):
        beam_search_step(scores, log_probs, width)


def test_decoders_reject_bad_arguments():
    model = MarkovModel(GREEDY_TRAP)
    src, lengths = torch.zeros(1, 1, dtype=torch.long), torch.ones(1, dtype=torch.long)
    with pytest.raises(ValueError, match="max_len"):
        greedy_decode(model, src, lengths, max_len=0)
    with pytest.raises(ValueError, match="length_penalty"):
        beam_search(model, src, lengths, beam_width=2, max_len=3, length_penalty=-1.0)
    with pytest.raises(ValueError, match="beam_width"):
        beam_search(model, src, lengths, beam_width=6, max_len=3)


def test_length_mask_marks_the_first_lengths_steps():
    assert length_mask(torch.tensor([2, 3]), 3).T.tolist() == [
        [True, True, False],
        [True, True, True],
    ]
