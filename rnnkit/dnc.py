"""A small Differentiable Neural Computer (Graves et al., Nature 2016).

An LSTM controller reads the input together with what it read from an external memory
at the previous step, and emits the logits and an *interface vector* that says how to
write to and read from the memory. Every mechanism is one function below, in the order
the book explains them; :class:`DNC` wires them together.

Letters (besides the course's B, T, I, H, K): N memory slots, D numbers per slot (the
word size; Graves et al. call it W, which the course uses for the recurrent weights),
R read heads. One step, with ``⊙`` elementwise and ``σ`` the logistic sigmoid::

    content      C(M, k, β)[n] = softmax_n(β · cos(k, M[n])),
                 cos(k, m) = k·m / (√(Σ k² + ε) √(Σ m² + ε))
    retention    ψ_t = Π_i (1 − g^f_i · w^r_{t-1,i})               free gates g^f
    usage        u_t = (u_{t-1} + w^w_{t-1} − u_{t-1} ⊙ w^w_{t-1}) ⊙ ψ_t
    allocation   a_t[φ_j] = (1 − u_t[φ_j]) Π_{l<j} u_t[φ_l]        φ: slots by usage, ascending
    write        w^w_t = g^w (g^a a_t + (1 − g^a) C(M_{t-1}, k^w, β^w))
    memory       M_t = M_{t-1} ⊙ (1 − w^w_t e_tᵀ) + w^w_t v_tᵀ
    links        Λ_t[n, m] = (1 − w^w_t[n] − w^w_t[m]) Λ_{t-1}[n, m] + w^w_t[n] p_{t-1}[m],
                 Λ_t[n, n] = 0
    precedence   p_t = (1 − Σ_n w^w_t[n]) p_{t-1} + w^w_t
    directions   forward_i = Λ_t w^r_{t-1,i},  backward_i = Λ_tᵀ w^r_{t-1,i}
    read         w^r_{t,i} = π_i[0] backward_i + π_i[1] C(M_t, k^r_i, β^r_i) + π_i[2] forward_i
    read vector  r_{t,i} = M_tᵀ w^r_{t,i}

The link matrix is Λ here because the course's L is the loss (the paper writes L).

Links, precedence and directions are the questions of assignment 9: their code lives in
``rnnkit.answers.ch09_dnc``, which instructors' installs hold and students' installs do not
until the solutions are published. :class:`DNC` takes them as a :class:`Mechanisms`; without
one it uses ``rnnkit.answers.ch09_dnc`` and, where that is missing, says how to pass yours.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells import LSTMCell

#: Added under each square root of the cosine's norms: the cosine stays finite for an
#: all-zero key or slot (the memory starts at zero), and so does its gradient there.
EPS = 1e-6

#: The copy-task model that ``scripts/train_dnc.py`` trains and the chapter loads.
COPY_CHECKPOINT = Path(__file__).parent / "data" / "dnc_copy.pt"

#: A DNC that ``scripts/train_dnc.py`` trained to recall copies backwards through a memory
#: too small to hold them all: it must free slots and read along the links backwards.
REVERSE_CHECKPOINT = Path(__file__).parent / "data" / "dnc_reverse.pt"

#: A DNC that ``scripts/train_dnc.py`` trained to recall one sequence backwards.
BACKWARD_CHECKPOINT = Path(__file__).parent / "data" / "dnc_backward.pt"

#: Read modes, in the order of the last axis of ``modes``.
READ_MODES = ("backward", "content", "forward")


def _check(name: str, tensor: Tensor, shape: tuple[int | None, ...]) -> None:
    """Raise ValueError unless ``tensor`` has ``shape`` (None matches any size)."""
    if not isinstance(tensor, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    got = tuple(tensor.shape)
    fits = len(got) == len(shape) and all(
        s is None or s == g for s, g in zip(shape, got, strict=True)
    )
    if not fits:
        want = "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {got}")


# ---------------------------------------------------------------------------------------
# Addressing by content
# ---------------------------------------------------------------------------------------


def content_weighting(memory: Tensor, keys: Tensor, strengths: Tensor) -> Tensor:
    """Attend to the slots that look like each key: softmax over slots of β·cosine.

    Each norm is √(Σ x² + ε): at a zero slot |m| + ε in the denominator would make the
    gradient with respect to that slot about 1/ε, while √ε bounds it by about 1/√ε.
    memory: (B, N, D);  keys: (B, R, D), one key per head;  strengths: (B, R), β ≥ 1
    sharpens the softmax (β → ∞ picks the single most similar slot).
    Returns (B, R, N); each row is non-negative and sums to 1.
    """
    _check("memory", memory, (None, None, None))
    B, N, D = memory.shape
    _check("keys", keys, (B, None, D))
    _check("strengths", strengths, (B, keys.shape[1]))
    dot = keys @ memory.transpose(1, 2)  # (B, R, N)
    key_norms = torch.sqrt((keys * keys).sum(dim=2, keepdim=True) + EPS)  # (B, R, 1)
    slot_norms = torch.sqrt((memory * memory).sum(dim=2) + EPS).unsqueeze(1)  # (B, 1, N)
    cosine = dot / (key_norms * slot_norms)
    return torch.softmax(strengths.unsqueeze(2) * cosine, dim=2)


# ---------------------------------------------------------------------------------------
# Dynamic allocation: which slots are free
# ---------------------------------------------------------------------------------------


def retention(free_gates: Tensor, read_weights: Tensor) -> Tensor:
    """How much of each slot survives the free gates: ψ = Π_i (1 − g^f_i w^r_i).

    A head that has read a slot (w^r_i high) and opens its free gate (g^f_i near 1)
    says "I am done with this": the slot may be overwritten.
    free_gates: (B, R) in [0, 1];  read_weights: (B, R, N), the previous step's.
    Returns ψ: (B, N) in [0, 1].
    """
    _check("read_weights", read_weights, (None, None, None))
    B, R, _ = read_weights.shape
    _check("free_gates", free_gates, (B, R))
    return torch.prod(1 - free_gates.unsqueeze(2) * read_weights, dim=1)


def usage_update(usage: Tensor, write_weights: Tensor, psi: Tensor) -> Tensor:
    """Usage after the last write and the frees: u_t = (u + w^w − u ⊙ w^w) ⊙ ψ.

    ``u + w − u w = 1 − (1 − u)(1 − w)``: a write can only raise usage towards 1.
    usage: (B, N), u_{t-1};  write_weights: (B, N), w^w_{t-1};  psi: (B, N), ψ_t.
    Returns u_t: (B, N) in [0, 1].
    """
    _check("usage", usage, (None, None))
    _check("write_weights", write_weights, tuple(usage.shape))
    _check("psi", psi, tuple(usage.shape))
    return (usage + write_weights - usage * write_weights) * psi


def allocation_weighting(usage: Tensor) -> Tensor:
    """Point at free slots: a[φ_j] = (1 − u[φ_j]) Π_{l<j} u[φ_l].

    φ lists the slots from least to most used (the *free list*). The first slot in it
    gets 1 − its usage; each later slot gets what the earlier ones left over, so the
    weights sum to 1 − Π_n u[n] ≤ 1.

    The sort is not differentiable: the order φ is a step function of the usage, so no
    gradient flows through *which* slot comes first (Graves et al. ignore these
    discontinuities). Gradients do flow through the usage values themselves. Ties keep
    the lower slot first (a stable sort).
    usage: (B, N) in [0, 1].  Returns a: (B, N), non-negative, summing to at most 1.
    """
    _check("usage", usage, (None, None))
    sorted_usage, order = torch.sort(usage, dim=1, stable=True)
    # Exclusive product: slot j is scaled by the usage of the j slots before it.
    ones = torch.ones_like(sorted_usage[:, :1])
    before = torch.cumprod(torch.cat([ones, sorted_usage[:, :-1]], dim=1), dim=1)
    sorted_allocation = (1 - sorted_usage) * before
    return torch.zeros_like(usage).scatter(1, order, sorted_allocation)


# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------


def write_weighting(
    write_content: Tensor, allocation: Tensor, write_gate: Tensor, allocation_gate: Tensor
) -> Tensor:
    """Where to write: w^w = g^w (g^a a + (1 − g^a) c^w).

    The allocation gate chooses between a fresh slot (a) and updating the slot that
    matches the write key (c^w); the write gate decides whether to write at all.
    write_content: (B, N), c^w;  allocation: (B, N), a;  write_gate, allocation_gate:
    (B,), each in [0, 1].  Returns w^w: (B, N).
    """
    _check("write_content", write_content, (None, None))
    B, N = write_content.shape
    _check("allocation", allocation, (B, N))
    _check("write_gate", write_gate, (B,))
    _check("allocation_gate", allocation_gate, (B,))
    g_a = allocation_gate.unsqueeze(1)
    return write_gate.unsqueeze(1) * (g_a * allocation + (1 - g_a) * write_content)


def write_memory(memory: Tensor, write_weights: Tensor, erase: Tensor, value: Tensor) -> Tensor:
    """Erase, then add: M_t = M ⊙ (1 − w^w eᵀ) + w^w vᵀ.

    Slot n loses the fraction w^w[n]·e[d] of its entry d, then gains w^w[n]·v[d].
    memory: (B, N, D);  write_weights: (B, N);  erase: (B, D) in [0, 1];  value: (B, D).
    Returns M_t: (B, N, D).
    """
    _check("memory", memory, (None, None, None))
    B, N, D = memory.shape
    _check("write_weights", write_weights, (B, N))
    _check("erase", erase, (B, D))
    _check("value", value, (B, D))
    w = write_weights.unsqueeze(2)
    return memory * (1 - w * erase.unsqueeze(1)) + w * value.unsqueeze(1)


# ---------------------------------------------------------------------------------------
# Remembering the order of writes
# ---------------------------------------------------------------------------------------


class Mechanisms(NamedTuple):
    """The three functions that keep and use the order of writes (assignment 9).

    precedence_update(precedence (B, N), write_weights (B, N)) -> p_t (B, N)
    link_update(link (B, N, N), precedence (B, N), write_weights (B, N)) -> Λ_t (B, N, N)
    directional_weightings(link (B, N, N), read_weights (B, R, N)) -> (forward, backward),
    each (B, R, N). All three are differentiable and keep the dtype they are given.
    """

    precedence_update: Callable[[Tensor, Tensor], Tensor]
    link_update: Callable[[Tensor, Tensor, Tensor], Tensor]
    directional_weightings: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


def reference_mechanisms() -> Mechanisms:
    """The instructors' mechanisms from ``rnnkit.answers.ch09_dnc``.

    Raises RuntimeError, saying how to pass your own, where they are not installed.
    """
    try:
        ch09_dnc = import_module("rnnkit.answers.ch09_dnc")
    except ImportError:
        raise RuntimeError(
            "The DNC's temporal links (precedence_update, link_update, "
            "directional_weightings) are the questions of assignment 9 (ch09_dnc), so this "
            "rnnkit does not include them until that assignment's solutions are published. "
            "Pass your own functions: DNC(..., mechanisms=Mechanisms(precedence_update, "
            "link_update, directional_weightings)), or the same mechanisms= to "
            "DNC.from_checkpoint."
        ) from None
    return Mechanisms(
        ch09_dnc.precedence_update, ch09_dnc.link_update, ch09_dnc.directional_weightings
    )


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------


def read_weighting(backward: Tensor, content: Tensor, forward: Tensor, modes: Tensor) -> Tensor:
    """Mix the three ways to read: w^r_i = π_i[0] backward_i + π_i[1] c^r_i + π_i[2] forward_i.

    backward, content, forward: (B, R, N);  modes: (B, R, 3), π, each row a softmax in
    the order of ``READ_MODES``.  Returns w^r: (B, R, N).
    """
    _check("content", content, (None, None, None))
    _check("backward", backward, tuple(content.shape))
    _check("forward", forward, tuple(content.shape))
    _check("modes", modes, (*content.shape[:2], 3))
    pi = modes.unsqueeze(3)
    return pi[:, :, 0] * backward + pi[:, :, 1] * content + pi[:, :, 2] * forward


def read_memory(memory: Tensor, read_weights: Tensor) -> Tensor:
    """Read vectors r_i = M_tᵀ w^r_i, a weighted sum of slots.

    memory: (B, N, D);  read_weights: (B, R, N).  Returns (B, R, D).
    """
    _check("memory", memory, (None, None, None))
    B, N, _ = memory.shape
    _check("read_weights", read_weights, (B, None, N))
    return read_weights @ memory


# ---------------------------------------------------------------------------------------
# The interface vector
# ---------------------------------------------------------------------------------------


class Interface(NamedTuple):
    """The controller's orders for one step, each constrained to its range."""

    read_keys: Tensor  # (B, R, D)
    read_strengths: Tensor  # (B, R), ≥ 1
    write_key: Tensor  # (B, 1, D)
    write_strength: Tensor  # (B, 1), ≥ 1
    erase: Tensor  # (B, D), in [0, 1]
    write_vector: Tensor  # (B, D)
    free_gates: Tensor  # (B, R), in [0, 1]
    allocation_gate: Tensor  # (B,), in [0, 1]
    write_gate: Tensor  # (B,), in [0, 1]
    read_modes: Tensor  # (B, R, 3), rows sum to 1


