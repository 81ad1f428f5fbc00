"""rnnkit.answers.ch09_dnc, the temporal links: hand-worked numbers, an independent loop over
the paper's equations, finite differences, and the shipped model copying with them."""

import numpy as np
import pytest
import torch

from rnnkit.answers.ch09_dnc import directional_weightings, link_update, precedence_update
from rnnkit.dnc import COPY_CHECKPOINT, DNC, Mechanisms
from rnnkit.tasks import copy_task

F64 = torch.float64


def t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


def assert_close(got: torch.Tensor, expected, atol: float = 1e-12) -> None:
    torch.testing.assert_close(got, t(expected), atol=atol, rtol=0)


def write_in_order(slots: list[int], n: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Link matrix and precedence after one-hot writes to ``slots``, from empty."""
    link, precedence = torch.zeros(1, n, n, dtype=F64), torch.zeros(1, n, dtype=F64)
    for slot in slots:
        w = torch.zeros(1, n, dtype=F64)
        w[0, slot] = 1.0
        link = link_update(link, precedence, w)
        precedence = precedence_update(precedence, w)
    return link, precedence


# ---------------------------------------------------------------------------------------
# Numbers worked out by hand
# ---------------------------------------------------------------------------------------


def test_link_matrix_after_two_one_hot_writes():
    # Write slot 1, then slot 2. The first write finds p = 0: no link. The second sets
    # Λ[2, 1] = w[2]·p[1] = 1 ("2 was written right after 1"); every other entry stays 0.
    link, precedence = write_in_order([1, 2])
    assert_close(link, [[[0, 0, 0], [0, 0, 0], [0, 1, 0]]])
    assert_close(precedence, [[0, 0, 1]])


def test_rewriting_a_slot_fades_its_old_links():
    # 1, 2, 0 gives Λ[2, 1] = Λ[0, 2] = 1. Writing 1 again: (1 − w[2] − w[1])Λ[2, 1] = 0,
    # and the new link Λ[1, 0] = 1 points from slot 1 back to slot 0, written just before.
    assert_close(write_in_order([1, 2, 0])[0], [[[0, 0, 1], [0, 0, 0], [0, 1, 0]]])
    assert_close(write_in_order([1, 2, 0, 1])[0], [[[0, 0, 1], [1, 0, 0], [0, 0, 0]]])


def test_link_diagonal_is_zero_for_a_spread_write():
    w = t([[0.5, 0.5, 0.0]])
    link = link_update(torch.zeros(1, 3, 3, dtype=F64), w.clone(), w)
    # Off the diagonal Λ[n, m] = w[n] p[m] = 0.25 for n, m in {0, 1}; the diagonal is cut.
    assert_close(link, [[[0, 0.25, 0], [0.25, 0, 0], [0, 0, 0]]])


def test_precedence_keeps_what_the_write_leaves():
    p = precedence_update(t([[0.5, 0.5, 0.0]]), t([[0.0, 0.2, 0.6]]))
    assert_close(p, [[0.1, 0.3, 0.6]])  # (1 − 0.8)·p + w


def test_forward_and_backward_weightings_follow_the_links():
    link, _ = write_in_order([1, 2, 0])  # written in the order 1 → 2 → 0
    heads = t([[[0, 1, 0], [0, 0, 1]]])  # head 0 on slot 1, head 1 on slot 2
    forward, backward = directional_weightings(link, heads)
    assert_close(forward, [[[0, 0, 1], [1, 0, 0]]])  # 1 → 2, 2 → 0
    assert_close(backward, [[[0, 0, 0], [0, 1, 0]]])  # nothing before 1; 2 → 1


# ---------------------------------------------------------------------------------------
# Against the equations, one entry at a time (NumPy loops), on random soft weightings
# ---------------------------------------------------------------------------------------


def soft_inputs(seed: int, B: int = 3, N: int = 5, R: int = 2):
    g = torch.Generator().manual_seed(seed)
    # Write weightings sum to less than 1, as the DNC's do (gate times a weighting).
    w = torch.softmax(torch.randn(B, N, generator=g, dtype=F64), 1) * torch.rand(B, 1, generator=g)
    p = torch.softmax(torch.randn(B, N, generator=g, dtype=F64), 1) * 0.9
    link = torch.rand(B, N, N, generator=g, dtype=F64) / N
    reads = torch.softmax(torch.randn(B, R, N, generator=g, dtype=F64), 2)
    return link, p, w, reads


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_updates_match_the_equations_entry_by_entry(seed):
    link, p, w, reads = soft_inputs(seed)
    L, P, W, Rd = (a.numpy() for a in (link, p, w, reads))
    B, N, _ = L.shape
    new_link, new_p = np.zeros_like(L), np.zeros_like(P)
    forward, backward = np.zeros_like(Rd), np.zeros_like(Rd)
    for b in range(B):
        new_p[b] = (1 - W[b].sum()) * P[b] + W[b]
        for n in range(N):
            for m in range(N):
                if n != m:
                    new_link[b, n, m] = (1 - W[b, n] - W[b, m]) * L[b, n, m] + W[b, n] * P[b, m]
        for i in range(Rd.shape[1]):
            for n in range(N):
                forward[b, i, n] = sum(new_link[b, n, m] * Rd[b, i, m] for m in range(N))
                backward[b, i, n] = sum(new_link[b, m, n] * Rd[b, i, m] for m in range(N))
    got_link = link_update(link, p, w)
    np.testing.assert_allclose(got_link.numpy(), new_link, rtol=0, atol=1e-15)
    np.testing.assert_allclose(precedence_update(p, w).numpy(), new_p, rtol=0, atol=1e-15)
    got_forward, got_backward = directional_weightings(got_link, reads)
    np.testing.assert_allclose(got_forward.numpy(), forward, rtol=0, atol=1e-15)
    np.testing.assert_allclose(got_backward.numpy(), backward, rtol=0, atol=1e-15)


def test_gradients_match_finite_differences():
    link, p, w, reads = (a.requires_grad_() for a in soft_inputs(3))
    assert torch.autograd.gradcheck(precedence_update, (p, w))
    assert torch.autograd.gradcheck(link_update, (link, p, w))
    assert torch.autograd.gradcheck(directional_weightings, (link, reads))


def test_the_dtype_given_is_the_dtype_returned():
    link, p, w, reads = (a.float() for a in soft_inputs(4))
    assert precedence_update(p, w).dtype == torch.float32
    assert link_update(link, p, w).dtype == torch.float32
    assert all(d.dtype == torch.float32 for d in directional_weightings(link, reads))


# ---------------------------------------------------------------------------------------
# The shipped model copies with them; break one and it does not
# ---------------------------------------------------------------------------------------


def exact_copies(model: DNC, length: int, n: int = 100, seed: int = 2024) -> float:
    x, y, mask = copy_task(n, length, model.output_size, seed)
    with torch.no_grad():
        logits, _ = model(x)
    right = (logits.argmax(-1) == y) | ~mask
    return right.all(dim=0).float().mean().item()


def test_the_shipped_checkpoint_copies_every_training_length_exactly():
    model, notes = DNC.from_checkpoint(COPY_CHECKPOINT)
    assert [exact_copies(model, n) for n in range(1, notes["max_len"] + 1)] == [1.0] * 8


def test_reading_the_links_backwards_breaks_the_copy():
    def swapped(link, reads):
        forward, backward = directional_weightings(link, reads)
        return backward, forward

    wrong = Mechanisms(precedence_update, link_update, swapped)
    model, _ = DNC.from_checkpoint(COPY_CHECKPOINT, mechanisms=wrong)
    assert exact_copies(model, 8) < 0.1
