"""rnnkit.dnc: each mechanism on numbers worked out by hand, then the whole machine.

The temporal links (assignment 9's answers) are tested in tests/test_answers_ch09_dnc.py.
"""

import math
import sys

import pytest
import torch

from rnnkit.dnc import (
    DNC,
    EPS,
    Mechanisms,
    allocation_weighting,
    clamp_interface,
    content_weighting,
    interface_size,
    memory_step,
    oneplus,
    parse_interface,
    read_memory,
    read_weighting,
    reference_mechanisms,
    retention,
    usage_update,
    write_memory,
    write_weighting,
)

F64 = torch.float64


def t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


def assert_close(got: torch.Tensor, expected, atol: float = 1e-12) -> None:
    torch.testing.assert_close(got, t(expected), atol=atol, rtol=0)


# ---------------------------------------------------------------------------------------
# Content addressing
# ---------------------------------------------------------------------------------------


def test_content_weighting_is_softmax_of_strength_times_cosine():
    memory = t([[[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]]])  # (1, 3, 2)
    keys = t([[[2.0, 0.0], [0.0, -1.0]]])  # two heads
    strengths = t([[1.0, 2.0]])

    # Head 0: cosines 1, 0, 1/√2 (lengths do not matter); head 1: 0, −1, −1/√2.
    # EPS sits under each root: |x| becomes √(|x|² + EPS).
    def norm(squared: float) -> float:
        return math.sqrt(squared + EPS)

    cos0 = [2 / (norm(4) * norm(1)), 0.0, 6 / (norm(4) * norm(18))]
    cos1 = [0.0, -2 / (norm(1) * norm(4)), -3 / (norm(1) * norm(18))]
    expected = []
    for beta, cos in ((1.0, cos0), (2.0, cos1)):
        e = [math.exp(beta * c) for c in cos]
        expected.append([v / sum(e) for v in e])
    assert_close(content_weighting(memory, keys, strengths), [expected])


def test_content_weighting_sharpens_with_strength_and_stays_finite_on_zeros():
    memory = t([[[1.0, 0.0], [0.6, 0.8]]])
    key = t([[[1.0, 0.0]]])
    soft = content_weighting(memory, key, t([[1.0]]))[0, 0]
    sharp = content_weighting(memory, key, t([[50.0]]))[0, 0]
    assert soft[0] < sharp[0]
    # cos = 1 vs 0.6: with β = 50 the weight of the second slot is e^{−20}/(1 + e^{−20}).
    assert sharp[1].item() == pytest.approx(math.exp(-20) / (1 + math.exp(-20)), rel=1e-4)
    # An empty memory (the start) has cosine 0 everywhere: a uniform weighting, no NaN.
    empty = content_weighting(torch.zeros(1, 4, 2, dtype=F64), key, t([[3.0]]))
    assert_close(empty, [[[0.25] * 4]])


def test_content_weighting_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(0)
    memory = torch.randn(2, 4, 3, generator=g, dtype=F64, requires_grad=True)
    keys = torch.randn(2, 2, 3, generator=g, dtype=F64, requires_grad=True)
    strengths = (1 + torch.rand(2, 2, generator=g, dtype=F64)).requires_grad_()
    assert torch.autograd.gradcheck(content_weighting, (memory, keys, strengths))


def test_content_weighting_gradient_at_an_empty_slot_is_bounded_by_one_over_root_eps():
    # An all-zero slot among N = 4: every cosine is 0, so the weighting is uniform, w = 1/4.
    # There d cos(k, m)/dm = k / (√(|k|² + ε) √ε), and the softmax multiplies by β w (1 − w).
    # With |k| + ε outside the roots this gradient was k/ε · ..., about 10⁶.
    key = t([[[0.6, 0.8]]])
    memory = torch.zeros(1, 4, 2, dtype=F64, requires_grad=True)
    beta = 1.0
    content_weighting(memory, key, t([[beta]]))[0, 0, 0].backward()
    w = 0.25
    expected = beta * w * (1 - w) * key[0, 0] / (math.sqrt(1.0 + EPS) * math.sqrt(EPS))
    torch.testing.assert_close(memory.grad[0, 0], expected, atol=1e-9, rtol=1e-9)
    assert 150 < memory.grad[0, 0].norm().item() < 200  # 0.1875 / √ε ≈ 187.5


# ---------------------------------------------------------------------------------------
# Usage and allocation
# ---------------------------------------------------------------------------------------


