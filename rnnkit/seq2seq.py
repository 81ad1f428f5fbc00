"""Sequence to sequence: an encoder reads the source, a decoder writes the target.

The encoder runs a GRU over the embedded source tokens ``x_1 .. x_S`` and keeps every
state ``h_1 .. h_S`` (the *memory*). The decoder produces the target one token at a time.
At step t it needs a summary of the source, the context ``c_t``:

- without attention ``c_t = h_S`` for every t, one fixed vector (Cho et al., 2014), so
  everything the decoder will ever know about the source must fit into ``H`` numbers;
- with additive attention (Bahdanau et al., 2015) the decoder asks the memory again at
  every step, using its previous state ``s_{t-1}`` as the query::

      e_tj = vᵀ tanh(W_q s_{t-1} + W_k h_j)      score of source position j
      α_tj = softmax over the real positions j of e_tj   (padding gets weight 0)
      c_t  = Σ_j α_tj h_j

Either way the decoder step is ``s_t = GRU([E y_{t-1}; c_t], s_{t-1})`` and
``o_t = V [s_t; c_t] + b_o``, with ``s_0 = tanh(W_s h_S + b_s)``. During training the
previous token ``y_{t-1}`` is the true one (teacher forcing); when decoding it is the
model's own choice (free running): :func:`greedy_decode` takes the most probable token,
:func:`beam_search` keeps the ``k`` most probable prefixes.

Shapes are time-major. Letters: ``S`` source steps, ``T`` target steps, ``B`` batch,
``E`` embedding size, ``H`` hidden units, ``A`` attention units, ``K`` vocabulary.
Token ids are integers; ``lengths`` count the real tokens of each sequence, which sit at
the front, followed by padding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# --- masks and the loss -------------------------------------------------------------------


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


def masked_cross_entropy(
    logits: Tensor,
    targets: Tensor,
    lengths: Tensor | None = None,
    mask: Tensor | None = None,
) -> Tensor:
    """Mean cross-entropy per real target token, ignoring padding completely.

    ``L = Σ_{t,b} m_tb · (−log softmax(o_tb)[y_tb]) / Σ_{t,b} m_tb``: the losses of the
    real tokens are summed over time and batch, then divided by how many real tokens there
    are. Each real token weighs the same, whatever the length of its sequence or the
    amount of padding in the batch. Dividing each sequence's masked sum by the padded
    length T instead (a ``mean`` over time after zeroing the padding, reported against
    d2l.ai in its issue #2076) multiplies the loss by N / (B·T), the fraction of real
    positions, so the loss and its gradient shrink as the padding grows.

    logits: (T, B, K) decoder outputs o_t before the softmax
    targets: (T, B) integer target ids y_t; values at padded positions are never read
    lengths: (B,) real target tokens per sequence, or
    mask: (T, B) bool, True on real tokens — give exactly one of lengths and mask
    Returns a scalar tensor.
    """
    if logits.dim() != 3:
        raise ValueError(f"logits must be (T, B, K), got {_describe(logits)}")
    if targets.shape != logits.shape[:2] or targets.dtype.is_floating_point:
        raise ValueError(
            f"targets must be integer ids of shape {tuple(logits.shape[:2])}, "
            f"got {_describe(targets)}"
        )
    if (lengths is None) == (mask is None):
        raise ValueError("give exactly one of lengths and mask")
    if mask is None:
        mask = length_mask(lengths, logits.shape[0])
    if mask.shape != targets.shape or mask.dtype != torch.bool:
        raise ValueError(
            f"mask must be bool of shape {tuple(targets.shape)}, got {_describe(mask)}"
        )
    if not mask.any():
        raise ValueError("mask selects no token: the mean over zero tokens is undefined")
    # Padded targets may hold any id (even out of range), so point them at class 0 before
    # indexing; `where` (not a product) keeps inf or nan in padded logits out of the sum.
    safe_targets = targets.masked_fill(~mask, 0)
    log_probs = F.log_softmax(logits, dim=-1)
    nll = -log_probs.gather(-1, safe_targets.unsqueeze(-1)).squeeze(-1)
    return torch.where(mask, nll, 0.0).sum() / mask.sum()


# --- attention ----------------------------------------------------------------------------


class AdditiveAttention(nn.Module):
    """Additive (Bahdanau) attention: score ``e_j = vᵀ tanh(W_q q + W_k k_j)``.

    Parameters: ``query_proj.weight`` W_q (A, H_q), ``key_proj.weight`` W_k (A, H_k),
    ``score.weight`` vᵀ (1, A). No biases, as in Bahdanau et al. (2015): a bias added to
    the score would be the same for every position j and cancel in the softmax.

    query_size: H_q, size of the query (the decoder state)
    key_size: H_k, size of each key (an encoder state), which is also the value
    hidden_size: A, units of the hidden tanh layer
    """

    def __init__(self, query_size: int, key_size: int, hidden_size: int) -> None:
        super().__init__()
        self.query_proj = nn.Linear(query_size, hidden_size, bias=False)
        self.key_proj = nn.Linear(key_size, hidden_size, bias=False)
        self.score = nn.Linear(hidden_size, 1, bias=False)

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Weigh the keys by how well each matches the query.

        query: (B, H_q) the decoder state s_{t-1}
        keys: (S, B, H_k) encoder states h_1..h_S, used as the values as well
        mask: (S, B) bool, True on real source positions; each column needs one True
        Returns context (B, H_k) = Σ_j α_j h_j and weights α (B, S), zero where mask is False.
        """
        _check_attention_inputs(query, keys, mask, self.query_proj.in_features)
        hidden = torch.tanh(self.query_proj(query)[None] + self.key_proj(keys))  # (S, B, A)
        scores = self.score(hidden).squeeze(-1)  # (S, B)
        # -inf before the softmax makes padded weights exactly 0, not merely small.
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=0).T
        # A weighted sum written out: faster than einsum's batched matmul at these sizes.
        context = (weights.T.unsqueeze(-1) * keys).sum(dim=0)
        return context, weights


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
    """Embedding and a one-layer GRU over the source.

    vocab_size: K_src source tokens;  embed_size: E;  hidden_size: H
    pad_id: padding token id, whose embedding is fixed at zero
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, pad_id: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        self.rnn = nn.GRU(embed_size, hidden_size)

    def forward(self, src: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Read the source.

        src: (S, B) token ids, right-padded;  lengths: (B,) real tokens per sequence
        Returns the memory h_1..h_S (S, B, H) and the final states h_{S_b} (B, H), taken
        at each sequence's own last real token.
        """
        if src.dim() != 2 or src.dtype.is_floating_point:
            raise ValueError(f"src must be (S, B) token ids, got {_describe(src)}")
        if lengths.shape != src.shape[1:]:
            raise ValueError(f"lengths must be ({src.shape[1]},), got {_describe(lengths)}")
        _check_lengths(lengths, src.shape[0])
        memory, _ = self.rnn(self.embedding(src))
        # A forward GRU's state at the last real token has not yet seen any padding.
        final = memory[lengths - 1, torch.arange(src.shape[1], device=src.device)]
        return memory, final


