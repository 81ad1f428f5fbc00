"""rnnkit.labelling: the sentences and their spans, BIO tags worked by hand, padded batches,
the baseline, and the models' shapes and readouts checked against their equations."""

import pytest
import torch
import torch.nn.functional as F

from rnnkit import labelling as L
from rnnkit.tasks import IGNORE_INDEX


def test_spans_to_bio_marks_first_and_following_words_of_each_entity():
    # "send 250 euros to rio de janeiro on 3 march"
    spans = [(1, 3, "AMOUNT"), (4, 7, "PLACE"), (8, 10, "DATE")]
    assert L.spans_to_bio(10, spans) == [
        "O", "B-AMOUNT", "I-AMOUNT", "O", "B-PLACE", "I-PLACE", "I-PLACE", "O", "B-DATE",
        "I-DATE",
    ]  # fmt: skip
    # two entities side by side stay two: the second starts with its own B-
    assert L.spans_to_bio(3, [(0, 1, "PLACE"), (1, 3, "DATE")]) == ["B-PLACE", "B-DATE", "I-DATE"]


@pytest.mark.parametrize(
    "spans", [[(0, 4, "DATE")], [(0, 2, "DATE"), (1, 3, "PLACE")], [(2, 2, "X")]]
)
def test_spans_to_bio_rejects_spans_outside_the_sentence_or_overlapping(spans):
    with pytest.raises(ValueError, match="non-overlapping spans"):
        L.spans_to_bio(3, spans)


def test_sentences_are_reproducible_and_their_spans_hold_the_entities():
    a, b = L.make_sentences(200, 7), L.make_sentences(200, 7)
    assert a == b and a != L.make_sentences(200, 8)
    places = {tuple(p.split()) for p in L.TRAIN_PLACES}
    currencies = set(L.CURRENCIES)
    for s in a:
        for start, end, kind in s.spans:
            words = s.words[start:end]
            if kind == "PLACE":
                assert words in places
            elif kind == "AMOUNT":
                assert currencies & set(words)
            else:
                assert set(words) & (set(L.MONTHS) | set(L.WEEKDAYS) | {"tomorrow", "today", "the"})


def test_test_places_are_never_training_places():
    train = {
        w
        for s in L.make_sentences(2000, 0)
        for a, b, k in s.spans
        if k == "PLACE"
        for w in [" ".join(s.words[a:b])]
    }
    test = {
        " ".join(s.words[a:b])
        for s in L.make_sentences(500, 2, L.TEST_PLACES)
        for a, b, k in s.spans
        if k == "PLACE"
    }
    assert train <= set(L.TRAIN_PLACES) and test <= set(L.TEST_PLACES) and not train & test


def test_tag_batch_pads_words_and_ignores_padded_tags():
    s1 = L.Sentence(("pay", "5", "euros"), ((1, 3, "AMOUNT"),))
    s2 = L.Sentence(("in", "oslo"), ((1, 2, "PLACE"),))
    vocab = L.build_vocab([s1])  # "oslo" and "in" are unknown to it
    assert vocab == {"<pad>": 0, "<unk>": 1, "5": 2, "euros": 3, "pay": 4}
    words, tags, lengths = L.tag_batch([s1, s2], vocab)
    assert words.T.tolist() == [[4, 2, 3], [1, 1, 0]]
    b_amount, i_amount, b_place = (L.LABELS.index(t) for t in ("B-AMOUNT", "I-AMOUNT", "B-PLACE"))
    assert tags.T.tolist() == [[0, b_amount, i_amount], [0, b_place, IGNORE_INDEX]]
    assert lengths.tolist() == [3, 2]
    dropped, _, _ = L.tag_batch([s1, s2] * 200, vocab, 0.25, torch.Generator().manual_seed(0))
    real = dropped != L.PAD
    assert int(real.sum()) == 1000 and 0.2 < float((dropped[:3, ::2] == L.UNK).float().mean()) < 0.3


def test_majority_tagger_takes_each_words_most_frequent_tag_and_o_for_unknown_words():
    train = [
        L.Sentence(("by", "3", "march"), ((1, 3, "DATE"),)),
        L.Sentence(("by", "3", "euros"), ((1, 3, "AMOUNT"),)),
        L.Sentence(("on", "3", "may"), ((1, 3, "DATE"),)),
    ]
    got = L.MajorityTagger(train).predict([L.Sentence(("3", "euros", "in", "riga"), ())])
    assert got == [["B-DATE", "I-AMOUNT", "O", "O"]]


def test_tagger_ignores_what_is_padded_after_a_sentence():
    torch.manual_seed(0)
    for bidirectional in (True, False):
        model = L.Tagger(10, 4, 3, bidirectional=bidirectional)
        words = torch.tensor([[2, 3], [4, 5], [6, 0]])
        lengths = torch.tensor([3, 2])
        out = model(words, lengths)
        assert out.shape == (3, 2, len(L.LABELS))
        junk = words.clone()
        junk[2, 1] = 9
        assert torch.allclose(model(junk, lengths)[:2, 1], out[:2, 1])
        alone = model(words[:2, 1:], torch.tensor([2]))
        assert torch.allclose(alone[:, 0], out[:2, 1], atol=1e-6)


def test_row_classifier_reads_rows_as_steps_and_classifies_from_the_last_state():
    torch.manual_seed(0)
    model = L.RowClassifier(8, 5, 10, cell="rnn")
    images = torch.rand(4, 6, 8)
    cell = model.layer.cell
    h = torch.zeros(4, 5)
    for t in range(6):  # h_t = tanh(U x_t + W h_{t-1} + b), rows in order
        h = torch.tanh(
            images[:, t] @ cell.weight_ih.T + h @ cell.weight_hh.T + cell.bias_ih + cell.bias_hh
        )
    assert torch.allclose(model.states(images)[-1], h, atol=1e-6)
    assert torch.allclose(model(images), h @ model.readout.weight.T + model.readout.bias, atol=1e-6)
    with pytest.raises(ValueError, match="cell must be one of"):
        L.RowClassifier(8, 5, 10, cell="tcn")


def test_linear_probe_reads_a_linearly_separable_label_and_not_noise():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(400, 3, generator=gen)
    y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()
    assert L.linear_probe(x[:300], y[:300], x[300:], y[300:]) > 0.9
    noise = torch.randn(400, 3, generator=gen)
    assert L.linear_probe(noise[:300], y[:300], noise[300:], y[300:]) < 0.45


def test_fit_classifier_learns_the_digits_better_than_chance():
    from rnnkit.tasks import digits

    x_train, y_train, x_test, y_test = digits()
    torch.manual_seed(0)
    model = L.fit_classifier(L.PixelMLP(64, 0, 10), x_train[:300], y_train[:300], 3, 0)
    accuracy = float((model(x_test).argmax(1) == y_test).float().mean())
    assert accuracy > 0.6
    assert F.cross_entropy(model(x_test), y_test) < 2.0