def interface_size(read_heads: int, word_size: int) -> int:
    """Length of ξ for R heads and D-word slots: R·D + 3D + 5R + 3."""
    R, D = read_heads, word_size
    return R * D + R + D + 1 + D + D + R + 1 + 1 + 3 * R


def oneplus(x: Tensor) -> Tensor:
    """1 + softplus(x) = 1 + log(1 + eˣ): a key strength of at least 1."""
    return 1 + F.softplus(x)


def parse_interface(xi: Tensor, read_heads: int, word_size: int) -> Interface:
    """Cut the interface vector ξ into its parts and squash each into its range.

    Layout (as in Graves et al.): read keys (R·D), read strengths (R), write key (D),
    write strength (1), erase (D), write vector (D), free gates (R), allocation gate
    (1), write gate (1), read modes (3R). Strengths go through oneplus, gates and the
    erase vector through σ, each head's three modes through a softmax.
    xi: (B, R·D + 3D + 5R + 3).  read_heads: R;  word_size: D.  Returns an Interface.
    """
    R, D = read_heads, word_size
    _check("xi", xi, (None, interface_size(R, D)))
    B = xi.shape[0]
    parts = torch.split(xi, [R * D, R, D, 1, D, D, R, 1, 1, 3 * R], dim=1)
    keys, strengths, w_key, w_strength, erase, vector, free, g_a, g_w, modes = parts
    return Interface(
        read_keys=keys.reshape(B, R, D),
        read_strengths=oneplus(strengths),
        write_key=w_key.unsqueeze(1),
        write_strength=oneplus(w_strength),
        erase=torch.sigmoid(erase),
        write_vector=vector,
        free_gates=torch.sigmoid(free),
        allocation_gate=torch.sigmoid(g_a).squeeze(1),
        write_gate=torch.sigmoid(g_w).squeeze(1),
        read_modes=torch.softmax(modes.reshape(B, R, 3), dim=2),
    )