def test_retention_multiplies_what_each_head_frees():
    free_gates = t([[1.0, 0.5]])
    read_weights = t([[[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]]])
    # (1 − 1·[.5, .5, 0]) ⊙ (1 − .5·[0, 1, 0]) = [.5, .5, 1] ⊙ [1, .5, 1]
    assert_close(retention(free_gates, read_weights), [[0.5, 0.25, 1.0]])


def test_usage_rises_with_writes_and_falls_with_frees():
    usage = t([[0.4, 0.1, 0.9]])
    written = t([[0.5, 0.0, 0.5]])
    psi = t([[1.0, 1.0, 0.0]])
    # slot 0: .4 + .5 − .2 = .7;  slot 1 untouched;  slot 2 freed entirely.
    assert_close(usage_update(usage, written, psi), [[0.7, 0.1, 0.0]])


def test_allocation_for_usage_worked_by_hand():
    usage = t([[0.4, 0.1, 0.9]])
    # Free list (least used first): slot 1 (0.1), slot 0 (0.4), slot 2 (0.9).
    # Exclusive products of the sorted usage: 1, 0.1, 0.1·0.4 = 0.04.
    a1 = (1 - 0.1) * 1.0
    a0 = (1 - 0.4) * 0.1
    a2 = (1 - 0.9) * 0.1 * 0.4
    allocation = allocation_weighting(usage)
    assert_close(allocation, [[a0, a1, a2]])  # [0.06, 0.9, 0.004]
    assert allocation.sum().item() == pytest.approx(1 - 0.4 * 0.1 * 0.9, abs=1e-12)


def test_allocation_of_empty_and_full_memories():
    # All free: the first slot (stable sort) gets everything; all used: nothing to give.
    assert_close(allocation_weighting(torch.zeros(1, 3, dtype=F64)), [[1.0, 0.0, 0.0]])
    assert_close(allocation_weighting(torch.ones(1, 3, dtype=F64)), [[0.0, 0.0, 0.0]])


def test_allocation_gradient_flows_through_usage_values():
    # Away from ties the sort order is locally constant, so finite differences agree.
    usage = t([[0.4, 0.1, 0.9, 0.7], [0.2, 0.8, 0.5, 0.3]]).requires_grad_()
    assert torch.autograd.gradcheck(allocation_weighting, (usage,))


# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------


def test_write_weighting_interpolates_allocation_and_content_then_gates():
    content = t([[0.2, 0.8, 0.0]])
    allocation = t([[1.0, 0.0, 0.0]])
    # 0.5 · (0.25·[1, 0, 0] + 0.75·[0.2, 0.8, 0]) = 0.5 · [0.4, 0.6, 0]
    got = write_weighting(content, allocation, t([0.5]), t([0.25]))
    assert_close(got, [[0.2, 0.3, 0.0]])


def test_erase_then_add_on_a_two_by_two_memory():
    memory = t([[[1.0, 2.0], [3.0, 4.0]]])
    weights = t([[1.0, 0.5]])
    erase = t([[1.0, 0.0]])
    value = t([[10.0, 20.0]])
    # row 0: [1·(1−1), 2·(1−0)] + 1·[10, 20];  row 1: [3·(1−.5), 4] + .5·[10, 20]
    assert_close(write_memory(memory, weights, erase, value), [[[10.0, 22.0], [6.5, 14.0]]])


# ---------------------------------------------------------------------------------------
# Reading and the interface
# ---------------------------------------------------------------------------------------


def test_read_weighting_mixes_the_three_modes():
    b, c, f = t([[[1, 0, 0]]]), t([[[0, 1, 0]]]), t([[[0, 0, 1]]])
    modes = t([[[0.2, 0.5, 0.3]]])  # backward, content, forward
    assert_close(read_weighting(b, c, f, modes), [[[0.2, 0.5, 0.3]]])


def test_read_vector_is_the_weighted_sum_of_slots():
    memory = t([[[1.0, 2.0], [3.0, 4.0]]])
    assert_close(read_memory(memory, t([[[0.25, 0.75]]])), [[[2.5, 3.5]]])


