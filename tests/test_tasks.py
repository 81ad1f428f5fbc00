"""rnnkit.tasks: shapes, value ranges, reproducibility, and each task's definition
checked by recomputing it independently from the tensors it returns."""

import pytest
import torch
import torch.nn.functional as F

from rnnkit.tasks import (
    IGNORE_INDEX,
    CharCorpus,
    Vocab,
    adding_baseline,
    adding_problem,
    adding_solved,
    char_corpus,
    copy_task,
    number_to_words,
    pad_batch,
    repeat_copy_task,
    sine_wave,
    translation_batch,
    translation_pairs,
    translation_vocabs,
)

# ------------------------------------------------------------------------- adding problem


@pytest.fixture(scope="module")
def adding_batch():
    return adding_problem(512, 40, seed=7)


def test_adding_problem_shapes_and_dtypes(adding_batch):
    x, y, lengths = adding_batch
    assert x.dtype == torch.float32 and y.dtype == torch.float32
    assert lengths.dtype == torch.int64
    assert x.shape == (int(lengths.max()), 512, 2)
    assert y.shape == (512,) and lengths.shape == (512,)


def test_adding_problem_lengths_span_t_to_t_plus_a_tenth(adding_batch):
    _, _, lengths = adding_batch
    assert int(lengths.min()) == 40 and int(lengths.max()) == 44
    assert set(lengths.tolist()) == {40, 41, 42, 43, 44}


def test_adding_problem_has_exactly_two_markers_in_the_paper_ranges(adding_batch):
    x, _, lengths = adding_batch
    markers = x[..., 1]
    for b in range(x.shape[1]):
        marked = torch.nonzero(markers[:, b] == 1.0).flatten().tolist()
        assert len(marked) == 2
        # One mark among the first ten steps, the other among the first T/2 - 1 = 19.
        assert min(marked) < 10 and max(marked) < 19


def test_adding_problem_marks_ends_with_minus_one_and_pads_with_zeros(adding_batch):
    x, _, lengths = adding_batch
    for b in range(x.shape[1]):
        n = int(lengths[b])
        markers, values = x[:, b, 1], x[:, b, 0]
        assert markers[n - 1] == -1.0
        assert markers[0] in (-1.0, 1.0)
        assert set(markers[1 : n - 1].tolist()) <= {0.0, 1.0}
        assert torch.all(x[n:, b] == 0)
        assert torch.all(values[:n].abs() <= 1.0)


def test_adding_problem_zeroes_the_value_of_a_marked_first_step(adding_batch):
    x, _, _ = adding_batch
    first_marked = x[0, :, 1] == 1.0
    assert first_marked.any(), "512 sequences should include a mark at step 0"
    assert torch.all(x[0, first_marked, 0] == 0.0)
    assert torch.all(x[0, ~first_marked, 0] != 0.0)


def test_adding_problem_target_is_half_plus_quarter_of_marked_sum(adding_batch):
    x, y, _ = adding_batch
    for b in range(x.shape[1]):
        x1, x2 = x[:, b, 0][x[:, b, 1] == 1.0].tolist()
        assert y[b].item() == pytest.approx(0.5 + (x1 + x2) / 4, abs=1e-6)


def test_adding_problem_is_reproducible_and_depends_on_the_seed():
    a = adding_problem(8, 20, seed=3)
    b = adding_problem(8, 20, seed=torch.Generator().manual_seed(3))
    c = adding_problem(8, 20, seed=4)
    for u, v in zip(a, b, strict=True):
        assert torch.equal(u, v)
    assert not torch.equal(a[1], c[1])


@pytest.mark.parametrize("T", [10, 40])
def test_adding_baseline_matches_a_monte_carlo_estimate(T):
    x, y, _ = adding_problem(40_000, T, seed=123)
    mse, solved = adding_baseline(T)
    # The chance that step 0 is marked: 0.35 for T = 10, 0.15 for T = 40.
    p0 = (x[0, :, 1] == 1.0).float().mean().item()
    assert p0 == pytest.approx({10: 0.35, 40: 0.15}[T], abs=0.01)
    # Standard errors at this size: 0.00024 for the MSE, 0.0018 for the solved fraction;
    # the two T differ by 0.004 in MSE, so the check tells them apart.
    assert ((y - 0.5) ** 2).mean().item() == pytest.approx(mse, abs=1e-3)
    assert adding_solved(torch.full_like(y, 0.5), y) == pytest.approx(solved, abs=7.5e-3)


def test_adding_solved_counts_errors_strictly_below_the_tolerance():
    target = torch.tensor([0.5, 0.5, 0.5, 0.5])
    pred = torch.tensor([0.5, 0.53, 0.55, 0.2])
    assert adding_solved(pred, target) == 0.5
    assert adding_solved(pred, target, tol=0.1) == 0.75