#: The parts of the interface an experiment may fix at a constant in [0, 1] (see
#: :func:`clamp_interface`): the gates and the erase vector.
CLAMPABLE = ("erase", "free_gates", "allocation_gate", "write_gate")


def clamp_interface(iface: Interface, values: Mapping[str, float]) -> Interface:
    """Overrule some of the controller's orders: an intervention for experiments.

    Setting a gate to a constant at every step, whatever the controller asks, shows what
    the trained model needs it for: e.g. ``{"write_gate": 0.0}`` stops all writing,
    ``{"free_gates": 0.0}`` stops all freeing.
    iface: a parsed :class:`Interface` (batch B);  values: part name (one of
    ``CLAMPABLE``) -> a number in [0, 1], used for every entry of that part.
    Returns the Interface with those parts replaced.
    """
    for name, value in values.items():
        if name not in CLAMPABLE:
            raise ValueError(f"clamp expected a part among {CLAMPABLE}, got {name!r}")
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ValueError(f"clamp expected a number in [0, 1] for {name}, got {value!r}")
    return iface._replace(
        **{name: torch.full_like(getattr(iface, name), value) for name, value in values.items()}
    )


# ---------------------------------------------------------------------------------------
# The whole machine
# ---------------------------------------------------------------------------------------


class MemoryState(NamedTuple):
    """Everything the memory carries from one step to the next."""

    memory: Tensor  # (B, N, D), M
    usage: Tensor  # (B, N), u
    link: Tensor  # (B, N, N), Λ
    precedence: Tensor  # (B, N), p
    write_weights: Tensor  # (B, N), w^w
    read_weights: Tensor  # (B, R, N), w^r
    read_vectors: Tensor  # (B, R, D), r


