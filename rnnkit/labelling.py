"""Chapter 11: reading a whole sequence into one label, and labelling every step of one.

Many to one: :class:`RowClassifier` reads an image row by row and classifies it from its
last state, ``ℓ = V h_T + b_y``; :func:`linear_probe` asks how much of the answer a state
already holds after ``t`` rows.

Many to many: a tagger in the spirit of slot filling. :func:`make_sentences` writes
requests such as "transfer 250 euros to the lisbon office on 3 march" from templates and
vocabularies, with the spans of their entities (``DATE``, ``AMOUNT``, ``PLACE``);
:func:`spans_to_bio` turns spans into one BIO tag per word, and :class:`Tagger` predicts
those tags, ``ℓ_t = V h_t + b_y`` at every word, reading the sentence in one direction or
both. Turning predicted tags back into spans and scoring spans is assignment 11.

Words are lowercase and ``int64`` indices; batches are time-major ``(T, B)``, padded with
:data:`PAD`, and their tags hold ``tasks.IGNORE_INDEX`` at padded steps.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from .cells import GRUCell, LSTMCell, RNNCell
from .layers import Bidirectional, Recurrent
from .tasks import IGNORE_INDEX

# ---------------------------------------------------------------------------------------
# Many to one: digits read row by row
# ---------------------------------------------------------------------------------------

CELLS = {"rnn": RNNCell, "gru": GRUCell, "lstm": LSTMCell}


class RowClassifier(nn.Module):
    """A recurrent network that reads an image one row per step and classifies it from
    its last state: ``h_t = cell(x_t, h_{t-1})``, ``ℓ = V h_T + b_y``.

    Args:
        I: features per row (8 for the 8 x 8 digits); H: hidden units; K: classes;
        cell: ``"rnn"``, ``"gru"`` or ``"lstm"``.
    """

    def __init__(self, I: int, H: int, K: int, cell: str = "gru") -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        self.layer = Recurrent(CELLS[cell](I, H))
        self.readout = nn.Linear(H, K)  # V, b_y

    def states(self, images: Tensor) -> Tensor:
        """images: (B, T, I), row t of each image is step t. Returns h_1 .. h_T: (T, B, H)."""
        if images.dim() != 3:
            raise ValueError(f"expected images of shape (B, T, I), got {tuple(images.shape)}")
        outputs, _ = self.layer(images.transpose(0, 1))
        return outputs

    def forward(self, images: Tensor) -> Tensor:
        """images: (B, T, I). Returns the logits ℓ = V h_T + b_y: (B, K)."""
        return self.readout(self.states(images)[-1])


class PixelMLP(nn.Module):
    """The non-recurrent baseline: all T x I pixels at once, through one hidden layer of H
    ReLU units (``H = 0``: no hidden layer, multinomial logistic regression).

    forward: images (B, T, I) -> logits (B, K).
    """

    def __init__(self, pixels: int, H: int, K: int) -> None:
        super().__init__()
        hidden = [nn.Linear(pixels, H), nn.ReLU()] if H else []
        self.net = nn.Sequential(nn.Flatten(), *hidden, nn.Linear(H or pixels, K))

    def forward(self, images: Tensor) -> Tensor:
        return self.net(images)


def fit_classifier(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    epochs: int,
    seed: int,
    batch_size: int = 64,
    lr: float = 1e-2,
    weight_decay: float = 1e-4,
) -> nn.Module:
    """Train ``model`` (images (B, T, I) -> logits (B, K)) with Adam on shuffled minibatches.

    x: (N, T, I) float; y: (N,) int64 classes; epochs, batch_size: positive ints; seed
    draws the order of the examples. Returns the model in eval mode.
    """
    gen = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()
    for _ in tqdm(range(epochs), desc=type(model).__name__, leave=False):
        for batch in torch.randperm(len(y), generator=gen).split(batch_size):
            loss = F.cross_entropy(model(x[batch]), y[batch])
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
    return model.eval()


def linear_probe(
    train: Tensor, y_train: Tensor, test: Tensor, y_test: Tensor, weight_decay: float = 1e-3
) -> float:
    """Accuracy on ``test`` of a softmax readout ``ℓ = V z + b_y`` fitted on ``train``.

    train: (N, D) features (a state h_t, or the pixels read so far); y_train: (N,) int64;
    test: (M, D); y_test: (M,). The readout minimises the mean cross-entropy plus
    ``weight_decay`` times ||V||² with L-BFGS (a convex problem: no seed, one answer).
    Features are standardised with the training set's mean and spread first.
    """
    if train.dim() != 2 or test.dim() != 2 or train.shape[1] != test.shape[1]:
        raise ValueError(
            f"expected features (N, D) and (M, D), got {tuple(train.shape)} and {tuple(test.shape)}"
        )
    mean, std = train.mean(0), train.std(0) + 1e-6
    train, test = (train - mean) / std, (test - mean) / std
    K = int(y_train.max()) + 1
    V = torch.zeros(K, train.shape[1], dtype=train.dtype, requires_grad=True)
    b_y = torch.zeros(K, dtype=train.dtype, requires_grad=True)
    optimiser = torch.optim.LBFGS([V, b_y], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimiser.zero_grad()
        loss = F.cross_entropy(train @ V.T + b_y, y_train) + weight_decay * V.pow(2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    with torch.no_grad():
        return float(((test @ V.T + b_y).argmax(1) == y_test).float().mean())


# ---------------------------------------------------------------------------------------
# Many to many: requests with dates, amounts and places, tagged word by word
# ---------------------------------------------------------------------------------------

ENTITIES = ("DATE", "AMOUNT", "PLACE")
#: One tag per word; index i of this tuple is the class the tagger predicts.
LABELS = ("O", "B-DATE", "I-DATE", "B-AMOUNT", "I-AMOUNT", "B-PLACE", "I-PLACE")
PAD, UNK = 0, 1

# Places seen in training; some are also ordinary words ("nice", "split", "reading").
TRAIN_PLACES = (
    "lisbon", "porto", "madrid", "paris", "berlin", "rome", "vienna", "prague", "warsaw",
    "dublin", "london", "oslo", "helsinki", "athens", "munich", "zurich", "geneva", "milan",
    "naples", "seville", "valencia", "lyon", "marseille", "nice", "bath", "reading",
    "split", "new york", "los angeles", "san francisco", "hong kong", "buenos aires",
    "rio de janeiro", "tel aviv", "cape town", "kuala lumpur", "mexico city", "le havre",
)  # fmt: skip
# Places only the test sentences use: the tagger never saw these words as places.
TEST_PLACES = (
    "brussels", "antwerp", "stockholm", "copenhagen", "budapest", "krakow", "bologna",
    "turin", "bordeaux", "toulouse", "granada", "bilbao", "hamburg", "cologne", "leeds",
    "glasgow", "cork", "tallinn", "riga", "new delhi", "san diego", "las vegas",
    "sao paulo", "ho chi minh city", "santa cruz",
)  # fmt: skip
MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
)  # fmt: skip
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CURRENCIES = ("euros", "dollars", "pounds", "eur", "usd", "francs")
# The same left context ("by", "for", "to") comes before different entities, and the
# {any} slot takes any of the three: a tagger that reads only to the left must guess what
# a number or a word it does not know starts.
TEMPLATES = (
    "transfer {amount} to the {place} office on {date}",
    "please pay {amount} by {date}",
    "i need a ticket from {place} to {place} for {date}",
    "book a table for two in {place} for {date}",
    "find a nice hotel in {place} for under {amount} a night",
    "the invoice of {amount} from the {place} branch is due {date}",
    "split {amount} with anna for the trip to {place}",
    "may i send {amount} to my sister in {place}",
    "remind me on {date} to send {amount} to the {place} office",
    "how much did i spend in {place} on {date}",
    "reduce my card limit by {amount} from {date}",
    "my flight to {place} leaves {date} and costs {amount}",
    "we paid {amount} for the hotel in {place}",
    "move the meeting in {place} to {date}",
    "i am reading the statement for {date}",
    "cancel the payment of {amount} due {date}",
    "set aside {amount} for the {place} trip on {date}",
    "what is the weather in {place} {date}",
    "send {amount} to {place} by {date}",
    "is the {place} store open {date}",
    # an entity of any type in the same place: only its own words say which
    "what about the payment of {any}",
    "show me the receipts from {any}",
    "check the entry for {any} again",
    "the one with {any} please",
    "i meant {any} not that one",
)


@dataclass(frozen=True)
class Sentence:
    """A tokenised sentence and its entities.

    words: the lowercase words; spans: ``(start, end, entity)`` triples, words
    ``start .. end - 1`` (end exclusive), in order and not overlapping.
    """

    words: tuple[str, ...]
    spans: tuple[tuple[int, int, str], ...]


def _date(rng: random.Random) -> list[str]:
    day, month = str(rng.randint(1, 28)), rng.choice(MONTHS)
    return rng.choice([
        [day, month], [month, day], [day, month, str(rng.randint(2024, 2027))],
        [rng.choice(WEEKDAYS)], ["next", rng.choice(WEEKDAYS)], ["tomorrow"], ["today"],
        ["the", f"{day}th"], ["end", "of", month],
    ])  # fmt: skip


def _amount(rng: random.Random) -> list[str]:
    n = str(rng.choice([rng.randint(1, 31), rng.randint(10, 999), 50 * rng.randint(1, 40)]))
    currency = rng.choice(CURRENCIES)
    return rng.choice([
        [n, currency], [n, currency], [f"{n}.{rng.randint(10, 99)}", currency],
        [n, "thousand", currency], [currency, n],
    ])  # fmt: skip


def make_sentences(n: int, seed: int, places: Sequence[str] = TRAIN_PLACES) -> list[Sentence]:
    """``n`` requests drawn from :data:`TEMPLATES` with their slots filled at random.

    n: a positive int; seed: an int (Python's ``random.Random``, the same on every machine);
    places: the place names to draw from (:data:`TRAIN_PLACES`, or :data:`TEST_PLACES` for
    a test set whose places the tagger has never seen).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    rng = random.Random(seed)
    fillers = {
        "date": lambda: ("DATE", _date(rng)),
        "amount": lambda: ("AMOUNT", _amount(rng)),
        "place": lambda: ("PLACE", rng.choice(places).split()),
    }
    fillers["any"] = lambda: fillers[rng.choice(["date", "amount", "place"])]()
    sentences = []
    for _ in range(n):
        words: list[str] = []
        spans = []
        for piece in rng.choice(TEMPLATES).split():
            if piece.startswith("{"):
                entity, filled = fillers[piece.strip("{}")]()
                spans.append((len(words), len(words) + len(filled), entity))
                words += filled
            else:
                words.append(piece)
        sentences.append(Sentence(tuple(words), tuple(spans)))
    return sentences


def spans_to_bio(n_words: int, spans: Sequence[tuple[int, int, str]]) -> list[str]:
    """The BIO tags of a sentence of ``n_words`` words: ``B-X`` on the first word of an
    entity of type X, ``I-X`` on the words after it, ``O`` outside every entity.

    spans: ``(start, end, entity)`` with ``0 <= start < end <= n_words``, not overlapping.
    """
    tags = ["O"] * n_words
    for start, end, entity in spans:
        if not 0 <= start < end <= n_words or any(t != "O" for t in tags[start:end]):
            raise ValueError(
                f"expected non-overlapping spans within {n_words} words, got {tuple(spans)}"
            )
        tags[start:end] = [f"B-{entity}"] + [f"I-{entity}"] * (end - start - 1)
    return tags


def build_vocab(sentences: Sequence[Sentence]) -> dict[str, int]:
    """Word -> index for every word of ``sentences``, after ``<pad>`` (0) and ``<unk>`` (1)."""
    words = sorted({w for s in sentences for w in s.words})
    return {"<pad>": PAD, "<unk>": UNK} | {w: i + 2 for i, w in enumerate(words)}


def tag_batch(
    sentences: Sequence[Sentence],
    vocab: dict[str, int],
    unk_rate: float = 0.0,
    gen: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Pad sentences into a batch: ``(words (T, B), tags (T, B), lengths (B,))``, int64.

    Words outside ``vocab`` become ``<unk>``; with ``unk_rate > 0`` each word is also
    replaced by ``<unk>`` with that probability (drawn from ``gen``), so that the tagger
    learns to tag a word it does not know from its neighbours. Padded steps hold
    :data:`PAD` in words and ``IGNORE_INDEX`` in tags; tags index :data:`LABELS`.
    """
    lengths = torch.tensor([len(s.words) for s in sentences])
    T, B = int(lengths.max()), len(sentences)
    words = torch.full((T, B), PAD, dtype=torch.int64)
    tags = torch.full((T, B), IGNORE_INDEX, dtype=torch.int64)
    for b, s in enumerate(sentences):
        words[: len(s.words), b] = torch.tensor([vocab.get(w, UNK) for w in s.words])
        bio = spans_to_bio(len(s.words), s.spans)
        tags[: len(s.words), b] = torch.tensor([LABELS.index(t) for t in bio])
    if unk_rate > 0:
        drop = (torch.rand(T, B, generator=gen) < unk_rate) & (words != PAD)
        words = words.masked_fill(drop, UNK)
    return words, tags, lengths


class Tagger(nn.Module):
    """Word embeddings, a recurrent layer over the sentence, and logits for every word:
    ``ℓ_t = V h_t + b_y``, with ``h_t = [→h_t, ←h_t]`` when bidirectional.

    Args:
        vocab_size: words in the vocabulary (with ``<pad>`` and ``<unk>``); E: embedding
        size; H: hidden units per direction; K: tags; bidirectional: read both ways
        (``rnnkit.Bidirectional``) or left to right only (``rnnkit.Recurrent``);
        cell: ``"rnn"``, ``"gru"`` or ``"lstm"``.
    """

    def __init__(
        self,
        vocab_size: int,
        E: int,
        H: int,
        K: int = len(LABELS),
        bidirectional: bool = True,
        cell: str = "gru",
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        self.embed = nn.Embedding(vocab_size, E, padding_idx=PAD)
        make = CELLS[cell]
        if bidirectional:
            self.layer: nn.Module = Bidirectional(make(E, H), make(E, H))
        else:
            self.layer = Recurrent(make(E, H))
        self.readout = nn.Linear(2 * H if bidirectional else H, K)  # V, b_y

    def forward(self, words: Tensor, lengths: Tensor) -> Tensor:
        """words: (T, B) int64, padded; lengths: (B,) real lengths. Returns logits (T, B, K)."""
        h, _ = self.layer(self.embed(words), lengths=lengths)
        return self.readout(h)


def fit_tagger(
    model: Tagger,
    sentences: Sequence[Sentence],
    vocab: dict[str, int],
    steps: int,
    seed: int,
    batch_size: int = 32,
    lr: float = 1e-2,
    unk_rate: float = 0.1,
) -> Tagger:
    """Train a tagger for ``steps`` Adam steps on random batches of ``sentences``, with the
    mean cross-entropy over real words (padded steps carry ``IGNORE_INDEX``) and words
    replaced by ``<unk>`` at ``unk_rate``. seed: draws batches and dropped words.
    Returns the model in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in tqdm(range(steps), desc="tagger", leave=False):
        pick = torch.randint(len(sentences), (batch_size,), generator=gen).tolist()
        words, tags, lengths = tag_batch([sentences[i] for i in pick], vocab, unk_rate, gen)
        logits = model(words, lengths)
        loss = F.cross_entropy(logits.flatten(0, 1), tags.flatten(), ignore_index=IGNORE_INDEX)
        optimiser.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
    return model.eval()


@torch.no_grad()
def predict_tags(
    model: Tagger, sentences: Sequence[Sentence], vocab: dict[str, int], batch_size: int = 256
) -> list[list[str]]:
    """The tagger's most likely tag (a string of :data:`LABELS`) for every word."""
    tags = []
    for i in range(0, len(sentences), batch_size):
        chunk = sentences[i : i + batch_size]
        words, _, lengths = tag_batch(chunk, vocab)
        best = model(words, lengths).argmax(-1)  # (T, B)
        tags += [[LABELS[k] for k in best[: len(s.words), b].tolist()] for b, s in enumerate(chunk)]
    return tags


class MajorityTagger:
    """The baseline with no context at all: each word gets the tag it had most often in
    the training sentences (ties: the first in :data:`LABELS`), an unknown word ``O``."""

    def __init__(self, sentences: Sequence[Sentence]) -> None:
        counts: dict[str, Counter] = {}
        for s in sentences:
            for word, tag in zip(s.words, spans_to_bio(len(s.words), s.spans), strict=True):
                counts.setdefault(word, Counter())[tag] += 1
        self.table = {
            w: max(LABELS, key=lambda t, c=c: (c[t], -LABELS.index(t))) for w, c in counts.items()
        }

    def predict(self, sentences: Sequence[Sentence]) -> list[list[str]]:
        """One tag per word of each sentence."""
        return [[self.table.get(w, "O") for w in s.words] for s in sentences]