@pytest.mark.parametrize(
    "call",
    [
        lambda: adding_problem(4, 9, 0),
        lambda: adding_problem(0, 20, 0),
        lambda: adding_problem(4, 20, seed=1.5),
        lambda: adding_solved(torch.zeros(3), torch.zeros(4)),
        lambda: adding_solved(torch.zeros(3), torch.zeros(3), tol=0.0),
    ],
)
def test_adding_problem_rejects_bad_arguments(call):
    with pytest.raises(ValueError):
        call()


# ----------------------------------------------------------------------- copy tasks


def test_copy_task_layout_and_targets_equal_inputs():
    L, K = 5, 6
    x, y, mask = copy_task(16, L, K, seed=0)
    assert x.shape == (2 * L + 1, 16, K + 1) and x.dtype == torch.float32
    assert y.shape == mask.shape == (2 * L + 1, 16) and y.dtype == torch.int64
    assert mask.dtype == torch.bool
    symbols = x[:L].argmax(-1)
    assert torch.all(x[:L].sum(-1) == 1) and torch.all(x[:L, :, K] == 0)
    assert torch.all(x[L, :, K] == 1) and torch.all(x[L].sum(-1) == 1)
    assert torch.all(x[L + 1 :] == 0)
    assert torch.equal(y[L + 1 :], symbols)
    assert torch.equal(mask, torch.arange(2 * L + 1).unsqueeze(1).expand(-1, 16) > L)
    assert torch.all(y[~mask] == IGNORE_INDEX)


def test_repeat_copy_task_repeats_then_ends_and_gives_the_count():
    L, R, K = 3, 4, 5
    x, y, mask = repeat_copy_task(8, L, R, K, seed=1)
    total = L + 1 + R * L + 1
    assert x.shape == (total, 8, K + 2) and y.shape == (total, 8)
    symbols = x[:L, :, :K].argmax(-1)
    assert torch.all(x[L, :, K] == 1) and torch.all(x[L, :, K + 1] == R)
    for r in range(R):
        start = L + 1 + r * L
        assert torch.equal(y[start : start + L], symbols)
    assert torch.all(y[-1] == K)
    assert torch.all(mask[L + 1 :]) and not mask[: L + 1].any()
    assert torch.all(y[~mask] == IGNORE_INDEX)


def test_copy_targets_outside_the_mask_are_ignored_by_cross_entropy():
    x, y, mask = copy_task(4, 6, 3, seed=2)
    logits = torch.randn(*y.shape, 3, generator=torch.Generator().manual_seed(0))
    every_step = F.cross_entropy(logits.flatten(0, 1), y.flatten())
    masked = F.cross_entropy(logits[mask], y[mask])
    assert every_step.item() == pytest.approx(masked.item(), rel=1e-6)


def test_copy_tasks_are_reproducible_and_depend_on_the_seed():
    assert torch.equal(copy_task(4, 5, 8, seed=9)[0], copy_task(4, 5, 8, seed=9)[0])
    assert not torch.equal(copy_task(4, 5, 8, seed=9)[1], copy_task(4, 5, 8, seed=10)[1])
    a = repeat_copy_task(4, 5, 2, 8, seed=9)[1]
    assert torch.equal(a, repeat_copy_task(4, 5, 2, 8, seed=9)[1])


@pytest.mark.parametrize(
    "call",
    [
        lambda: copy_task(4, 0, 3, 0),
        lambda: copy_task(4, 3, 0, 0),
        lambda: repeat_copy_task(4, 3, 0, 3, 0),
    ],
)
def test_copy_tasks_reject_bad_arguments(call):
    with pytest.raises(ValueError):
        call()


# ----------------------------------------------------------------------- sine waves


def test_sine_wave_targets_are_the_next_inputs():
    x, y = sine_wave(8, 50, seed=0)
    assert x.shape == y.shape == (50, 8, 1) and x.dtype == torch.float32
    assert torch.equal(y[:-1], x[1:])
    assert torch.all(x.abs() <= 1)


def test_sine_wave_frequency_lies_in_the_documented_range():
    x, _ = sine_wave(64, 40, seed=1)
    s = x[..., 0].double()
    # sin(w(t+1)+p) + sin(w(t-1)+p) = 2 cos(w) sin(wt+p): cos(w) by least squares.
    middle = s[1:-1]
    cos_w = ((s[2:] + s[:-2]) * middle).sum(0) / (2 * (middle**2).sum(0))
    w = torch.arccos(cos_w)
    assert torch.all(w >= 0.1 - 1e-6) and torch.all(w <= 0.5 + 1e-6)
    assert w.std() > 0.05, "frequencies should vary across the batch"


