"""The cloze task: blanks where they should be, and taggers that see one or both sides."""

import re

import pytest
import torch

from rnnkit import Bidirectional, Recurrent, RNNCell, Stacked
from rnnkit.cloze import (
    BLANK_CHAR,
    ClozeTagger,
    blank_out,
    cloze_accuracy,
    cloze_batches,
    cloze_loss,
    padded_cloze_batches,
    show_blanks,
)
from rnnkit.tasks import IGNORE_INDEX, CharCorpus, char_corpus

K = 5


def small_corpus() -> CharCorpus:
    text = "abcde" * 20
    return CharCorpus(text, sorted(set(text)))


def test_blank_out_blanks_exactly_n_steps_per_sequence_and_keeps_their_symbols():
    ids = torch.randint(0, K, (12, 7), generator=torch.Generator().manual_seed(0))
    x, y = blank_out(ids, 3, K, seed=1)
    blanked = x == K
    assert blanked.sum(dim=0).tolist() == [3] * 7
    assert torch.equal(y[blanked], ids[blanked])
    assert (y[~blanked] == IGNORE_INDEX).all()
    assert torch.equal(x[~blanked], ids[~blanked])


def test_blank_out_is_reproducible_from_its_seed_and_varies_with_it():
    ids = torch.zeros(20, 4, dtype=torch.int64)
    first, _ = blank_out(ids, 2, K, seed=7)
    again, _ = blank_out(ids, 2, K, seed=7)
    other, _ = blank_out(ids, 2, K, seed=8)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_blank_out_chooses_every_step_about_equally_often():
    ids = torch.zeros(4, 20_000, dtype=torch.int64)
    x, _ = blank_out(ids, 1, K, seed=3)
    share = (x == K).float().mean(dim=1)
    # 20 000 draws per step: the binomial standard deviation of a share of 1/4 is 0.003.
    assert torch.allclose(share, torch.full((4,), 0.25), atol=0.015)