class Decoder(nn.Module):
    """One step of the decoder, with or without attention over the encoder's memory.

    Parameters: ``embedding`` E (K, E_y), ``init`` W_s, b_s (s_0 from h_S), ``cell`` a
    ``torch.nn.GRUCell`` of input size E_y + H_enc, ``attention`` an
    :class:`AdditiveAttention` or None, ``out`` V, b_o (K, H + H_enc).

    vocab_size: K target tokens;  embed_size: E_y;  hidden_size: H decoder units
    context_size: H_enc, size of the encoder states
    attention_size: A, units of the attention layer; None for a fixed context c = h_S
    """

    def __init__(
        self,
        vocab_size: int,
        embed_size: int,
        hidden_size: int,
        context_size: int,
        attention_size: int | None = None,
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.init = nn.Linear(context_size, hidden_size)
        self.cell = nn.GRUCell(embed_size + context_size, hidden_size)
        self.attention = (
            None
            if attention_size is None
            else AdditiveAttention(hidden_size, context_size, attention_size)
        )
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
        Returns logits o_t (B, K), state s_t (B, H), attention weights (B, S) or None.
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
        """The states of the batch rows ``index`` (N,), in that order: used to follow beams."""
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
        if decoder.init.in_features != encoder.rnn.hidden_size:
            raise ValueError(
                f"the decoder's context_size must be the encoder's hidden size "
                f"{encoder.rnn.hidden_size}, got {decoder.init.in_features}"
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


def beam_search_step(
    beam_scores: Tensor, next_log_probs: Tensor, beam_width: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Extend every beam by every token and keep the ``beam_width`` best extensions.

    The score of a beam is the log-probability of its prefix, so extending beam i by token
    w scores ``beam_scores[i] + next_log_probs[i, w]``.

    beam_scores: (N,) log-probabilities of the N current beams
    next_log_probs: (N, K) log-probability of each next token after each beam
    beam_width: k, how many extensions to keep, 1 <= k <= N·K
    Returns scores (k,) in decreasing order, the beam each one extends (k,) and the token
    it appends (k,), both int64.
    """
    if beam_scores.dim() != 1 or next_log_probs.dim() != 2:
        raise ValueError(
            f"beam_scores must be (N,) and next_log_probs (N, K), got "
            f"{_describe(beam_scores)} and {_describe(next_log_probs)}"
        )
    if next_log_probs.shape[0] != beam_scores.shape[0]:
        raise ValueError(
            f"next_log_probs needs one row per beam ({beam_scores.shape[0]}), "
            f"got {next_log_probs.shape[0]}"
        )
    vocab = next_log_probs.shape[1]
    if not 1 <= beam_width <= next_log_probs.numel():
        raise ValueError(f"beam_width must lie in 1..{next_log_probs.numel()}, got {beam_width}")
    candidates = (beam_scores[:, None] + next_log_probs).flatten()
    scores, flat = candidates.topk(beam_width)
    return scores, flat // vocab, flat % vocab


@torch.no_grad()
def beam_search(
    model: Stepper,
    src: Tensor,
    lengths: Tensor,
    beam_width: int,
    max_len: int,
    length_penalty: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """Keep the ``beam_width`` most probable prefixes at every step; one example at a time.

    A beam that has produced eos stays in the beam and can only be extended by pad at
    cost 0, so it competes with the unfinished ones on its final log-probability. The
    search stops when every beam has ended or after max_len steps. Pruning uses the plain
    log-probability; the final choice among the surviving beams divides it by
    ``n ** length_penalty``, n the number of tokens up to and including eos:
    0 (the default) keeps the plain log-probability, which prefers short outputs because
    every token adds a negative term; 1 ranks by the mean log-probability per token.

    src: (S, B) source ids;  lengths: (B,) real source tokens
    beam_width: k, beams kept, 1 <= k <= K;  max_len: most target tokens, eos included
    length_penalty: the exponent alpha above, >= 0
    Returns tokens (T, B) like :func:`greedy_decode` and scores (B,), the log-probability
    of each chosen output (not length-normalised).
    """
    _check_max_len(max_len)
    if length_penalty < 0:
        raise ValueError(f"length_penalty must be >= 0, got {length_penalty}")
    if src.dim() != 2 or lengths.shape != src.shape[1:]:
        raise ValueError(
            f"src must be (S, B) and lengths (B,), got {_describe(src)} and {_describe(lengths)}"
        )
    outputs, scores = [], []
    for b in range(src.shape[1]):
        tokens, score = _beam_search_one(
            model, src[:, b : b + 1], lengths[b : b + 1], beam_width, max_len, length_penalty
        )
        outputs.append(tokens)
        scores.append(score)
    steps = max(len(tokens) for tokens in outputs)
    padded = torch.full((steps, len(outputs)), model.pad_id, dtype=torch.long, device=src.device)
    for b, tokens in enumerate(outputs):
        padded[: len(tokens), b] = tokens
    return padded, torch.stack(scores)


def _beam_search_one(
    model: Stepper,
    src: Tensor,
    lengths: Tensor,
    beam_width: int,
    max_len: int,
    length_penalty: float,
) -> tuple[Tensor, Tensor]:
    """Beam search for one source (S, 1); returns its best tokens (n,) and log-probability."""
    state = model.start(src, lengths)
    beam_scores = torch.zeros(1, device=src.device)
    prefixes = torch.full((1, 0), model.pad_id, dtype=torch.long, device=src.device)
    token = torch.full((1,), model.bos_id, dtype=torch.long, device=src.device)
    done = torch.zeros(1, dtype=torch.bool, device=src.device)
    for _ in range(max_len):
        logits, state, _ = model.step(token, state)
        log_probs = F.log_softmax(logits, dim=-1)
        if not 1 <= beam_width <= log_probs.shape[1]:
            raise ValueError(f"beam_width must lie in 1..{log_probs.shape[1]}, got {beam_width}")
        # A finished beam may only append pad, for free.
        log_probs[done] = float("-inf")
        log_probs[done, model.pad_id] = 0.0
        width = min(beam_width, int((log_probs > float("-inf")).sum()))
        beam_scores, beam, token = beam_search_step(beam_scores, log_probs, width)
        prefixes = torch.cat([prefixes[beam], token[:, None]], dim=1)
        done = done[beam] | (token == model.eos_id)
        state = state.select(beam)
        if done.all():
            break
    # Tokens up to and including the first eos; the whole prefix if it never ended.
    before_eos = (prefixes == model.eos_id).long().cumsum(dim=1).eq(0).sum(dim=1)
    n = torch.where(done, before_eos + 1, prefixes.shape[1])
    best = int((beam_scores / n.float() ** length_penalty).argmax())
    return prefixes[best, : int(n[best])], beam_scores[best]


def _check_max_len(max_len: int) -> None:
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")


def _describe(x: Tensor) -> str:
    return f"{x.dtype} tensor of shape {tuple(x.shape)}"