def test_sine_wave_is_reproducible_and_depends_on_the_seed():
    assert torch.equal(sine_wave(4, 10, seed=5)[0], sine_wave(4, 10, seed=5)[0])
    assert not torch.equal(sine_wave(4, 10, seed=5)[0], sine_wave(4, 10, seed=6)[0])


def test_sine_wave_rejects_an_empty_frequency_range():
    with pytest.raises(ValueError, match="omega"):
        sine_wave(4, 10, seed=0, omega=(0.5, 0.1))


# -------------------------------------------------------------------- character corpus


@pytest.fixture(scope="module")
def corpus():
    return char_corpus()


def test_char_corpus_is_small_lowercase_text_with_a_sorted_vocabulary(corpus):
    assert 20_000 <= len(corpus.text.encode()) <= 40_000
    assert corpus.vocab == sorted(set(corpus.text))
    assert corpus.text == corpus.text.lower()
    assert len(corpus.vocab) < 40


def test_char_corpus_encode_decode_round_trip(corpus):
    assert corpus.data.dtype == torch.int64 and len(corpus.data) == len(corpus.text)
    assert corpus.decode(corpus.data) == corpus.text
    assert corpus.decode([corpus.vocab.index("a"), corpus.vocab.index(" ")]) == "a "
    with pytest.raises(ValueError, match="Z"):
        corpus.encode("Zebra")


def test_char_corpus_batches_are_windows_of_the_text_shifted_by_one(corpus):
    x, y = next(corpus.batches(seq_len=32, batch_size=4, seed=0))
    assert x.shape == y.shape == (32, 4) and x.dtype == torch.int64
    assert torch.equal(x[1:], y[:-1])
    for b in range(4):
        assert corpus.decode(torch.cat([x[:, b], y[-1:, b]])) in corpus.text


def test_char_corpus_batches_are_reproducible_and_depend_on_the_seed(corpus):
    a = next(corpus.batches(16, 4, seed=1))[0]
    assert torch.equal(a, next(corpus.batches(16, 4, seed=1))[0])
    assert not torch.equal(a, next(corpus.batches(16, 4, seed=2))[0])


def test_char_corpus_split_keeps_the_vocabulary_and_the_text(corpus):
    train, valid = corpus.split(0.9)
    assert train.text + valid.text == corpus.text
    assert train.vocab == valid.vocab == corpus.vocab
    assert len(train) == int(0.9 * len(corpus))
    assert torch.equal(torch.cat([train.data, valid.data]), corpus.data)


def test_char_corpus_rejects_windows_longer_than_the_text():
    tiny = CharCorpus("abc", ["a", "b", "c"])
    with pytest.raises(ValueError, match="seq_len"):
        next(tiny.batches(3, 1, seed=0))


# ---------------------------------------------------------------------- translation


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (15, "fifteen"),
        (40, "forty"),
        (42, "forty two"),
        (100, "one hundred"),
        (110, "one hundred and ten"),
        (342, "three hundred and forty two"),
        (1000, "one thousand"),
        (1005, "one thousand and five"),
        (2019, "two thousand and nineteen"),
        (9999, "nine thousand nine hundred and ninety nine"),
        (20_000, "twenty thousand"),
        (100_005, "one hundred thousand and five"),
        (120_300, "one hundred and twenty thousand three hundred"),
        (999_999, "nine hundred and ninety nine thousand nine hundred and ninety nine"),
    ],
)
def test_number_to_words_on_hand_written_cases(n, words):
    assert number_to_words(n) == words


def _words_to_number(words: str) -> int:
    """An independent reader for the test: add up the word values, scaling at
    'hundred' and 'thousand'."""
    small = {
        w: k
        for k, w in enumerate(
            "zero one two three four five six seven eight nine "
            "ten eleven twelve thirteen fourteen fifteen sixteen "
            "seventeen eighteen nineteen".split()
        )
    }
    tens = {
        w: 10 * k
        for k, w in enumerate(
            "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2
        )
    }
    total, current = 0, 0
    for w in words.split():
        if w == "thousand":
            total, current = total + current * 1000, 0
        elif w == "hundred":
            current *= 100
        elif w != "and":
            current += small.get(w, tens.get(w, 0))
    return total + current


def test_number_to_words_reads_back_for_every_number_and_is_short():
    written = [number_to_words(n) for n in range(10_000)]
    assert [_words_to_number(w) for w in written] == list(range(10_000))
    assert max(len(w.split()) for w in written) == 7


