r"""Character language models: a recurrent net that predicts the next character.

A language model gives every text a probability, one character at a time,

    p(x_1 … x_N) = Π_t p(x_{t+1} | x_1 … x_t),   ŷ_t = softmax(ℓ_t),  ℓ_t = V h_t + b_y,

where h_t is the state of a recurrent layer that has read x_1 … x_t. Its score on held-out
text is the mean negative log-likelihood per character, in nats or, divided by ln 2, in
bits per character; the perplexity is its exponential (chapter 10).

- :func:`contiguous_batches` cuts a long text into B parallel streams and serves them T
  characters at a time, so that row b of one chunk continues row b of the one before and
  the state can be carried across chunks (truncated BPTT).
- :class:`CharLM`: an embedding, an ``rnnkit.Recurrent`` layer (RNN, GRU or LSTM cell)
  and the readout ``V h_t + b_y``.
- :func:`mean_nll` scores a model on a text with the state carried from chunk to chunk.
- :func:`sampling_distribution` and :func:`sample` generate text with a temperature and
  top-k.
- :func:`python_features` marks, character by character, what a reader of Python source
  tracks (inside a string literal, bracket depth, indentation), to look for units that
  track it too.
"""

from __future__ import annotations

import io
import math
import tokenize
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells import GRUCell, LSTMCell, RNNCell
from rnnkit.layers import Recurrent, State

CELLS = {"rnn": RNNCell, "gru": GRUCell, "lstm": LSTMCell}


