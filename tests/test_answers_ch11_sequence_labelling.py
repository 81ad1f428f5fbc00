"""rnnkit/answers/ch11_sequence_labelling.py: BIO decoding and span scores worked by hand,
the masked loss against torch's cross-entropy, and the trained tagger's margin."""

import pytest
import torch
import torch.nn.functional as F

from rnnkit import labelling as L
from rnnkit.answers import ch11_sequence_labelling as A
from rnnkit.tasks import IGNORE_INDEX


@pytest.mark.parametrize(
    ("tags", "spans"),
    [
        (["O", "B-AMOUNT", "I-AMOUNT", "O", "B-DATE"], [(1, 3, "AMOUNT"), (4, 5, "DATE")]),
        (["I-PLACE", "I-PLACE", "O"], [(0, 2, "PLACE")]),  # I- without B- starts an entity
        (["B-PLACE", "B-PLACE"], [(0, 1, "PLACE"), (1, 2, "PLACE")]),  # adjacent, same type
        (["B-DATE", "I-AMOUNT", "I-AMOUNT"], [(0, 1, "DATE"), (1, 3, "AMOUNT")]),
        (["O", "O"], []),
        ([], []),
    ],
)
def test_bio_to_spans_by_hand(tags, spans):
    assert A.bio_to_spans(tags) == spans


def test_bio_to_spans_undoes_spans_to_bio():
    for s in L.make_sentences(300, 3):
        assert A.bio_to_spans(L.spans_to_bio(len(s.words), s.spans)) == list(s.spans)


def test_bio_to_spans_rejects_unknown_tags():
    with pytest.raises(ValueError, match="expected tags"):
        A.bio_to_spans(["O", "DATE"])


def test_span_scores_by_hand():
    gold = [[(0, 2, "DATE"), (3, 4, "PLACE")], [(1, 3, "AMOUNT")]]
    # right: the DATE; wrong boundary: AMOUNT (1, 2); a PLACE missed; a DATE invented
    pred = [[(0, 2, "DATE")], [(1, 2, "AMOUNT"), (4, 5, "DATE")]]
    scores = A.span_scores(gold, pred)
    assert scores["DATE"] == (0.5, 1.0, pytest.approx(2 / 3))
    assert scores["AMOUNT"] == (0.0, 0.0, 0.0)
    assert scores["PLACE"] == (0.0, 0.0, 0.0)  # nothing predicted: P = 0 by convention
    assert scores["all"] == (pytest.approx(1 / 3), pytest.approx(1 / 3), pytest.approx(1 / 3))
    assert list(scores) == ["AMOUNT", "DATE", "PLACE", "all"]
    assert A.span_scores([[]], [[]]) == {}


def test_masked_token_loss_matches_cross_entropy_over_real_steps():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 3, 7, generator=gen, requires_grad=True)
    lengths = torch.tensor([5, 2, 3])
    targets = torch.randint(7, (5, 3), generator=gen)
    padded = torch.arange(5)[:, None] >= lengths[None, :]
    ignored = targets.masked_fill(padded, IGNORE_INDEX)
    want = F.cross_entropy(logits.flatten(0, 1), ignored.flatten())
    got = A.masked_token_loss(logits, targets.masked_fill(padded, IGNORE_INDEX), lengths)
    assert torch.allclose(got, want, atol=1e-6)
    (g_got,) = torch.autograd.grad(got, logits)
    assert float(g_got[padded].abs().max()) == 0.0


def test_trained_bidirectional_tagger_beats_one_direction_on_unseen_places_for_3_seeds():
    torch.set_num_threads(1)
    train = L.make_sentences(3000, 0)
    test = L.make_sentences(300, 99, L.TEST_PLACES)
    vocab = L.build_vocab(train)

    def f1(model):
        pred = [A.bio_to_spans(t) for t in L.predict_tags(model, test, vocab)]
        return A.span_scores([s.spans for s in test], pred)["all"][2]

    for seed in (11, 12, 13):
        bi = f1(A.train_tagger(A.masked_token_loss, train, vocab, 300, seed))
        torch.manual_seed(seed)
        uni = L.Tagger(len(vocab), 32, 32, bidirectional=False)
        one = f1(L.fit_tagger(uni, train, vocab, 300, seed))
        assert bi >= 0.9 and bi > one + 0.02, (seed, bi, one)
