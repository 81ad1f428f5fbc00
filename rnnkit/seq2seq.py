"""Sequence to sequence: an encoder reads the source, a decoder writes the target.

The encoder runs a GRU over the embedded source tokens ``x_1 .. x_S`` and keeps every
state ``h_1 .. h_S`` (the *memory*); a bidirectional encoder (Bahdanau et al., 2015) runs
a second GRU from the end and keeps ``h_j = [h_j^fw; h_j^bw]``, so each ``h_j`` has read
the whole source. The decoder produces the target one token at a time.
At step t it needs a summary of the source, the context ``c_t``:

- without attention ``c_t = h_S`` for every t, one fixed vector (Cho et al., 2014), so
  everything the decoder will ever know about the source must fit into ``H`` numbers;
- with attention the decoder asks the memory again at every step, using its previous
  state ``s_{t-1}`` as the query: it scores every ``h_j``, turns the scores into weights
  ``α_tj`` with a softmax over the real (unpadded) positions, and reads
  ``c_t = Σ_j α_tj h_j``. :class:`DotProductAttention` scores with a bilinear form,
  ``e_tj = s_{t-1}ᵀ W_a h_j`` (Luong et al., 2015), computed by
  :func:`dot_product_attention`; any module with the same call
  signature plugs into :class:`Decoder` instead, and :class:`PluggedAttention` turns a
  function of the query, the memory and three weight tensors into such a module.

Either way the decoder step is ``s_t = GRU([E y_{t-1}; c_t], s_{t-1})`` and
``ℓ_t = V [s_t; c_t] + b_o`` (the logits), with ``s_0 = tanh(W_s h_S + b_s)``. During training the
previous token ``y_{t-1}`` is the true one (teacher forcing); when decoding it is the
model's own choice (free running): :func:`greedy_decode` takes the most probable token,
and :func:`prefix_scorer` gives a search over outputs (beam search, say) the model's
next-token log-probabilities after any prefix.

Shapes are time-major. Letters: ``S`` source steps, ``T`` target steps, ``B`` batch,
``E`` embedding size, ``H`` hidden units, ``A`` attention units, ``K`` vocabulary.
Token ids are integers; ``lengths`` count the real tokens of each sequence, which sit at
the front, followed by padding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells import GRUCell
from rnnkit.layers import Bidirectional

# --- masks ---------------------------------------------------------------------------


def length_mask(lengths: Tensor, max_len: int) -> Tensor:
    """Mask of the real positions of right-padded sequences.

    lengths: (B,) integer count of real tokens in each sequence, each in 1..max_len
    max_len: number of time steps T of the padded batch
    Returns (T, B) bool, True where t < lengths[b].
    """
    _check_lengths(lengths, max_len)
    steps = torch.arange(max_len, device=lengths.device)
    return steps[:, None] < lengths[None, :]


def _check_lengths(lengths: Tensor, max_len: int) -> None:
    if lengths.dim() != 1 or lengths.dtype.is_floating_point:
        raise ValueError(f"lengths must be a 1-D integer tensor (B,), got {_describe(lengths)}")
    if len(lengths) and (lengths.min() < 1 or lengths.max() > max_len):
        raise ValueError(
            f"lengths must lie in 1..{max_len}, got min {int(lengths.min())}, "
            f"max {int(lengths.max())}"
        )


# --- attention ----------------------------------------------------------------------------


def dot_product_attention(
    query: Tensor, keys: Tensor, mask: Tensor, W_a: Tensor
) -> tuple[Tensor, Tensor]:
    """The bilinear score, the masked softmax and the weighted sum, without input checks.

    query: (B, H_q) s_{t-1};  keys: (S, B, H_k) h_1..h_S;  mask: (S, B) bool;  W_a: (H_q, H_k)
    Returns context (B, H_k) and weights α (B, S).
    """
    scores = (keys * (query @ W_a)[None]).sum(dim=-1)  # e_tj = s_{t-1}ᵀ W_a h_j, (S, B)
    # -inf before the softmax makes padded weights exactly 0, not merely small.
    alpha = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=0)  # α_tj, (S, B)
    context = (alpha.unsqueeze(-1) * keys).sum(dim=0)  # c_t = Σ_j α_tj h_j
    return context, alpha.T  # weights as (B, S), one row per example


class DotProductAttention(nn.Module):
    """Attention with a bilinear score ``e_j = qᵀ W_a k_j`` (Luong et al.'s "general").

    Parameter: ``weight`` W_a (H_q, H_k), without a bias: a bias would add the same
    number to every score of a query and cancel in the softmax.

    query_size: H_q, size of the query (the decoder state)
    key_size: H_k, size of each key (an encoder state), which is also the value
    """

    def __init__(self, query_size: int, key_size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(query_size, key_size))
        # The variance of nn.Linear's default, so the first scores are of order one.
        bound = 1 / math.sqrt(key_size)
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Weigh the keys by how well each matches the query.

        query: (B, H_q) the decoder state s_{t-1}
        keys: (S, B, H_k) encoder states h_1..h_S, used as the values as well
        mask: (S, B) bool, True on real source positions; each column needs one True
        Returns context (B, H_k) = Σ_j α_j h_j and weights α (B, S), zero where mask is False.
        """
        _check_attention_inputs(query, keys, mask, self.weight.shape[0])
        return dot_product_attention(query, keys, mask, self.weight)


class PluggedAttention(nn.Module):
    """The three weights of an attention layer, handed to a function that does the rest.

    Parameters: ``W_q`` (A, H_q), ``W_k`` (A, H_k), ``v`` (A,), initialised like
    ``nn.Linear`` weights of those shapes. The function decides what they mean.

    attend: ``attend(query, keys, mask, W_q, W_k, v) -> (context, weights)``, with the
        shapes of :meth:`DotProductAttention.forward`
    query_size: H_q;  key_size: H_k;  hidden_size: A
    """

    def __init__(
        self,
        attend: Callable[..., tuple[Tensor, Tensor]],
        query_size: int,
        key_size: int,
        hidden_size: int,
    ) -> None:
        super().__init__()
        self.attend = attend
        self.W_q = nn.Parameter(_uniform(hidden_size, query_size))
        self.W_k = nn.Parameter(_uniform(hidden_size, key_size))
        self.v = nn.Parameter(_uniform(1, hidden_size)[0])

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """query (B, H_q), keys (S, B, H_k), mask (S, B): what ``attend`` returns."""
        _check_attention_inputs(query, keys, mask, self.W_q.shape[1])
        return self.attend(query, keys, mask, self.W_q, self.W_k, self.v)


def _uniform(rows: int, columns: int) -> Tensor:
    bound = 1 / math.sqrt(columns)
    return torch.empty(rows, columns).uniform_(-bound, bound)


def _check_attention_inputs(query: Tensor, keys: Tensor, mask: Tensor, query_size: int) -> None:
    if keys.dim() != 3:
        raise ValueError(f"keys must be (S, B, H_k), got {_describe(keys)}")
    if query.shape != (keys.shape[1], query_size):
        raise ValueError(
            f"query must be (B, H_q) = {(keys.shape[1], query_size)}, got {_describe(query)}"
        )
    if mask.shape != keys.shape[:2] or mask.dtype != torch.bool:
        raise ValueError(
            f"mask must be bool of shape {tuple(keys.shape[:2])}, got {_describe(mask)}"
        )
    if not mask.any(dim=0).all():
        raise ValueError("every sequence needs at least one real position in mask")


# --- encoder and decoder ------------------------------------------------------------------


class Encoder(nn.Module):
    """Embedding and a one-layer GRU over the source, in one direction or in both.

    vocab_size: K_src source tokens;  embed_size: E;  hidden_size: H units per direction
    pad_id: padding token id, whose embedding is fixed at zero
    bidirectional: also read the source backwards (an :class:`rnnkit.Bidirectional` of two
        :class:`rnnkit.GRUCell`), so each state is ``[h_j^fw; h_j^bw]`` of size 2H
    ``output_size`` is the size of each encoder state: H, or 2H when bidirectional.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_size: int,
        hidden_size: int,
        pad_id: int = 0,
        bidirectional: bool = False,
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        self.bidirectional = bidirectional
        if bidirectional:
            self.rnn = Bidirectional(
                GRUCell(embed_size, hidden_size), GRUCell(embed_size, hidden_size)
            )
        else:
            self.rnn = nn.GRU(embed_size, hidden_size)
        self.output_size = hidden_size * (2 if bidirectional else 1)

    def forward(self, src: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Read the source.

        src: (S, B) token ids, right-padded;  lengths: (B,) real tokens per sequence
        Returns the memory h_1..h_S (S, B, H_enc) and the final states (B, H_enc), with
        H_enc = ``output_size``: h_{S_b} at each sequence's own last real token or, when
        bidirectional, [h_{S_b}^fw; h_1^bw], the states of both directions after reading
        the whole source. The memory is zero at padded positions when bidirectional.
        """
        if src.dim() != 2 or src.dtype.is_floating_point:
            raise ValueError(f"src must be (S, B) token ids, got {_describe(src)}")
        if lengths.shape != src.shape[1:]:
            raise ValueError(f"lengths must be ({src.shape[1]},), got {_describe(lengths)}")
        _check_lengths(lengths, src.shape[0])
        if self.bidirectional:
            return self._read_both_ways(self.embedding(src), lengths)
        memory, _ = self.rnn(self.embedding(src))
        # A forward GRU's state at the last real token has not yet seen any padding.
        final = memory[lengths - 1, torch.arange(src.shape[1], device=src.device)]
        return memory, final

    def _read_both_ways(self, embedded: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        # The backward GRU must start at each source's own last token, not in its padding:
        # run the sources of each length together, cut to that length.
        S, B, _ = embedded.shape
        memory = embedded.new_zeros(S, B, self.output_size)
        final = embedded.new_zeros(B, self.output_size)
        H = self.output_size // 2
        for n in lengths.unique().tolist():
            rows = (lengths == n).nonzero().squeeze(1)
            states, _ = self.rnn(embedded[:n, rows])
            memory[:n, rows] = states
            final[rows] = torch.cat([states[-1, :, :H], states[0, :, H:]], dim=-1)
        return memory, final


class Decoder(nn.Module):
    """One step of the decoder, with or without attention over the encoder's memory.

    Parameters: ``embedding`` E (K, E_y), ``init`` W_s, b_s (s_0 from h_S), ``cell`` a
    ``torch.nn.GRUCell`` of input size E_y + H_enc, ``attention`` the attention module
    (if any, with its own parameters), ``out`` V, b_o (K, H + H_enc).

    vocab_size: K target tokens;  embed_size: E_y;  hidden_size: H decoder units
    context_size: H_enc, size of the encoder states
    attention: a module called as ``attention(query (B, H), keys (S, B, H_enc), mask (S, B))``
        that returns ``(context (B, H_enc), weights (B, S))``, such as
        :class:`DotProductAttention`; None for a fixed context c = h_S
    """

    def __init__(
        self,
        vocab_size: int,
        embed_size: int,
        hidden_size: int,
        context_size: int,
        attention: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.init = nn.Linear(context_size, hidden_size)
        self.cell = nn.GRUCell(embed_size + context_size, hidden_size)
        self.attention = attention
        self.out = nn.Linear(hidden_size + context_size, vocab_size)

    def initial_state(self, final: Tensor) -> Tensor:
        """s_0 = tanh(W_s h_S + b_s) from the encoder's final states (B, H_enc); returns (B, H)."""
        return torch.tanh(self.init(final))

    def forward(
        self, token: Tensor, state: Tensor, memory: Tensor, mask: Tensor, final: Tensor
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """One decoder step t.

        token: (B,) previous target token y_{t-1};  state: (B, H) previous state s_{t-1}
        memory: (S, B, H_enc) encoder states;  mask: (S, B) bool, True on real source tokens
        final: (B, H_enc) encoder final states h_S, the fixed context when there is no attention
        Returns logits ℓ_t (B, K), state s_t (B, H), attention weights (B, S) or None.
        """
        if self.attention is None:
            context, weights = final, None
        else:
            context, weights = self.attention(state, memory, mask)
        state = self.cell(torch.cat([self.embedding(token), context], dim=-1), state)
        logits = self.out(torch.cat([state, context], dim=-1))
        return logits, state, weights


# --- the model ----------------------------------------------------------------------------


@dataclass
class DecoderState:
    """Everything one decoder step needs, with the batch in dimension ``B``.

    hidden: (B, H) s_{t-1};  memory: (S, B, H_enc);  mask: (S, B);  final: (B, H_enc)
    """

    hidden: Tensor
    memory: Tensor
    mask: Tensor
    final: Tensor

    def select(self, index: Tensor) -> DecoderState:
        """The states of the batch rows ``index`` (N,), in that order (rows may repeat)."""
        return DecoderState(
            self.hidden[index], self.memory[:, index], self.mask[:, index], self.final[index]
        )


class Seq2Seq(nn.Module):
    """Encoder and decoder trained together to maximise log P(y_1..y_T | x_1..x_S).

    encoder: an :class:`Encoder`;  decoder: a :class:`Decoder` whose context_size is the
    encoder's hidden size
    bos_id, eos_id, pad_id: target ids of begin-of-sequence (the first decoder input),
    end-of-sequence (stops decoding) and padding (fills finished sequences)
    """

    def __init__(
        self, encoder: Encoder, decoder: Decoder, bos_id: int, eos_id: int, pad_id: int = 0
    ) -> None:
        super().__init__()
        if decoder.init.in_features != encoder.output_size:
            raise ValueError(
                f"the decoder's context_size must be the encoder's output size "
                f"{encoder.output_size}, got {decoder.init.in_features}"
            )
        self.encoder, self.decoder = encoder, decoder
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id

    def start(self, src: Tensor, lengths: Tensor) -> DecoderState:
        """Encode the source (S, B) with lengths (B,); returns the state before step 1."""
        memory, final = self.encoder(src, lengths)
        mask = length_mask(lengths, src.shape[0])
        return DecoderState(self.decoder.initial_state(final), memory, mask, final)

    def step(
        self, token: Tensor, state: DecoderState
    ) -> tuple[Tensor, DecoderState, Tensor | None]:
        """One decoder step from the previous token (B,); returns logits (B, K), the new
        state and the attention weights (B, S) or None."""
        logits, hidden, weights = self.decoder(
            token, state.hidden, state.memory, state.mask, state.final
        )
        return logits, DecoderState(hidden, state.memory, state.mask, state.final), weights

    def forward(
        self, src: Tensor, lengths: Tensor, target_in: Tensor
    ) -> tuple[Tensor, Tensor | None]:
        """Teacher forcing: the decoder reads the true previous tokens.

        src: (S, B) source ids;  lengths: (B,) real source tokens
        target_in: (T, B) decoder inputs, bos followed by the target without its last token
        Returns logits (T, B, K) and attention weights (T, B, S), or None without attention.
        """
        if target_in.dim() != 2 or target_in.shape[1] != src.shape[1]:
            raise ValueError(f"target_in must be (T, {src.shape[1]}), got {_describe(target_in)}")
        state = self.start(src, lengths)
        logits, weights = [], []
        for token in target_in:
            step_logits, state, step_weights = self.step(token, state)
            logits.append(step_logits)
            weights.append(step_weights)
        attention = None if self.decoder.attention is None else torch.stack(weights)
        return torch.stack(logits), attention


# --- decoding -----------------------------------------------------------------------------


class Stepper(Protocol):
    """What the decoders need: :class:`Seq2Seq`, or a hand-built model in a test."""

    bos_id: int
    eos_id: int
    pad_id: int

    def start(self, src: Tensor, lengths: Tensor) -> DecoderState: ...

    def step(
        self, token: Tensor, state: DecoderState
    ) -> tuple[Tensor, DecoderState, Tensor | None]: ...


@torch.no_grad()
def greedy_decode(
    model: Stepper, src: Tensor, lengths: Tensor, max_len: int
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Free running with the most probable token at every step.

    src: (S, B) source ids;  lengths: (B,) real source tokens
    max_len: most target tokens to produce, eos included
    Returns tokens (T, B) with T <= max_len (each row ends at its eos, then pad_id),
    scores (B,) the log-probability of each output (sum over its tokens up to eos), and
    attention weights (T, B, S), or None when the model has no attention.
    """
    _check_max_len(max_len)
    state = model.start(src, lengths)
    token = torch.full(lengths.shape, model.bos_id, dtype=torch.long, device=src.device)
    done = torch.zeros(lengths.shape, dtype=torch.bool, device=src.device)
    tokens, scores, weights = [], [], []
    for _ in range(max_len):
        logits, state, step_weights = model.step(token, state)
        best, token = F.log_softmax(logits, dim=-1).max(dim=-1)
        scores.append(torch.where(done, 0.0, best))
        token = token.masked_fill(done, model.pad_id)
        done = done | (token == model.eos_id)
        tokens.append(token)
        weights.append(step_weights)
        if done.all():
            break
    attention = None if weights[0] is None else torch.stack(weights)
    return torch.stack(tokens), torch.stack(scores).sum(dim=0), attention


def prefix_scorer(
    model: Stepper, src: Tensor, lengths: Tensor
) -> Callable[[Sequence[Sequence[int]]], Tensor]:
    """The model's next-token log-probabilities after any output prefix, for one source.

    A search over outputs (beam search) asks, step after step, "what may follow each of
    these prefixes?". The function returned answers: ``next_log_probs(prefixes)`` takes N
    prefixes y_1..y_n (token ids, without bos; all may differ in length) and returns the
    (N, K) float64 tensor of log P(y_{n+1} = w | y_1..y_n, x). It remembers the decoder
    state after every prefix it has seen, so extending a prefix by one token costs one
    decoder step.

    src: (S, 1) the source ids of one example;  lengths: (1,) its real tokens
    """
    if src.dim() != 2 or src.shape[1] != 1 or lengths.shape != (1,):
        raise ValueError(
            f"src must be (S, 1) and lengths (1,), got {_describe(src)} and {_describe(lengths)}"
        )
    with torch.no_grad():
        start = model.start(src, lengths)
    # prefix -> (log-probabilities of the next token (K,), decoder state after it (1, H))
    seen: dict[tuple[int, ...], tuple[Tensor, Tensor]] = {}

    @torch.no_grad()
    def extend(prefixes: set[tuple[int, ...]]) -> None:
        parents = {p[:-1] for p in prefixes if p and p[:-1] not in seen}
        if parents:
            extend(parents)
        todo = sorted(p for p in prefixes if p not in seen)
        if not todo:
            return
        # After the prefix p the decoder has read bos, p_1, .., p_n: one step past p[:-1].
        state = start.select(torch.zeros(len(todo), dtype=torch.long, device=src.device))
        state.hidden = torch.cat([seen[p[:-1]][1] if p else start.hidden for p in todo])
        tokens = torch.tensor(
            [p[-1] if p else model.bos_id for p in todo], dtype=torch.long, device=src.device
        )
        logits, state, _ = model.step(tokens, state)
        log_probs = F.log_softmax(logits.double(), dim=-1)
        for i, prefix in enumerate(todo):
            seen[prefix] = (log_probs[i], state.hidden[i : i + 1])

    def next_log_probs(prefixes: Sequence[Sequence[int]]) -> Tensor:
        keys = [tuple(int(token) for token in prefix) for prefix in prefixes]
        extend(set(keys))
        return torch.stack([seen[key][0] for key in keys])

    return next_log_probs


def _check_max_len(max_len: int) -> None:
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")


def _describe(x: Tensor) -> str:
    return f"{x.dtype} tensor of shape {tuple(x.shape)}"