def contiguous_batches(
    ids: Tensor, batch_size: int, seq_len: int
) -> Iterator[tuple[Tensor, Tensor]]:
    """One pass over a text in B parallel streams, T characters at a time.

    ids: (N,) int64, the text.  batch_size: B streams.  seq_len: T, steps per chunk.
    The text is cut into B equal streams of L = (N − 1) // B + 1 characters (the tail
    that does not fill them is dropped); stream b starts at character b (L − 1), so
    consecutive streams overlap by one character and every character after the first
    of each stream is a target exactly once. Yields x, y: (T, B) int64 with y = x shifted
    by one step, and row b of each chunk continuing row b of the chunk before; the last
    chunk is shorter when T does not divide L − 1.
    """
    if ids.ndim != 1 or ids.dtype != torch.int64:
        raise ValueError(
            f"expected ids of shape (N,) and dtype int64, got {tuple(ids.shape)} {ids.dtype}"
        )
    for name, value in (("batch_size", batch_size), ("seq_len", seq_len)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    steps = (len(ids) - 1) // batch_size  # targets per stream
    if steps < 1:
        raise ValueError(f"a text of {len(ids)} ids is too short for {batch_size} streams")
    starts = torch.arange(batch_size) * steps
    streams = ids[starts[:, None] + torch.arange(steps + 1)].T  # (L, B)
    for t in range(0, steps, seq_len):
        chunk = streams[t : t + seq_len + 1]
        yield chunk[:-1], chunk[1:]


def detach(state: State) -> State:
    """The state (h or (h, c)) cut from the graph that made it: the next chunk starts from
    its value, and backpropagation stops there (truncated BPTT)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


class CharLM(nn.Module):
    """Embedding → recurrent layer → readout: next-character logits at every step.

    vocab_size: K characters.  hidden_size: H.  cell: ``"rnn"``, ``"gru"`` or ``"lstm"``.
    embedding_size: E, the size of each character's learnt input vector.

    ``embed.weight`` (K, E) holds the input vectors, ``rnn`` is an ``rnnkit.Recurrent`` of
    the chosen cell (I = E), and ``readout`` holds V (K, H) and b_y (K,).
    """

    def __init__(
        self, vocab_size: int, hidden_size: int, cell: str = "lstm", embedding_size: int = 32
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        self.cell_name = cell
        self.embed = nn.Embedding(vocab_size, embedding_size)
        self.rnn = Recurrent(CELLS[cell](embedding_size, hidden_size))
        self.readout = nn.Linear(hidden_size, vocab_size)

    def forward(self, x: Tensor, state: State = None) -> tuple[Tensor, State]:
        """x: (T, B) int64 characters; state: the layer's state after the previous chunk,
        zeros if None. Returns logits ℓ (T, B, K) and the state after the last step."""
        hs, state = self.rnn(self.embed(x), state)
        return self.readout(hs), state

    def hidden_states(self, x: Tensor, state: State = None) -> Tensor:
        """h_t for t = 1 … T: (T, B, H), for looking at what units do. x: (T, B) int64."""
        return self.rnn(self.embed(x), state)[0]


@torch.no_grad()
def mean_nll(
    model: CharLM, ids: Tensor, batch_size: int = 16, seq_len: int = 256, carry: bool = True
) -> float:
    """Mean −log ŷ_t[x_{t+1}] in nats over a text.

    model: a character model.  ids: (N,) int64, the text.  batch_size, seq_len: how
    :func:`contiguous_batches` cuts it.  carry: pass the state from chunk to chunk (then
    only the speed depends on the cut, and which tail of the text is dropped); False
    starts every chunk of seq_len characters from zeros. Divide by ln 2 for bits per
    character; exp gives the perplexity.
    """
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    for inputs, targets in contiguous_batches(ids, batch_size, seq_len):
        logits, state = model(inputs, state if carry else None)
        nll = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="sum")
        total += nll.item()
        count += targets.numel()
    model.train(was_training)
    return total / count


def sampling_distribution(
    logits: Tensor, temperature: float = 1.0, top_k: int | None = None
) -> Tensor:
    """The distribution a sampler draws from: softmax(ℓ / τ) over the k likeliest symbols.

    logits: (K,) or (B, K).  temperature: τ > 0; below 1 sharpens, above 1 flattens.
    top_k: keep the k largest logits (ties at the k-th value are all kept) and set the
    others' probability to 0; None keeps all K. Returns probabilities of logits' shape.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    scaled = logits / temperature
    if top_k is not None:
        if not 1 <= top_k <= logits.shape[-1]:
            raise ValueError(f"top_k must be in 1 … {logits.shape[-1]}, got {top_k}")
        kth = scaled.topk(top_k, dim=-1).values[..., -1:]
        scaled = scaled.masked_fill(scaled < kth, -math.inf)
    return torch.softmax(scaled, dim=-1)


@torch.no_grad()
def sample(
    model: CharLM,
    prompt: Tensor,
    steps: int,
    generator: torch.Generator,
    temperature: float = 1.0,
    top_k: int | None = None,
) -> Tensor:
    """Continue a prompt, one drawn character at a time.

    prompt: (P,) int64, at least one character, read first.  steps: how many to draw.
    generator: the source of randomness (CPU).  temperature, top_k: as in
    :func:`sampling_distribution`. Returns the (steps,) int64 characters drawn.
    """
    if prompt.ndim != 1 or len(prompt) < 1:
        raise ValueError(f"expected a prompt of shape (P,) with P ≥ 1, got {tuple(prompt.shape)}")
    logits, state = model(prompt[:, None])
    out = []
    for _ in range(steps):
        p = sampling_distribution(logits[-1, 0], temperature, top_k)
        nxt = torch.multinomial(p.cpu(), 1, generator=generator)
        out.append(nxt)
        logits, state = model(nxt[:, None].to(prompt.device), state)
    return torch.cat(out)


def python_features(source: str) -> dict[str, np.ndarray]:
    """What a reader of Python source knows at each character of it.

    source: the text of one or more whole Python modules (it must tokenize).
    Returns (N,) float arrays: ``"in string"`` 1 inside a string literal (its quotes
    included), else 0; ``"bracket depth"`` how many (, [ or { are open after the
    character; ``"indentation"`` the leading spaces of the character's line.
    """
    starts = np.cumsum([0] + [len(line) for line in source.splitlines(keepends=True)])
    in_string = np.zeros(len(source))
    opened = np.zeros(len(source))  # +1 where a bracket opens, −1 where one closes
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        begin = starts[tok.start[0] - 1] + tok.start[1]
        end = starts[tok.end[0] - 1] + tok.end[1]
        if tok.type == tokenize.STRING:
            in_string[begin:end] = 1.0
        elif tok.type == tokenize.OP and tok.string in "([{":
            opened[begin] += 1.0
        elif tok.type == tokenize.OP and tok.string in ")]}":
            opened[begin] -= 1.0
    indent = np.zeros(len(source))
    for line, start in zip(source.splitlines(keepends=True), starts, strict=False):
        indent[start : start + len(line)] = len(line) - len(line.lstrip(" "))
    return {"in string": in_string, "bracket depth": np.cumsum(opened), "indentation": indent}