def test_interface_layout_and_ranges():
    R, D = 2, 3
    assert interface_size(R, D) == R * D + 3 * D + 5 * R + 3 == 28
    xi = torch.arange(28, dtype=F64).unsqueeze(0) / 10 - 1.5
    iface = parse_interface(xi, R, D)
    # Slices in the paper's order: keys 0..5, strengths 6..7, write key 8..10, …
    assert_close(iface.read_keys, (xi[0, :6].reshape(1, 2, 3)).tolist())
    assert_close(iface.read_strengths, oneplus(xi[:, 6:8]).tolist())
    assert_close(iface.write_key, [xi[:, 8:11].tolist()])
    assert_close(iface.write_vector, xi[:, 15:18].tolist())
    assert_close(iface.write_gate, torch.sigmoid(xi[:, 21]).tolist())
    assert oneplus(t([0.0])).item() == pytest.approx(1 + math.log(2), abs=1e-15)
    assert (iface.read_strengths >= 1).all() and (iface.write_strength >= 1).all()
    for gate in (iface.erase, iface.free_gates, iface.allocation_gate, iface.write_gate):
        assert ((gate > 0) & (gate < 1)).all()
    assert_close(iface.read_modes.sum(dim=2), [[1.0, 1.0]])


# ---------------------------------------------------------------------------------------
# The whole machine
# ---------------------------------------------------------------------------------------


def small_dnc(seed: int = 0, dtype=torch.float32) -> DNC:
    torch.manual_seed(seed)
    return DNC(5, 12, 4, memory_slots=6, word_size=3, read_heads=2).to(dtype)


def test_dnc_shapes_and_trace_agrees_with_forward():
    model = small_dnc()
    x = torch.randn(7, 3, 5)
    logits, state = model(x)
    assert logits.shape == (7, 3, 4)
    assert state.memory.memory.shape == (3, 6, 3)
    assert state.memory.link.shape == (3, 6, 6)
    trace = model.trace(x)
    torch.testing.assert_close(trace["logits"], logits, atol=0, rtol=0)
    assert trace["write"].shape == (7, 3, 6)
    assert trace["read"].shape == (7, 3, 2, 6)


def test_weightings_are_non_negative_and_sum_to_at_most_one():
    model = small_dnc(1)
    trace = model.trace(torch.randn(12, 4, 5) * 3)
    for name in ("write", "read", "allocation"):
        weights = trace[name]
        assert weights.min() >= 0, name
        assert weights.sum(dim=-1).max() <= 1 + 1e-5, name
    assert ((trace["usage"] >= 0) & (trace["usage"] <= 1)).all()
    torch.testing.assert_close(trace["modes"].sum(dim=-1), torch.ones(12, 4, 2))


def test_gradients_reach_every_parameter():
    model = small_dnc(2)
    logits, _ = model(torch.randn(6, 2, 5))
    logits.pow(2).mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert p.grad.abs().max() > 0, name


def test_memory_step_gradient_matches_finite_differences():
    model = small_dnc(3, F64)
    state = model(torch.randn(3, 2, 5, dtype=F64))[1].memory
    xi = torch.randn(2, interface_size(2, 3), dtype=F64, requires_grad=True)

    def reads(xi: torch.Tensor) -> torch.Tensor:
        return memory_step(state, parse_interface(xi, 2, 3), model.mechanisms)[0].read_vectors

    assert torch.autograd.gradcheck(reads, (xi,), fast_mode=True)


def test_state_carries_over_between_calls():
    model = small_dnc(4)
    x = torch.randn(8, 2, 5)
    whole, _ = model(x)
    first, state = model(x[:3])
    second, _ = model(x[3:], state)
    torch.testing.assert_close(torch.cat([first, second]), whole, atol=1e-6, rtol=0)


def test_dnc_runs_the_mechanisms_it_is_given():
    calls = []
    reference = reference_mechanisms()

    def counted(name):
        def mechanism(*args):
            calls.append(name)
            return getattr(reference, name)(*args)

        return mechanism

    mine = Mechanisms(*(counted(name) for name in Mechanisms._fields))
    torch.manual_seed(6)
    model = DNC(5, 12, 4, memory_slots=6, word_size=3, read_heads=2, mechanisms=mine)
    model(torch.randn(3, 2, 5))
    assert sorted(calls) == sorted(Mechanisms._fields * 3)  # each once per step


def test_without_the_answers_the_dnc_says_how_to_pass_the_mechanisms(monkeypatch):
    # A student's install has no rnnkit.answers.ch09_dnc: importing it fails.
    monkeypatch.setitem(sys.modules, "rnnkit.answers.ch09_dnc", None)
    with pytest.raises(RuntimeError, match=r"assignment 9 \(ch09_dnc\).*mechanisms=Mechanisms"):
        DNC(5, 12, 4)
    mine = Mechanisms(lambda p, w: p, lambda link, p, w: link, lambda link, r: (r, r))
    assert DNC(5, 12, 4, mechanisms=mine).mechanisms is mine