class DNCState(NamedTuple):
    """The controller's LSTM state (h, c), each (B, H), and the memory's."""

    controller: tuple[Tensor, Tensor]
    memory: MemoryState


def memory_step(
    state: MemoryState, iface: Interface, mechanisms: Mechanisms
) -> tuple[MemoryState, dict[str, Tensor]]:
    """One write, then one read, in the order of Graves et al.'s Methods.

    state: the memory at t-1;  iface: this step's parsed interface;  mechanisms: the
    precedence, link and directional functions to use.
    Returns the memory at t and a dict of this step's weightings for plots:
    "write" (B, N), "read" (B, R, N), "usage" (B, N), "allocation" (B, N), the read
    modes "modes" (B, R, 3) and the link matrix "link" (B, N, N).
    """
    psi = retention(iface.free_gates, state.read_weights)
    usage = usage_update(state.usage, state.write_weights, psi)
    allocation = allocation_weighting(usage)
    write_content = content_weighting(state.memory, iface.write_key, iface.write_strength)
    w_write = write_weighting(
        write_content.squeeze(1), allocation, iface.write_gate, iface.allocation_gate
    )
    memory = write_memory(state.memory, w_write, iface.erase, iface.write_vector)
    link = mechanisms.link_update(state.link, state.precedence, w_write)
    precedence = mechanisms.precedence_update(state.precedence, w_write)

    forward, backward = mechanisms.directional_weightings(link, state.read_weights)
    read_content = content_weighting(memory, iface.read_keys, iface.read_strengths)
    w_read = read_weighting(backward, read_content, forward, iface.read_modes)
    reads = read_memory(memory, w_read)
    new = MemoryState(memory, usage, link, precedence, w_write, w_read, reads)
    weights = {"write": w_write, "read": w_read, "usage": usage, "allocation": allocation}
    return new, {**weights, "modes": iface.read_modes, "link": link}


