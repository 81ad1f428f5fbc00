"""Tests for rnnkit.seq2seq: dot-product attention, the model, greedy decoding, prefix scores.

The assignment's answers (additive attention, the masked loss, beam search) are tested in
test_answers_ch08_seq2seq.py."""

import math

import pytest
import torch
import torch.nn.functional as F

from rnnkit import tasks
from rnnkit.seq2seq import (
    Decoder,
    DecoderState,
    DotProductAttention,
    Encoder,
    PluggedAttention,
    Seq2Seq,
    greedy_decode,
    length_mask,
    prefix_scorer,
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


def _attention(hidden: int) -> DotProductAttention:
    return DotProductAttention(hidden, hidden)


def _teacher_forced_loss(logits, targets):
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=PAD)


def _model(attention: bool, seed=0, src_vocab=9, tgt_vocab=7, hidden=8, bidirectional=False):
    torch.manual_seed(seed)
    encoder = Encoder(src_vocab, 5, hidden // (1 + bidirectional), PAD, bidirectional)
    decoder = Decoder(tgt_vocab, 4, hidden, hidden, _attention(hidden) if attention else None)
    return Seq2Seq(encoder, decoder, BOS, EOS, PAD).double()


def _source(seed=1, S=6, B=3, vocab=9):
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(3, vocab, (S, B), generator=gen)
    lengths = torch.tensor([6, 2, 4])[:B]
    src[length_mask(lengths, S).logical_not()] = PAD
    return src, lengths


# --- attention ------------------------------------------------------------------------------


def test_dot_product_attention_matches_a_hand_computation():
    attention = DotProductAttention(query_size=2, key_size=2).double()
    with torch.no_grad():
        attention.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
    # q W_a = (1, 1), so e_j = k_j1 + k_j2: scores 0 and ln 3; the third key is padding.
    query = torch.tensor([[1.0, 0.5]], dtype=torch.float64)
    keys = torch.tensor([[[0.0, 0.0]], [[math.log(3), 0.0]], [[7.0, 7.0]]]).double()
    mask = torch.tensor([[True], [True], [False]])
    context, weights = attention(query, keys, mask)
    assert torch.allclose(weights, torch.tensor([[0.25, 0.75, 0.0]]).double(), atol=1e-15)
    assert torch.allclose(context, torch.tensor([[0.75 * math.log(3), 0.0]]).double())


def test_dot_product_attention_matches_a_loop_over_the_batch():
    torch.manual_seed(0)
    attention = DotProductAttention(3, 4).double()
    query, keys = torch.randn(3, 3).double(), torch.randn(6, 3, 4).double()
    mask = length_mask(torch.tensor([6, 1, 4]), 6)
    context, weights = attention(query, keys, mask)
    for b, n in enumerate([6, 1, 4]):
        scores = torch.stack([query[b] @ attention.weight @ keys[j, b] for j in range(n)])
        alpha = torch.softmax(scores, dim=0)
        assert torch.allclose(weights[b, :n], alpha, atol=1e-14)
        assert torch.allclose(context[b], (alpha[:, None] * keys[:n, b]).sum(0), atol=1e-14)


def test_attention_weights_sum_to_one_and_are_exactly_zero_on_padding():
    torch.manual_seed(0)
    attention = DotProductAttention(3, 4)
    keys = torch.randn(6, 3, 4)
    mask = length_mask(torch.tensor([6, 1, 4]), 6)
    _, weights = attention(torch.randn(3, 3), keys, mask)
    assert weights.shape == (3, 6)
    assert torch.allclose(weights.sum(dim=1), torch.ones(3))
    assert torch.all(weights[~mask.T] == 0)
    assert torch.all(weights[mask.T] > 0)


def test_attention_ignores_what_padded_keys_hold():
    torch.manual_seed(0)
    attention = DotProductAttention(3, 4)
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
        DotProductAttention(3, 4)(query, keys, mask)
    with pytest.raises(ValueError, match=message):
        PluggedAttention(lambda *args: args, 3, 4, 5)(query, keys, mask)


def test_plugged_attention_hands_its_weights_to_the_function_it_was_given():
    calls = []

    def attend(query, keys, mask, W_q, W_k, v):
        calls.append((W_q.shape, W_k.shape, v.shape))
        return keys[0], mask.T.double()

    layer = PluggedAttention(attend, query_size=3, key_size=4, hidden_size=5)
    keys = torch.randn(6, 2, 4)
    context, _ = layer(torch.randn(2, 3), keys, torch.ones(6, 2, dtype=torch.bool))
    assert calls == [((5, 3), (5, 4), (5,))]
    assert torch.equal(context, keys[0])
    assert {name for name, _ in layer.named_parameters()} == {"W_q", "W_k", "v"}


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


def test_bidirectional_encoder_matches_torch_gru_on_packed_sequences():
    torch.manual_seed(0)
    encoder = Encoder(9, 5, 4, pad_id=PAD, bidirectional=True).double()
    src, lengths = _source()
    gru = torch.nn.GRU(5, 4, bidirectional=True).double()
    with torch.no_grad():
        for suffix, cell in [("", encoder.rnn.fw.cell), ("_reverse", encoder.rnn.bw.cell)]:
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(gru, f"{name}_l0{suffix}").copy_(getattr(cell, name))
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        encoder.embedding(src), lengths, enforce_sorted=False
    )
    out, h_n = gru(packed)
    expected, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=len(src))
    memory, final = encoder(src, lengths)
    assert encoder.output_size == 8 and memory.shape == (6, 3, 8)
    assert torch.allclose(memory, expected, atol=1e-12)  # pad_packed fills padding with 0
    assert torch.allclose(final, torch.cat([h_n[0], h_n[1]], dim=-1), atol=1e-12)