def test_clamped_write_gate_writes_nothing_and_leaves_the_memory_as_it_was():
    model = small_dnc(7)
    x = torch.randn(5, 2, 5)
    _, before = model(x[:3])
    _, after, weights = model.step(x[3], before, clamp={"write_gate": 0.0})
    assert (weights["write"] == 0).all()
    torch.testing.assert_close(after.memory.memory, before.memory.memory, atol=0, rtol=0)


def test_clamp_from_changes_only_the_steps_from_then_on():
    model = small_dnc(8)
    x = torch.randn(6, 2, 5)
    free = model.trace(x)
    clamped = model.trace(x, clamp={"write_gate": 0.0}, clamp_from=4)
    for name in ("logits", "write", "read", "usage"):
        torch.testing.assert_close(clamped[name][:4], free[name][:4], atol=0, rtol=0)
    assert (clamped["write"][4:] == 0).all() and (free["write"][4:] > 0).any()


def test_clamped_free_gates_keep_every_slot_in_use():
    # ψ = Π (1 − g^f w^r) = 1 when the free gates are 0: usage can then only grow.
    model = small_dnc(9)
    usage = model.trace(torch.randn(10, 3, 5) * 3, clamp={"free_gates": 0.0})["usage"]
    assert (usage[1:] >= usage[:-1]).all()
    iface = parse_interface(torch.randn(3, interface_size(2, 3)), 2, 3)
    clamped = clamp_interface(iface, {"free_gates": 0.0, "allocation_gate": 1.0})
    assert (clamped.free_gates == 0).all() and (clamped.allocation_gate == 1).all()
    torch.testing.assert_close(clamped.read_keys, iface.read_keys, atol=0, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_dnc_on_cuda_matches_cpu():
    model = small_dnc(5)
    x = torch.randn(6, 2, 5)
    expected, _ = model(x)
    got, _ = model.to("cuda")(x.to("cuda"))
    torch.testing.assert_close(got.cpu(), expected, atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: content_weighting(torch.zeros(1, 3, 2), torch.zeros(1, 1, 4), torch.ones(1, 1)),
         r"keys must have shape \(1, \?, 2\), got \(1, 1, 4\)"),
        (lambda: content_weighting(torch.zeros(1, 3, 2), torch.zeros(1, 1, 2), torch.ones(1)),
         r"strengths must have shape \(1, 1\)"),
        (lambda: allocation_weighting(torch.zeros(3)), r"usage must have shape \(\?, \?\)"),
        (lambda: write_memory(torch.zeros(1, 2, 2), torch.zeros(1, 3), torch.zeros(1, 2),
                              torch.zeros(1, 2)), r"write_weights must have shape \(1, 2\)"),
        (lambda: DNC(5, 12, 4, mechanisms=(len, len, len)), "expected mechanisms=Mechanisms"),
        (lambda: read_weighting(torch.zeros(1, 1, 3), torch.zeros(1, 1, 3), torch.zeros(1, 1, 3),
                                torch.zeros(1, 1, 2)), r"modes must have shape \(1, 1, 3\)"),
        (lambda: parse_interface(torch.zeros(1, 30), 2, 3), r"xi must have shape \(\?, 28\)"),
        (lambda: small_dnc()(torch.zeros(4, 2, 3)), r"x must have shape \(\?, \?, 5\)"),
        (lambda: small_dnc()(torch.zeros(0, 2, 5)), "at least one time step"),
        (lambda: DNC(5, 12, 4, memory_slots=0), "positive int memory_slots"),
        (lambda: retention([0.5], torch.zeros(1, 1, 2)), "free_gates must be a torch.Tensor"),
        (lambda: small_dnc().trace(torch.zeros(2, 1, 5), clamp={"read_modes": 0.0}),
         r"clamp expected a part among \('erase', 'free_gates'"),
        (lambda: small_dnc().trace(torch.zeros(2, 1, 5), clamp={"write_gate": 2.0}),
         r"number in \[0, 1\] for write_gate, got 2.0"),
        (lambda: small_dnc().trace(torch.zeros(2, 1, 5), clamp_from=-1),
         "clamp_from must be a non-negative int, got -1"),
    ],
    ids=["key width", "strengths", "usage rank", "write weights", "mechanisms", "modes",
         "interface", "dnc input", "dnc empty", "dnc size", "not a tensor", "clamp part",
         "clamp value", "clamp from"],
)  # fmt: skip
def test_bad_shapes_raise_value_error_naming_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()