class DNC(nn.Module):
    """A Differentiable Neural Computer with one LSTM controller layer.

    At each step the controller (:class:`rnnkit.cells.LSTMCell`) reads
    ``[x_t; r_{t-1,1}; …; r_{t-1,R}]`` and gives h_t. ``interface`` maps h_t to the
    interface vector ξ_t; the memory then writes and reads; ``output`` maps
    ``[h_t; r_{t,1}; …; r_{t,R}]`` to the logits ℓ_t, so the reads of this step reach
    the output directly (Graves et al.'s y_t = W_y h_t + W_r r_t, as one linear map).

    Args:
        input_size: I;  hidden_size: H, the controller's units;  output_size: K.
        memory_slots: N;  word_size: D;  read_heads: R.
        mechanisms: the temporal-link functions as a :class:`Mechanisms`, or None
        for the instructors' (:func:`reference_mechanisms`, from assignment 9's solutions).

    Submodules: ``controller`` (LSTMCell(I + R·D, H)), ``interface``
    (Linear(H, R·D + 3D + 5R + 3)) and ``output`` (Linear(H + R·D, K)).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        memory_slots: int = 16,
        word_size: int = 8,
        read_heads: int = 1,
        mechanisms: Mechanisms | None = None,
    ) -> None:
        super().__init__()
        sizes = {
            "input_size": input_size,
            "hidden_size": hidden_size,
            "output_size": output_size,
            "memory_slots": memory_slots,
            "word_size": word_size,
            "read_heads": read_heads,
        }
        for name, size in sizes.items():
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ValueError(f"DNC expected a positive int {name}, got {size!r}")
        if mechanisms is not None and not isinstance(mechanisms, Mechanisms):
            raise ValueError(
                f"DNC expected mechanisms=Mechanisms(...), got {type(mechanisms).__name__}"
            )
        #: The constructor's sizes, saved with a checkpoint to rebuild the model.
        self.config = sizes
        #: Not parameters: they are code, so neither state_dict nor a checkpoint holds them.
        self.mechanisms = reference_mechanisms() if mechanisms is None else mechanisms
        self.input_size, self.output_size = input_size, output_size
        self.N, self.D, self.R = memory_slots, word_size, read_heads
        reads = read_heads * word_size
        self.controller = LSTMCell(input_size + reads, hidden_size)
        self.interface = nn.Linear(hidden_size, interface_size(read_heads, word_size))
        self.output = nn.Linear(hidden_size + reads, output_size)

    def checkpoint(self, **training: Any) -> dict[str, Any]:
        """What :meth:`from_checkpoint` needs, plus any notes on the training run.

        training: e.g. steps, seed and the loss curve; stored under "training".
        Returns {"config", "state_dict", "training"}, ready for ``torch.save``.
        """
        state = {name: p.detach().cpu() for name, p in self.state_dict().items()}
        return {"config": dict(self.config), "state_dict": state, "training": training}

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, mechanisms: Mechanisms | None = None
    ) -> tuple[DNC, dict[str, Any]]:
        """Rebuild a model saved with :meth:`checkpoint` (on the CPU).

        path: a file written by ``torch.save(model.checkpoint(...), path)``;
        mechanisms: as for :class:`DNC`, e.g. your own functions from assignment 9.
        Returns the model and the checkpoint's "training" notes.
        """
        saved = torch.load(path, map_location="cpu", weights_only=True)
        model = cls(**saved["config"], mechanisms=mechanisms)
        model.load_state_dict(saved["state_dict"])
        return model, saved["training"]

    def initial_state(self, batch_size: int) -> DNCState:
        """Zeros everywhere: an empty memory, nothing written or read yet.

        batch_size: B.  Returns a DNCState on the parameters' device and dtype.
        """
        B, N, D, R, H = batch_size, self.N, self.D, self.R, self.controller.hidden_size
        like = self.output.weight
        memory = MemoryState(
            memory=like.new_zeros(B, N, D),
            usage=like.new_zeros(B, N),
            link=like.new_zeros(B, N, N),
            precedence=like.new_zeros(B, N),
            write_weights=like.new_zeros(B, N),
            read_weights=like.new_zeros(B, R, N),
            read_vectors=like.new_zeros(B, R, D),
        )
        return DNCState((like.new_zeros(B, H), like.new_zeros(B, H)), memory)

    def step(
        self, x: Tensor, state: DNCState, clamp: Mapping[str, float] | None = None
    ) -> tuple[Tensor, DNCState, dict[str, Tensor]]:
        """One time step. x: (B, I);  state: at t-1;  clamp: parts of the interface to
        fix at constants (see :func:`clamp_interface`), None for none.

        Returns the logits ℓ_t (B, K), the state at t, and the step's weightings (see
        :func:`memory_step`).
        """
        B = x.shape[0]
        controller_in = torch.cat([x, state.memory.read_vectors.reshape(B, -1)], dim=1)
        h, c = self.controller(controller_in, state.controller)
        iface = parse_interface(self.interface(h), self.R, self.D)
        if clamp:
            iface = clamp_interface(iface, clamp)
        memory, weights = memory_step(state.memory, iface, self.mechanisms)
        logits = self.output(torch.cat([h, memory.read_vectors.reshape(B, -1)], dim=1))
        return logits, DNCState((h, c), memory), weights

    def forward(self, x: Tensor, state: DNCState | None = None) -> tuple[Tensor, DNCState]:
        """Run over a sequence. x: (T, B, I);  state: None for :meth:`initial_state`.

        Returns the logits (T, B, K) and the final state.
        """
        logits, state, _ = self._unroll(x, state, keep=False)
        return logits, state

    def trace(
        self,
        x: Tensor,
        state: DNCState | None = None,
        clamp: Mapping[str, float] | None = None,
        clamp_from: int = 0,
    ) -> dict[str, Tensor]:
        """Run over a sequence and keep every step's weightings, for plots.

        x: (T, B, I);  state: None for :meth:`initial_state`;  clamp: parts of the
        interface to fix (see :func:`clamp_interface`) at steps ``clamp_from`` … T-1.
        Returns {"logits": (T, B, K), "write": (T, B, N), "read": (T, B, R, N),
        "usage": (T, B, N), "allocation": (T, B, N), "modes": (T, B, R, 3),
        "link": (T, B, N, N)}.
        """
        logits, _, weights = self._unroll(x, state, keep=True, clamp=clamp, clamp_from=clamp_from)
        return {"logits": logits, **weights}

    def _unroll(
        self,
        x: Tensor,
        state: DNCState | None,
        keep: bool,
        clamp: Mapping[str, float] | None = None,
        clamp_from: int = 0,
    ) -> tuple[Tensor, DNCState, dict[str, Tensor]]:
        """Step through x (T, B, I); keep=True also stacks each step's weightings."""
        _check("x", x, (None, None, self.input_size))
        if x.shape[0] == 0:
            raise ValueError("DNC expected at least one time step, got T = 0")
        if isinstance(clamp_from, bool) or not isinstance(clamp_from, int) or clamp_from < 0:
            raise ValueError(f"clamp_from must be a non-negative int, got {clamp_from!r}")
        state = self.initial_state(x.shape[1]) if state is None else state
        outputs, steps = [], []
        for t, x_t in enumerate(x.unbind(0)):
            logits, state, weights = self.step(x_t, state, clamp if t >= clamp_from else None)
            outputs.append(logits)
            if keep:
                steps.append(weights)
        stacked = {name: torch.stack([w[name] for w in steps]) for name in weights} if keep else {}
        return torch.stack(outputs), state, stacked