def test_number_to_words_reads_back_up_to_six_digits_in_at_most_eleven_words():
    numbers = list(range(0, 1_000_000, 997)) + [999_999, 100_000, 101_101]
    written = [number_to_words(n) for n in numbers]
    assert [_words_to_number(w) for w in written] == numbers
    assert max(len(w.split()) for w in written) == 11


@pytest.mark.parametrize("bad", [-1, 1_000_000, 3.0])
def test_number_to_words_rejects_numbers_out_of_range(bad):
    with pytest.raises(ValueError, match="n must be"):
        number_to_words(bad)


def test_translation_pairs_match_words_to_digits():
    pairs = translation_pairs(200, seed=0, max_number=9999)
    assert len(pairs) == 200
    for words, digits in pairs:
        assert _words_to_number(words) == int(digits)
        assert digits == str(int(digits))
    assert translation_pairs(20, seed=0) == translation_pairs(20, seed=0)
    assert translation_pairs(20, seed=0) != translation_pairs(20, seed=1)
    assert all(int(d) <= 99 for _, d in translation_pairs(50, seed=0, max_number=99))


def test_vocab_puts_specials_first_and_decodes_up_to_eos():
    vocab = Vocab(["b", "a", "b"])
    assert vocab.itos == ["<pad>", "<bos>", "<eos>", "<unk>", "b", "a"]
    assert (vocab.PAD, vocab.BOS, vocab.EOS, vocab.UNK) == (0, 1, 2, 3)
    assert vocab.encode(["a", "z"], bos=True, eos=True) == [1, 5, 3, 2]
    assert vocab.decode([1, 4, 5, 0, 2, 4]) == ["b", "a"]
    assert vocab.decode(torch.tensor([5, 4])) == ["a", "b"]


def test_translation_vocabs_cover_every_word_and_digit():
    source, target = translation_vocabs()
    words = {w for n in range(10_000) for w in number_to_words(n).split()}
    assert len(source) == 4 + len(words) and all(w in source.stoi for w in words)
    assert target.itos[4:] == list("0123456789")


def test_pad_batch_pads_time_major_with_lengths():
    tokens, lengths = pad_batch([[5, 6, 7], [8]])
    assert torch.equal(tokens, torch.tensor([[5, 8], [6, 0], [7, 0]]))
    assert torch.equal(lengths, torch.tensor([3, 1]))
    with pytest.raises(ValueError):
        pad_batch([[1], []])


def test_translation_batch_decodes_back_to_the_pairs():
    pairs = [("three hundred and forty two", "342"), ("fifteen", "15"), ("one thousand", "1000")]
    src, src_len, tgt, tgt_len = translation_batch(pairs)
    source, target = translation_vocabs()
    assert src.shape == (6, 3) and tgt.shape == (6, 3)
    assert src_len.tolist() == [6, 2, 3] and tgt_len.tolist() == [5, 4, 6]
    assert torch.all(tgt[0] == target.BOS)
    for b, (words, digits) in enumerate(pairs):
        assert src[src_len[b] - 1, b] == source.EOS and tgt[tgt_len[b] - 1, b] == target.EOS
        assert " ".join(source.decode(src[:, b])) == words
        assert "".join(target.decode(tgt[:, b])) == digits


def test_translation_sequences_stay_short_up_to_four_digits():
    src, _, tgt, _ = translation_batch(translation_pairs(500, seed=3, max_number=9999))
    assert src.shape[0] <= 8 and tgt.shape[0] <= 6


def test_translation_pairs_reject_bad_arguments():
    with pytest.raises(ValueError, match="max_number"):
        translation_pairs(5, seed=0, max_number=1_000_000)
    with pytest.raises(ValueError, match="n must be"):
        translation_pairs(0, seed=0)


# -------------------------------------------------------------- the Python docs corpus


def test_python_docs_corpus_is_the_shipped_docstrings_without_the_licence_line():
    import string

    from rnnkit.tasks import python_docs_corpus

    corpus = python_docs_corpus()
    assert 150_000 <= len(corpus) <= 250_000
    assert corpus.vocab == sorted(set(corpus.text)) and len(corpus.vocab) <= 96
    assert set(corpus.text) <= set(string.printable)
    assert corpus.text.startswith("json\n") and "PSF License" not in corpus.text[:200]
    assert "\n\ntextwrap.dedent(text)\n    Remove any common leading whitespace" in corpus.text
    assert corpus.decode(corpus.data) == corpus.text


def test_python_docs_corpus_file_names_its_licence_and_its_generator():
    from importlib import resources

    first = resources.files("rnnkit").joinpath("data/pydoc_corpus.txt").read_text().split("\n")[0]
    assert "Python Software Foundation" in first and "PSF License" in first
    assert "scripts/make_pydoc_corpus.py" in first