@pytest.mark.parametrize("attention", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_seq2seq_output_does_not_depend_on_source_padding(attention, bidirectional):
    model = _model(attention, bidirectional=bidirectional)
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
    with pytest.raises(ValueError, match="output size 8, got 4"):
        Seq2Seq(Encoder(9, 5, 4, bidirectional=True), Decoder(7, 4, 8, 4), BOS, EOS, PAD)


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
@pytest.mark.parametrize("bidirectional", [False, True])
def test_gradients_reach_every_parameter(attention, bidirectional):
    model = _model(attention, bidirectional=bidirectional)
    src, lengths = _source()
    target = torch.tensor([[BOS] * 3, [4, 5, 6], [3, 4, EOS], [EOS, EOS, PAD]])
    logits, _ = model(src, lengths, target[:-1])
    _teacher_forced_loss(logits, target[1:]).backward()
    names = [name for name, _ in model.named_parameters()]
    assert any("attention" in name for name in names) == attention
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_training_on_the_number_task_reduces_the_loss():
    source_vocab, target_vocab = tasks.translation_vocabs()
    torch.manual_seed(0)
    model = Seq2Seq(
        Encoder(len(source_vocab), 8, 16),
        Decoder(len(target_vocab), 8, 16, 16, _attention(16)),
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
        loss = _teacher_forced_loss(logits, tgt[1:])
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
# "b eos" has p = 0.4 * 0.9 = 0.36, the most probable output, which greedy decoding misses.
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


@pytest.mark.parametrize("attention", [False, True])
def test_prefix_scorer_gives_the_log_probabilities_of_a_teacher_forced_pass(attention):
    model = _model(attention).eval()
    src, lengths = _source()
    src, lengths = src[:4, 2:3], lengths[2:3]  # the third source, 4 real tokens
    next_log_probs = prefix_scorer(model, src, lengths)
    prefixes = [(), (4,), (4, 5), (3, 3, 6), (4, 5, 6)]
    got = [next_log_probs([p])[0] for p in prefixes]  # one at a time, parents first or not
    batch = next_log_probs(prefixes[::-1])
    for k, prefix in enumerate(prefixes):
        target_in = torch.tensor([[BOS, *prefix]]).T
        with torch.no_grad():
            logits, _ = model(src, lengths, target_in)
        expected = F.log_softmax(logits[-1, 0], dim=-1)
        assert got[k].dtype == torch.float64 and got[k].shape == (7,)
        assert torch.allclose(got[k], expected, atol=1e-12)
        assert torch.allclose(batch[len(prefixes) - 1 - k], expected, atol=1e-12)


def test_prefix_scorer_rejects_a_batch_of_sources():
    src, lengths = _source()
    with pytest.raises(ValueError, match="src must be"):
        prefix_scorer(_model(False), src, lengths)


def test_greedy_decode_rejects_a_max_len_below_one():
    model = MarkovModel(GREEDY_TRAP)
    src, lengths = torch.zeros(1, 1, dtype=torch.long), torch.ones(1, dtype=torch.long)
    with pytest.raises(ValueError, match="max_len"):
        greedy_decode(model, src, lengths, max_len=0)


def test_length_mask_marks_the_first_lengths_steps():
    assert length_mask(torch.tensor([2, 3]), 3).T.tolist() == [
        [True, True, False],
        [True, True, True],
    ]
