"""Seeded tasks for the course: synthetic sequences made on the fly and a shipped corpus.

Nothing here downloads anything. Every generator takes ``seed``, either an ``int`` or a
``torch.Generator``, and draws all its randomness from it, so the same seed gives the
same tensors on every machine. Sequences are time-major, ``(T, B, ·)``, like the rest of
rnnkit; real-valued tensors are ``float32`` and symbols are ``int64``.

- :func:`adding_problem` -- the long-range sum of Hochreiter & Schmidhuber (1997), with
  :func:`adding_solved` and :func:`adding_baseline` to judge a model.
- :func:`copy_task`, :func:`repeat_copy_task` -- recall tasks in the style of the Neural
  Turing Machine (Graves et al., 2014).
- :func:`sine_wave` -- next-step prediction of a sine of random frequency and phase.
- :func:`char_corpus` -- a small English text for character language models.
- :func:`python_docs_corpus` -- the standard library's docstrings, a real text to model.
- :func:`python_source_corpus` -- the standard library's source code, for the same.
- :func:`translation_pairs` -- numbers written in words to digits, for sequence to sequence.
- :func:`digits` -- 8 x 8 handwritten digits (UCI, CC BY 4.0), to read row by row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources

import torch

Seed = int | torch.Generator

#: Target value at positions that do not count; ``torch.nn.functional.cross_entropy``
#: skips it by default, so a loss over every step already ignores them.
IGNORE_INDEX = -100


def _generator(seed: Seed) -> torch.Generator:
    """A CPU generator from an int seed, or the generator itself."""
    if isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int or a torch.Generator, got {seed!r}")
    return torch.Generator().manual_seed(seed)


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def _uniform(shape: tuple[int, ...], low: float, high: float, gen: torch.Generator):
    return low + (high - low) * torch.rand(shape, generator=gen)


# ---------------------------------------------------------------------------------------
# The adding problem
# ---------------------------------------------------------------------------------------


def adding_baseline(T: int) -> tuple[float, float]:
    """How well always predicting the mean target, 0.5, does on :func:`adding_problem`.

    The error is then (X1 + X2) / 4. Both values uniform on [-1, 1] give
    Var(X1 + X2) = 2/3, so an MSE of 1/24, and |X1 + X2| < 0.16 (solved) with
    probability 0.16 - 0.16² / 4 = 0.1536 for their triangular sum. When step 0 is
    marked its value is 0, the sum is a single uniform: MSE 1/48, solved 0.16. Step 0
    is marked with a probability p0 that depends on T through the range of the second
    mark; the two cases are mixed with weights 1 - p0 and p0. A model has learnt
    something only well above these numbers (e.g. T = 100: MSE 0.0392, solved 0.154).

    T: the minimal length, as given to :func:`adding_problem`.
    Returns (mse, solved): the expected MSE of predicting 0.5, and the expected fraction
    of sequences it gets within 0.04.
    """
    _check_positive(T=T)
    if T < 10:
        raise ValueError(f"T must be at least 10, got {T}")
    k = T // 2 - 1  # the second mark's range, which excludes the first mark's step
    # First mark at 0 (1/10); or at f = 1..9 and the second at 0: 1/(k-1) if f < k, else 1/k.
    p0 = 0.1 + 0.1 * (min(9, k - 1) / (k - 1) + max(0, 10 - k) / k)
    mse = (1 - p0) / 24 + p0 / 48
    solved = (1 - p0) * (0.16 - 0.16**2 / 4) + p0 * 0.16
    return mse, solved


def adding_problem(
    batch_size: int, T: int, seed: Seed
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A batch of the adding problem (Hochreiter & Schmidhuber, 1997, experiment 4).

    Each step carries two numbers: a value drawn uniformly from [-1, 1] and a marker.
    Exactly two steps are marked with 1.0; the target, given once at the end of the
    sequence, is ``0.5 + (X1 + X2) / 4``, where X1 and X2 are the two marked values
    (their sum rescaled to [0, 1]). What we follow from the paper:

    - each sequence has its own length, drawn uniformly from ``T`` to ``T + T // 10``
      (both included);
    - X1 is marked at one of the first ten steps; X2 at one of the first ``T // 2 - 1``
      steps, chosen uniformly among those not already marked (both ranges use the
      minimal length ``T``, so the marks are always far from the end);
    - the marker is -1.0 at the first and at the last step of the sequence and 0.0
      elsewhere, unless the step is marked;
    - when step 0 is marked, its value is set to 0 (the paper sets X1 to zero "in the
      rare case where the first pair gets marked"; we apply this whichever mark lands
      there, so that the step whose marker is usually -1 never carries a value);
    - a marked step keeps its 1.0 even when it is the last one (possible only for
      T = 10; the paper uses T >= 100).

    Steps past a sequence's length are padding, all zeros. A sequence counts as
    processed correctly when the absolute error is below 0.04 (:func:`adding_solved`).

    batch_size: B, number of sequences;  T: minimal length, at least 10.
    seed: int or torch.Generator.
    Returns x: (T_max, B, 2) float32, channel 0 the values and channel 1 the markers;
    y: (B,) float32 targets;  lengths: (B,) int64, each in [T, T + T // 10].
    """
    _check_positive(batch_size=batch_size, T=T)
    if T < 10:
        raise ValueError(f"T must be at least 10 (X1 is marked among the first ten steps), got {T}")
    gen = _generator(seed)
    B = batch_size
    lengths = torch.randint(T, T + T // 10 + 1, (B,), generator=gen)
    t_max = int(lengths.max())
    steps = torch.arange(t_max).unsqueeze(1)  # (T_max, 1) against lengths (B,)
    valid = steps < lengths

    values = _uniform((t_max, B), -1.0, 1.0, gen) * valid
    markers = torch.zeros(t_max, B)
    markers[0] = -1.0
    markers[steps == lengths - 1] = -1.0

    batch = torch.arange(B)
    first = torch.randint(0, 10, (B,), generator=gen)
    # A uniform choice among the first T//2 - 1 steps except `first`: the largest of
    # independent uniform scores, with the score of `first` pushed below all others.
    scores = torch.rand(B, T // 2 - 1, generator=gen)
    in_range = first < T // 2 - 1
    scores[batch[in_range], first[in_range]] = -1.0
    second = scores.argmax(dim=1)

    values[0, (first == 0) | (second == 0)] = 0.0
    markers[first, batch] = 1.0
    markers[second, batch] = 1.0
    targets = 0.5 + (values[first, batch] + values[second, batch]) / 4
    return torch.stack([values, markers], dim=-1), targets, lengths


def adding_solved(pred: torch.Tensor, target: torch.Tensor, tol: float = 0.04) -> float:
    """Fraction of sequences whose prediction is within ``tol`` of the target.

    The paper's criterion is an absolute error below 0.04. Always predicting the mean
    target, 0.5, already scores about 0.15 with an MSE of about 0.039
    (:func:`adding_baseline` gives the exact numbers for each T).

    pred, target: (B,) tensors of the same shape.  tol: the tolerance, positive.
    """
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target must have the same shape, got {tuple(pred.shape)} "
            f"and {tuple(target.shape)}"
        )
    if tol <= 0:
        raise ValueError(f"tol must be positive, got {tol}")
    return ((pred - target).abs() < tol).float().mean().item()


# ---------------------------------------------------------------------------------------
# Copy and repeat copy
# ---------------------------------------------------------------------------------------


def copy_task(
    batch_size: int, seq_len: int, n_symbols: int, seed: Seed
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Read a sequence of symbols, then write it back after a delimiter.

    With S = ``seq_len`` and K = ``n_symbols`` there are 2S + 1 steps:

    ======================  ===========================  ============================
    steps                   input (K + 1 channels)       target
    ======================  ===========================  ============================
    0 … S-1                 one-hot symbol s_t           ``IGNORE_INDEX``
    S                       delimiter (channel K = 1)    ``IGNORE_INDEX``
    S+1 … 2S                all zeros (blank)            s_{t-S-1}, the symbols again
    ======================  ===========================  ============================

    Symbols are drawn uniformly from 0 … K-1. Only the last S steps count, so the model
    has K output classes. ``IGNORE_INDEX`` (-100) is the default ``ignore_index`` of
    ``torch.nn.functional.cross_entropy``.

    batch_size: B;  seq_len: S;  n_symbols: K;  seed: int or torch.Generator.
    Returns x: (2S+1, B, K+1) float32;  y: (2S+1, B) int64;
    mask: (2S+1, B) bool, True where the target counts.
    """
    return repeat_copy_task(batch_size, seq_len, 1, n_symbols, seed, end_marker=False)


def repeat_copy_task(
    batch_size: int,
    seq_len: int,
    repeats: int,
    n_symbols: int,
    seed: Seed,
    *,
    end_marker: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Read a sequence, then write it ``repeats`` times and say when it is done.

    With S = ``seq_len``, R = ``repeats`` and K = ``n_symbols`` there are
    S + 1 + R·S + 1 steps (without the end marker, one fewer):

    ==========================  ===============================  ====================
    steps                       input (K + 2 channels)           target
    ==========================  ===============================  ====================
    0 … S-1                     one-hot symbol s_t               ``IGNORE_INDEX``
    S                           delimiter (channel K = 1) and    ``IGNORE_INDEX``
                                the count (channel K+1 = R)
    S+1 … S+R·S                 all zeros                        the symbols, R times
    S+R·S+1                     all zeros                        end class K
    ==========================  ===============================  ====================

    The count is given raw, not normalised, on its own channel, as in the Neural Turing
    Machine's repeat-copy task. The output has K + 1 classes (the symbols and "end").

    batch_size: B;  seq_len: S;  repeats: R;  n_symbols: K;  seed: int or Generator.
    end_marker: whether to add the final "end" step (:func:`copy_task` leaves it out and
    also drops the count channel).
    Returns x: (T, B, K+2) float32;  y: (T, B) int64;  mask: (T, B) bool, True where the
    target counts.
    """
    _check_positive(batch_size=batch_size, seq_len=seq_len, repeats=repeats, n_symbols=n_symbols)
    gen = _generator(seed)
    L, R, K = seq_len, repeats, n_symbols
    symbols = torch.randint(0, K, (L, batch_size), generator=gen)
    n_out = R * L + int(end_marker)
    total = L + 1 + n_out
    n_channels = K + 2 if end_marker else K + 1

    x = torch.zeros(total, batch_size, n_channels)
    x[:L] = torch.nn.functional.one_hot(symbols, n_channels).float()
    x[L, :, K] = 1.0
    if end_marker:
        x[L, :, K + 1] = float(R)

    y = torch.full((total, batch_size), IGNORE_INDEX, dtype=torch.int64)
    y[L + 1 : L + 1 + R * L] = symbols.repeat(R, 1)
    if end_marker:
        y[-1] = K
    mask = torch.zeros(total, batch_size, dtype=torch.bool)
    mask[L + 1 :] = True
    return x, y, mask


# ---------------------------------------------------------------------------------------
# Sine waves
# ---------------------------------------------------------------------------------------


def sine_wave(
    batch_size: int, T: int, seed: Seed, omega: tuple[float, float] = (0.1, 0.5)
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sine waves to predict one step ahead: ``s_t = sin(ω t + φ)``.

    Each sequence has its own angular frequency ω, uniform in ``omega`` (radians per
    step; the default (0.1, 0.5) gives periods from about 13 to 63 steps), and its own
    phase φ, uniform in [0, 2π). The amplitude is 1 and there is no noise.

    batch_size: B;  T: number of steps;  seed: int or torch.Generator.
    omega: (low, high) range of ω, 0 < low <= high.
    Returns x: (T, B, 1) float32 with x_t = s_t, and y: (T, B, 1) with y_t = s_{t+1}.
    """
    _check_positive(batch_size=batch_size, T=T)
    low, high = omega
    if not 0 < low <= high:
        raise ValueError(f"omega must be a range (low, high) with 0 < low <= high, got {omega}")
    gen = _generator(seed)
    w = _uniform((batch_size,), low, high, gen)
    phase = _uniform((batch_size,), 0.0, 2 * math.pi, gen)
    t = torch.arange(T + 1, dtype=torch.float32).unsqueeze(1)
    s = torch.sin(w * t + phase).unsqueeze(-1)  # (T + 1, B, 1)
    return s[:-1], s[1:]


# ---------------------------------------------------------------------------------------
# The character corpus
# ---------------------------------------------------------------------------------------


@dataclass
class CharCorpus:
    """A text with its character vocabulary, for character-level language models.

    text: the whole text.  vocab: the characters, sorted; index k is symbol k.
    data: (N,) int64, the text encoded (filled in from ``text``).
    """

    text: str
    vocab: list[str]
    data: torch.Tensor = field(init=False, repr=False)
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._index = {ch: k for k, ch in enumerate(self.vocab)}
        self.data = self.encode(self.text)

    def __len__(self) -> int:
        return len(self.text)

    def encode(self, text: str) -> torch.Tensor:
        """Text -> (N,) int64 symbol ids. Characters outside the vocabulary are an error."""
        unknown = sorted(set(text) - self._index.keys())
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {unknown}")
        return torch.tensor([self._index[ch] for ch in text], dtype=torch.int64)

    def decode(self, ids: torch.Tensor | Iterable[int]) -> str:
        """(N,) symbol ids (tensor or ints) -> text."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return "".join(self.vocab[k] for k in ids)

    def split(self, train_fraction: float = 0.9) -> tuple[CharCorpus, CharCorpus]:
        """Cut the text in two, training part first; both keep the full vocabulary.

        train_fraction: share of characters in the first part, in (0, 1).
        """
        if not 0 < train_fraction < 1:
            raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
        cut = int(len(self.text) * train_fraction)
        return CharCorpus(self.text[:cut], self.vocab), CharCorpus(self.text[cut:], self.vocab)

    def batches(
        self, seq_len: int, batch_size: int, seed: Seed
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """An endless stream of windows cut at random places, for next-character training.

        seq_len: T;  batch_size: B;  seed: int or torch.Generator.
        Yields x: (T, B) int64 and y: (T, B) int64 with y_t = x_{t+1} (the next character).
        """
        _check_positive(seq_len=seq_len, batch_size=batch_size)
        if seq_len + 1 > len(self.data):
            raise ValueError(
                f"seq_len must be below the text length {len(self.data)}, got {seq_len}"
            )
        gen = _generator(seed)
        offsets = torch.arange(seq_len + 1).unsqueeze(1)  # (T + 1, 1)
        while True:
            starts = torch.randint(0, len(self.data) - seq_len, (batch_size,), generator=gen)
            window = self.data[starts + offsets]  # (T + 1, B)
            yield window[:-1], window[1:]


def char_corpus() -> CharCorpus:
    """The course's shipped corpus: about 28 KB of lowercase English prose written for
    the course (``rnnkit/data/corpus.txt``) on clocks, rivers, memory and things that
    come back; 34 distinct characters."""
    text = resources.files("rnnkit").joinpath("data/corpus.txt").read_text(encoding="utf-8")
    return CharCorpus(text, sorted(set(text)))


def python_docs_corpus() -> CharCorpus:
    """A real text nobody on the course wrote: about 200 KB of docstrings from Python's
    standard library (``rnnkit/data/pydoc_corpus.txt``), from ``json`` and ``textwrap`` to
    ``logging`` and ``inspect``, each under a line with the object's name and signature;
    printable ASCII and newlines, 96 distinct characters.

    The docstrings are the Python Software Foundation's, under the PSF License Version 2
    (https://docs.python.org/3/license.html). The file's first line records that and
    the Python version they come from; it is not part of the text returned here.
    ``scripts/make_pydoc_corpus.py`` regenerates the file.
    """
    raw = resources.files("rnnkit").joinpath("data/pydoc_corpus.txt").read_text(encoding="ascii")
    text = raw.split("\n", 1)[1]  # the provenance line
    return CharCorpus(text, sorted(set(text)))


def python_source_corpus() -> CharCorpus:
    """Code nobody on the course wrote: about 550 KB of Python's standard library source
    (``rnnkit/data/pysource_corpus.txt``), 21 whole modules from ``textwrap`` to
    ``shutil``, each after a line ``# ---- Lib/<file>``; printable ASCII and newlines,
    96 distinct characters. Its string literals, brackets and indentation are structure
    a character model can learn, as in Karpathy's model of the Linux source.

    The code is the Python Software Foundation's, under the PSF License Version 2
    (https://docs.python.org/3/license.html). The file's first line records that and the
    Python version it comes from; it is not part of the text returned here.
    ``scripts/make_python_source_corpus.py`` regenerates the file.
    """
    raw = resources.files("rnnkit").joinpath("data/pysource_corpus.txt").read_text("ascii")
    text = raw.split("\n", 1)[1]  # the provenance line
    return CharCorpus(text, sorted(set(text)))


def digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Handwritten digits of 8 x 8 pixels, split once and for all into 1,347 images for
    training and 450 for testing (45 of each digit): ``(x_train, y_train, x_test, y_test)``.

    x: (N, 8, 8) float32 in [0, 1] (pixel counts 0..16 divided by 16), row r of an image is
    ``x[n, r]``; y: (N,) int64 digits 0..9. Read row by row, an image is a sequence of
    T = 8 steps of I = 8 features.

    The images are the test part of the UCI "Optical Recognition of Handwritten Digits"
    (E. Alpaydin and C. Kaynak, 1998, https://doi.org/10.24432/C50P49), under the Creative
    Commons Attribution 4.0 licence (CC BY 4.0), the same 1,797 images scikit-learn ships
    for ``load_digits``. ``scripts/make_digits.py`` wrote ``rnnkit/data/digits.npz`` from
    scikit-learn's copy; the archive's ``source`` entry records this.
    """
    import numpy as np  # only this loader needs it

    with resources.files("rnnkit").joinpath("data/digits.npz").open("rb") as f:
        data = np.load(f)
        images = torch.from_numpy(data["images"].astype("float32") / 16.0)
        labels = torch.from_numpy(data["labels"].astype("int64"))
        test = torch.from_numpy(data["is_test"])
    return images[~test], labels[~test], images[test], labels[test]


# ---------------------------------------------------------------------------------------
# Toy translation: numbers in words -> digits
# ---------------------------------------------------------------------------------------

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
MAX_NUMBER = 999_999


def number_to_words(n: int) -> str:
    """Write 0 … 999 999 in English words, British style, e.g. 342 -> "three hundred and
    forty two", 1005 -> "one thousand and five", 120 005 -> "one hundred and twenty
    thousand and five". Compounds are two words ("forty two") so that every word is a
    token; "and" comes before the last two digits whenever thousands or hundreds precede
    them. Numbers up to 9999 take at most 7 words, numbers up to 999 999 at most 11.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"n must be an int in [0, {MAX_NUMBER}], got {n!r}")
    if n == 0:
        return "zero"
    thousands, rest = divmod(n, 1000)
    words = [*_below_thousand(thousands), "thousand"] if thousands else []
    if words and 0 < rest < 100:
        words.append("and")  # "one thousand and five"
    return " ".join(words + _below_thousand(rest))


def _below_thousand(n: int) -> list[str]:
    """The words of 1 … 999 ([] for 0), "and" after the hundreds."""
    hundreds, below = divmod(n, 100)
    words = [_ONES[hundreds], "hundred"] if hundreds else []
    if below:
        if words:
            words.append("and")
        tens, ones = divmod(below, 10)
        if below < 20:
            words.append(_ONES[below])
        else:
            words += [_TENS[tens]] + ([_ONES[ones]] if ones else [])
    return words


class Vocab:
    """Tokens <-> ids, with four special tokens first: pad = 0, bos = 1, eos = 2, unk = 3.

    tokens: the ordinary tokens, ids 4, 5, … in the order given (repeats are dropped).
    """

    SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
    PAD, BOS, EOS, UNK = range(4)

    def __init__(self, tokens: Iterable[str]) -> None:
        self.itos: list[str] = list(self.SPECIALS)
        for tok in tokens:
            if tok not in self.itos:
                self.itos.append(tok)
        self.stoi = {tok: k for k, tok in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Sequence[str], *, bos: bool = False, eos: bool = False) -> list[int]:
        """Tokens -> ids, unknown tokens -> unk; optionally framed by bos ... eos."""
        ids = [self.stoi.get(tok, self.UNK) for tok in tokens]
        return [self.BOS] * bos + ids + [self.EOS] * eos

    def decode(self, ids: torch.Tensor | Iterable[int]) -> list[str]:
        """Ids -> tokens, read up to the first eos; pad and bos are skipped, so a
        decoder's raw output decodes to the tokens it meant."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        tokens = []
        for k in ids:
            if k == self.EOS:
                break
            if k not in (self.PAD, self.BOS):
                tokens.append(self.itos[k])
        return tokens


def translation_vocabs() -> tuple[Vocab, Vocab]:
    """The two vocabularies of the number task: words (source) and digits (target).

    Source: every word :func:`number_to_words` uses (35 tokens with the specials).
    Target: the characters 0 … 9 (14 tokens with the specials).
    """
    words = [*_ONES, *_TENS[2:], "hundred", "thousand", "and"]
    return Vocab(words), Vocab("0123456789")


def translation_pairs(n: int, seed: Seed, max_number: int = 999) -> list[tuple[str, str]]:
    """Pairs (number in words, the same number in digits), e.g.
    ("three hundred and forty two", "342").

    Numbers are drawn uniformly from 0 … ``max_number`` (with replacement). The source is
    split into word tokens, plus eos: at most 5 words for the default ``max_number`` of 999,
    7 for 9999, 11 for 999 999. The target is split into character tokens, one per digit
    (at most 3 by default, 4 for 9999, 6 for 999 999); see :func:`translation_batch`.

    n: number of pairs;  seed: int or torch.Generator;  max_number: at most 999 999.
    """
    _check_positive(n=n, max_number=max_number)
    if max_number > MAX_NUMBER:
        raise ValueError(f"max_number must be at most {MAX_NUMBER}, got {max_number}")
    numbers = torch.randint(0, max_number + 1, (n,), generator=_generator(seed)).tolist()
    return [(number_to_words(k), str(k)) for k in numbers]


def pad_batch(
    sequences: Sequence[Sequence[int]], pad: int = Vocab.PAD
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack id sequences of different lengths into one time-major tensor.

    sequences: B lists of ids;  pad: the id that fills the tail of shorter ones.
    Returns tokens: (T_max, B) int64 and lengths: (B,) int64.
    """
    if not sequences or any(len(seq) == 0 for seq in sequences):
        raise ValueError("sequences must be a non-empty list of non-empty id lists")
    lengths = torch.tensor([len(seq) for seq in sequences])
    tokens = torch.full((int(lengths.max()), len(sequences)), pad, dtype=torch.int64)
    for b, seq in enumerate(sequences):
        tokens[: len(seq), b] = torch.tensor(seq, dtype=torch.int64)
    return tokens, lengths


def translation_batch(
    pairs: Sequence[tuple[str, str]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Encode and pad pairs from :func:`translation_pairs` with :func:`translation_vocabs`.

    The source is the words then eos; the target is bos, the digits, then eos, so a
    decoder with teacher forcing reads ``tgt[:-1]`` and is trained to emit ``tgt[1:]``.

    pairs: B pairs (words, digits).
    Returns src: (S, B) int64, src_lengths: (B,), tgt: (T, B) int64, tgt_lengths: (B,).
    """
    source_vocab, target_vocab = translation_vocabs()
    src = [source_vocab.encode(words.split(), eos=True) for words, _ in pairs]
    tgt = [target_vocab.encode(list(digits), bos=True, eos=True) for _, digits in pairs]
    return (*pad_batch(src), *pad_batch(tgt))
