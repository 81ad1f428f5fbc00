"""The cloze task: put back blanked characters, reading the text on both sides.

A cloze test hides a few words of a text and asks for them back; often the words after a
blank decide it ("my phone broke, so I plan to ___ a new one": the "new one" says *buy*).
Here the units are the characters of the course corpus (:func:`rnnkit.tasks.char_corpus`).
Every window of ``T`` characters gets ``n_blanks`` of them replaced by one extra input
symbol, the blank (id ``K`` for a vocabulary of ``K`` characters), and a model is scored
only at the blanked steps, on the character that was there.

Padded batches: :func:`padded_cloze_batches` cuts each window to its own length and fills
the rest with the padding symbol (id ``K + 1``, which enters the network as a zero
vector); the tagger passes the lengths on to its layer.

A tagger reads the window and answers at every step from its output at that step. With a
one-directional RNN that output has seen only the characters to the left of the blank;
with a bidirectional one it has seen both sides -- the point of the chapter on
bidirectional RNNs.
"""

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.tasks import IGNORE_INDEX, CharCorpus, Seed

#: How a blank is printed; not a character of the corpus.
BLANK_CHAR = "_"


def blank_out(
    ids: Tensor, n_blanks: int, n_symbols: int, seed: Seed, lengths: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Blank ``n_blanks`` distinct steps of every sequence, chosen uniformly.

    ids: (T, B) int64 symbols in [0, K), K = ``n_symbols``.
    n_blanks: blanks per sequence, 1 <= n_blanks <= T (<= every length if given).
    seed: int or torch.Generator.
    lengths: (B,) int64, the real length of each sequence, or None for T. Blanks fall
    within each sequence's length, and its steps from there on become padding, K + 1.
    Returns x: (T, B) int64, ids with the blanked steps set to K (the blank), and
    y: (T, B) int64, the original symbol at the blanked steps and ``IGNORE_INDEX``
    elsewhere, so ``F.cross_entropy`` scores the blanks only.
    """
    if not isinstance(ids, Tensor) or ids.dim() != 2 or ids.dtype != torch.int64:
        got = f"{tuple(ids.shape)} {ids.dtype}" if isinstance(ids, Tensor) else type(ids).__name__
        raise ValueError(f"blank_out expected ids of shape (T, B) and dtype int64, got {got}")
    T = ids.shape[0]
    if not 1 <= n_blanks <= T:
        raise ValueError(f"blank_out expected 1 <= n_blanks <= T = {T}, got {n_blanks}")
    if ids.numel() and not 0 <= int(ids.min()) <= int(ids.max()) < n_symbols:
        raise ValueError(
            f"blank_out expected ids in [0, {n_symbols}), got values from "
            f"{int(ids.min())} to {int(ids.max())}"
        )
    padded = torch.zeros(ids.shape, dtype=torch.bool)
    if lengths is not None:
        if lengths.shape != ids.shape[1:] or not n_blanks <= int(lengths.min()) <= T:
            raise ValueError(
                f"blank_out expected lengths of shape ({ids.shape[1]},) in [{n_blanks}, {T}], "
                f"got {tuple(lengths.shape)} {lengths.tolist()}"
            )
        padded = torch.arange(T)[:, None] >= lengths.cpu()[None, :]
    gen = torch.Generator().manual_seed(seed) if isinstance(seed, int) else seed
    # The n smallest of T independent uniforms are n distinct steps, uniformly chosen;
    # padded steps get 2, above every uniform, so they are never among them.
    order = torch.rand(ids.shape, generator=gen).masked_fill(padded, 2.0).argsort(dim=0)
    blanked = torch.zeros(ids.shape, dtype=torch.bool)
    blanked.scatter_(0, order[:n_blanks], True)
    blanked, padded = blanked.to(ids.device), padded.to(ids.device)
    x = ids.masked_fill(blanked, n_symbols).masked_fill(padded, n_symbols + 1)
    y = ids.masked_fill(~blanked, IGNORE_INDEX)
    return x, y


def cloze_batches(
    corpus: CharCorpus, seq_len: int, batch_size: int, n_blanks: int, seed: Seed
) -> Iterator[tuple[Tensor, Tensor]]:
    """An endless stream of cloze batches: windows cut at random places, then blanked.

    corpus: the text and its K-character vocabulary.
    seq_len: T;  batch_size: B;  n_blanks: blanks per window;  seed: int or Generator.
    Yields x: (T, B) int64 in [0, K], K the blank, and y: (T, B) int64 as in
    :func:`blank_out`.
    """
    gen = torch.Generator().manual_seed(seed) if isinstance(seed, int) else seed
    n_symbols = len(corpus.vocab)
    for window, _ in corpus.batches(seq_len, batch_size, gen):
        yield blank_out(window, n_blanks, n_symbols, gen)


def padded_cloze_batches(
    corpus: CharCorpus, seq_len: int, batch_size: int, n_blanks: int, seed: Seed, min_len: int
) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    """An endless stream of padded cloze batches: windows of random lengths, blanked.

    corpus: the text and its K-character vocabulary;  seq_len: T, the padded length;
    batch_size: B;  n_blanks: blanks per window;  seed: int or Generator;
    min_len: the shortest window, n_blanks <= min_len <= T. Lengths are uniform in
    [min_len, T].
    Yields x: (T, B) int64 in [0, K + 1] (K the blank, K + 1 the padding), y: (T, B)
    as in :func:`blank_out`, and lengths: (B,) int64.
    """
    if not n_blanks <= min_len <= seq_len:
        raise ValueError(
            f"padded_cloze_batches expected n_blanks = {n_blanks} <= min_len <= "
            f"seq_len = {seq_len}, got min_len = {min_len}"
        )
    gen = torch.Generator().manual_seed(seed) if isinstance(seed, int) else seed
    n_symbols = len(corpus.vocab)
    for window, _ in corpus.batches(seq_len, batch_size, gen):
        lengths = torch.randint(min_len, seq_len + 1, (batch_size,), generator=gen)
        x, y = blank_out(window, n_blanks, n_symbols, gen, lengths)
        yield x, y, lengths


def show_blanks(corpus: CharCorpus, x: Tensor) -> str:
    """One cloze sequence as text, blanks printed as ``BLANK_CHAR``, padding left out.

    x: (T,) int64 in [0, K + 1], K the blank, K + 1 the padding.
    """
    blank = len(corpus.vocab)
    return "".join(BLANK_CHAR if k == blank else corpus.vocab[k] for k in x.tolist() if k <= blank)


class ClozeTagger(nn.Module):
    """Answer at every step from a recurrent layer's output there: ``ℓ_t = V h_t + b_y``.

    The input symbols, K characters and the blank, enter one-hot, so the layer reads
    (T, B, K + 1); the padding symbol K + 1 enters as a zero vector.

    Args:
        layer: called as ``layer(x, None)`` on (T, B, K + 1), or as
            ``layer(x, None, lengths)`` for a padded batch, returning (outputs, state) with outputs
            (T, B, H_out): e.g. ``rnnkit.Recurrent``, ``rnnkit.Bidirectional``
            (H_out = 2H) or ``rnnkit.Stacked``.
        n_symbols: K, the characters; the output has K classes.
        layer_size: H_out, the size of the layer's output at one step.
    """

    def __init__(self, layer: nn.Module, n_symbols: int, layer_size: int) -> None:
        super().__init__()
        for name, size in (("n_symbols", n_symbols), ("layer_size", layer_size)):
            if not isinstance(size, int) or size < 1:
                raise ValueError(f"ClozeTagger expected a positive int {name}, got {size!r}")
        self.layer = layer
        self.n_symbols = n_symbols
        self.readout = nn.Linear(layer_size, n_symbols)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x: (T, B) int64 in [0, K + 1], K the blank, K + 1 the padding;  lengths: (B,)
        the real lengths, passed on to the layer, or None. Returns logits (T, B, K)."""
        if not isinstance(x, Tensor) or x.dim() != 2 or x.dtype != torch.int64:
            got = f"{tuple(x.shape)} {x.dtype}" if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"ClozeTagger expected x of shape (T, B) and dtype int64, got {got}")
        # One class more than the layer reads: the padding's one-hot is cut off, leaving 0.
        onehot = F.one_hot(x, self.n_symbols + 2)[..., :-1].to(self.readout.weight.dtype)
        if lengths is None:
            outputs, _ = self.layer(onehot, None)
        else:
            outputs, _ = self.layer(onehot, None, lengths)
        return self.readout(outputs)


def cloze_loss(model: nn.Module, batch: tuple[Tensor, ...]) -> Tensor:
    """Mean cross-entropy over the blanked steps of a batch, for ``rnnkit.fit``.

    model: maps x (T, B) (and lengths, if the batch has them) to logits (T, B, K);
    batch: x, y (T, B) as from :func:`cloze_batches`, or x, y, lengths (B,) as from
    :func:`padded_cloze_batches`.
    """
    x, y, *lengths = batch
    logits = model(x, *lengths)
    return F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=IGNORE_INDEX)


def cloze_accuracy(logits: Tensor, y: Tensor) -> float:
    """Fraction of blanks whose most likely character is the right one.

    logits: (T, B, K);  y: (T, B) int64, ``IGNORE_INDEX`` where nothing was blanked.
    """
    if logits.shape[:-1] != y.shape:
        raise ValueError(
            f"cloze_accuracy expected logits (T, B, K) and y (T, B), got "
            f"{tuple(logits.shape)} and {tuple(y.shape)}"
        )
    scored = y != IGNORE_INDEX
    if not bool(scored.any()):
        raise ValueError("cloze_accuracy expected at least one blank in y, got none")
    return (logits.argmax(dim=-1)[scored] == y[scored]).float().mean().item()