@pytest.mark.parametrize(
    ("ids", "n_blanks", "message"),
    [
        (torch.zeros(5, 2, dtype=torch.int64), 0, "1 <= n_blanks <= T = 5"),
        (torch.zeros(5, 2, dtype=torch.int64), 6, "1 <= n_blanks <= T = 5"),
        (torch.zeros(5, dtype=torch.int64), 1, "shape (T, B)"),
        (torch.zeros(5, 2), 1, "dtype int64"),
        (torch.full((5, 2), K), 1, f"ids in [0, {K})"),
    ],
)
def test_blank_out_rejects_bad_input_with_a_clear_message(ids, n_blanks, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        blank_out(ids, n_blanks, K, seed=0)


def test_cloze_batches_blank_windows_of_the_text():
    corpus = small_corpus()
    x, y = next(cloze_batches(corpus, 10, 3, 2, seed=0))
    assert x.shape == y.shape == (10, 3)
    filled = torch.where(y == IGNORE_INDEX, x, y)
    for b in range(3):
        window = corpus.decode(filled[:, b])
        assert window in corpus.text
        assert show_blanks(corpus, x[:, b]).count(BLANK_CHAR) == 2


def test_show_blanks_prints_the_blank_symbol():
    corpus = small_corpus()
    assert show_blanks(corpus, torch.tensor([0, K, 2])) == f"a{BLANK_CHAR}c"


def _tagger(layer: torch.nn.Module, size: int) -> ClozeTagger:
    torch.manual_seed(0)
    return ClozeTagger(layer, K, size).double()


def _changes_when_a_later_symbol_changes(model: ClozeTagger) -> bool:
    x = torch.tensor([[0], [1], [2], [3]])
    later = x.clone()
    later[3, 0] = 4
    with torch.no_grad():
        return not torch.allclose(model(x)[1], model(later)[1], atol=0, rtol=0)


def test_one_directional_tagger_answers_without_seeing_the_future():
    model = _tagger(Recurrent(RNNCell(K + 1, 3)), 3)
    assert not _changes_when_a_later_symbol_changes(model)


def test_bidirectional_tagger_answers_from_both_sides():
    model = _tagger(Bidirectional(RNNCell(K + 1, 3), RNNCell(K + 1, 3)), 6)
    assert _changes_when_a_later_symbol_changes(model)


def test_tagger_reads_one_hot_symbols_through_the_layer():
    layer = Stacked([Recurrent(RNNCell(K + 1, 4)), Recurrent(RNNCell(4, 3))])
    model = _tagger(layer, 3)
    x = torch.tensor([[0, K], [2, 1]])
    onehot = torch.nn.functional.one_hot(x, K + 1).double()
    expected = model.readout(layer(onehot)[0])
    with torch.no_grad():
        assert torch.equal(model(x), expected)
    assert model(x).shape == (2, 2, K)


def test_tagger_rejects_float_input():
    model = _tagger(Recurrent(RNNCell(K + 1, 3)), 3)
    with pytest.raises(ValueError, match="dtype int64"):
        model(torch.zeros(4, 2))


def test_cloze_loss_is_the_mean_cross_entropy_over_blanks_only():
    logits = torch.log(torch.tensor([[[0.5, 0.5], [0.9, 0.1]], [[0.2, 0.8], [0.3, 0.7]]]))
    y = torch.tensor([[0, IGNORE_INDEX], [IGNORE_INDEX, 1]])
    loss = cloze_loss(lambda x: logits, (None, y))
    # Worked by hand: blanks at (0, 0), class 0 with p 0.5, and (1, 1), class 1 with p 0.7.
    expected = -(torch.log(torch.tensor(0.5)) + torch.log(torch.tensor(0.7))) / 2
    assert torch.isclose(loss, expected, rtol=1e-6, atol=0)


def test_cloze_accuracy_counts_only_blanked_steps():
    logits = torch.tensor([[[2.0, 1.0], [0.0, 3.0]], [[1.0, 0.0], [0.0, 1.0]]])
    # argmax: [[0, 1], [0, 1]]; blanks at (0, 0) right, (0, 1) wrong, (1, 1) right.
    y = torch.tensor([[0, 0], [IGNORE_INDEX, 1]])
    assert cloze_accuracy(logits, y) == pytest.approx(2 / 3, abs=1e-7)


def test_cloze_accuracy_refuses_a_batch_without_blanks():
    with pytest.raises(ValueError, match="at least one blank"):
        cloze_accuracy(torch.zeros(2, 1, 3), torch.full((2, 1), IGNORE_INDEX))


def test_course_corpus_windows_blank_into_its_vocabulary():
    corpus = char_corpus()
    x, y = next(cloze_batches(corpus, 16, 4, 3, seed=5))
    assert int(x.max()) == len(corpus.vocab)  # every window has blanks
    assert ((y == IGNORE_INDEX) | ((y >= 0) & (y < len(corpus.vocab)))).all()


# --- padded batches ---------------------------------------------------------------------


def test_blank_out_with_lengths_blanks_inside_each_length_and_pads_the_rest():
    ids = torch.randint(0, K, (10, 6), generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([10, 3, 7, 4, 3, 9])
    x, y = blank_out(ids, 3, K, seed=1, lengths=lengths)
    padded = torch.arange(10)[:, None] >= lengths[None, :]
    assert torch.all(x[padded] == K + 1)
    assert torch.all(y[padded] == IGNORE_INDEX)
    assert ((x == K).sum(dim=0) == 3).all()
    # a window of length 3 with 3 blanks is all blanks
    assert torch.all(x[:3, 1] == K)
    kept = ~padded & (x != K)
    assert torch.equal(x[kept], ids[kept])


def test_blank_out_rejects_lengths_shorter_than_the_blanks():
    ids = torch.zeros(10, 2, dtype=torch.int64)
    with pytest.raises(
        ValueError, match=r"lengths of shape \(2,\) in \[3, 10\], got \(2,\) \[2, 5\]"
    ):
        blank_out(ids, 3, K, seed=0, lengths=torch.tensor([2, 5]))


def test_padded_cloze_batches_draw_lengths_between_min_len_and_t():
    batches = padded_cloze_batches(small_corpus(), 8, 200, 2, seed=0, min_len=4)
    x, y, lengths = next(batches)
    assert x.shape == y.shape == (8, 200) and lengths.shape == (200,)
    assert set(lengths.tolist()) == set(range(4, 9))
    assert torch.equal((x <= K).sum(dim=0), lengths)


def test_padded_cloze_batches_reject_min_len_below_the_blanks():
    with pytest.raises(ValueError, match="n_blanks = 3 <= min_len <= seq_len = 8, got min_len = 2"):
        next(padded_cloze_batches(small_corpus(), 8, 4, 3, seed=0, min_len=2))


def test_tagger_reads_padding_as_zeros_and_passes_lengths_on():
    layer = Bidirectional(RNNCell(K + 1, 3), RNNCell(K + 1, 3))
    model = _tagger(layer, 6)
    x = torch.tensor([[0, 1], [K, 2], [3, K + 1]])
    lengths = torch.tensor([3, 2])
    onehot = torch.nn.functional.one_hot(x.clamp(max=K), K + 1).double()
    onehot[2, 1] = 0.0
    with torch.no_grad():
        expected = model.readout(layer(onehot, None, lengths)[0])
        assert torch.equal(model(x, lengths), expected)
        loss = cloze_loss(
            model, (x, torch.tensor([[-100, -100], [1, -100], [-100, -100]]), lengths)
        )
    assert torch.isclose(
        loss, torch.nn.functional.cross_entropy(expected[1, 0:1], torch.tensor([1]))
    )


def test_show_blanks_leaves_the_padding_out():
    corpus = small_corpus()
    assert show_blanks(corpus, torch.tensor([0, K, 1, K + 1, K + 1])) == f"a{BLANK_CHAR}b"
