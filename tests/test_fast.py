"""The whole-sequence LSTM and GRU (rnnkit.fast, rnnkit.answers) against torch.nn and the loop.

Truths: torch.nn.LSTM / torch.nn.GRU with copied weights (forward, final state, every
gradient), the cell loop ``Recurrent(cell, fast=False)`` differentiated by autograd, and
finite differences (``torch.autograd.gradcheck``) for the hand-written backward.
"""

import sys

import pytest
import torch
from torch import nn

import rnnkit
from rnnkit import fast
from rnnkit.answers.fast_gru import FastGRUFunction
from rnnkit.answers.fast_lstm import FastLSTMFunction

T, I, H = 6, 5, 4
TOLERANCE = {torch.float64: 1e-12, torch.float32: 1e-5}
KINDS = {"lstm": (nn.LSTM, rnnkit.LSTMCell), "gru": (nn.GRU, rnnkit.GRUCell)}


def copied_pair(kind: str, dtype: torch.dtype, bias: bool = True, device: str = "cpu"):
    """A torch.nn layer and an rnnkit cell of the same kind holding the same weights."""
    torch_class, cell_class = KINDS[kind]
    reference = torch_class(I, H, bias=bias).to(device=device, dtype=dtype)
    cell = cell_class(I, H, bias=bias, device=device, dtype=dtype)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in reference.state_dict().items()})
    return reference, cell


def inputs(kind: str, B: int, dtype: torch.dtype, with_state: bool, device: str = "cpu"):
    """x (T, B, I) and the initial state (h or (h, c), or None), all requiring grad."""
    options = {"dtype": dtype, "device": device, "requires_grad": True}
    x = torch.randn(T, B, I, **options)
    if not with_state:
        return x, None
    h0 = torch.randn(B, H, **options)
    return x, ((h0, torch.randn(B, H, **options)) if kind == "lstm" else h0)


def loss_of(outputs: torch.Tensor, final, weights: list[torch.Tensor]) -> torch.Tensor:
    """A scalar that weighs every output and every part of the final state differently."""
    parts = [outputs, *(final if isinstance(final, tuple) else (final,))]
    return sum((p * w).sum() for p, w in zip(parts, weights, strict=True))


def run_and_differentiate(model, x, state, leaves, weights):
    """(outputs, final state parts, gradients of the loss w.r.t. leaves) of one model."""
    outputs, final = model(x, state)
    final = final if isinstance(final, tuple) else (final,)
    grads = torch.autograd.grad(loss_of(outputs, final, weights), leaves)
    return outputs, final, grads


def used_fast_path(outputs: torch.Tensor) -> bool:
    """Whether the autograd graph of outputs passes through a Fast*Function (3 nodes deep)."""
    nodes = [outputs.grad_fn]
    for _ in range(3):
        if any("Fast" in type(node).__name__ for node in nodes):
            return True
        nodes = [nxt for node in nodes for nxt, _ in node.next_functions if nxt is not None]
    return False


def torch_state(state):
    """An rnnkit initial state (B, H) in torch.nn's layout (1, B, H)."""
    if state is None:
        return None
    return tuple(s.unsqueeze(0) for s in state) if isinstance(state, tuple) else state[None]


@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("B", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_fast_path_matches_torch_nn_outputs_states_and_every_gradient(
    kind, dtype, B, with_state, batch_first
):
    torch.manual_seed(0)
    reference, cell = copied_pair(kind, dtype)
    reference.batch_first = batch_first
    layer = rnnkit.Recurrent(cell, batch_first=batch_first)
    x, state = inputs(kind, B, dtype, with_state)
    x = x.transpose(0, 1).detach().requires_grad_() if batch_first else x
    state_leaves = [] if state is None else list(state if isinstance(state, tuple) else (state,))
    leaves_ours = [x, *state_leaves, *cell.parameters()]
    leaves_torch = [x, *state_leaves, *reference.parameters()]
    parts = 3 if kind == "lstm" else 2
    weights = [torch.randn_like(x[..., :1].expand(*x.shape[:2], H))]
    weights += [torch.randn(B, H, dtype=dtype) for _ in range(parts - 1)]

    out, final, grads = run_and_differentiate(layer, x, state, leaves_ours, weights)

    def torch_model(x, state):
        out, final = reference(x, torch_state(state))
        return out, (tuple(s[0] for s in final) if kind == "lstm" else final[0])

    out_t, final_t, grads_t = run_and_differentiate(torch_model, x, state, leaves_torch, weights)
    assert used_fast_path(out)
    tol = {"atol": TOLERANCE[dtype], "rtol": 0}
    torch.testing.assert_close(out, out_t, **tol)
    for ours, theirs in zip(final, final_t, strict=True):
        torch.testing.assert_close(ours, theirs, **tol)
    for ours, theirs in zip(grads, grads_t, strict=True):
        torch.testing.assert_close(ours, theirs, **tol)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_fast_path_without_bias_matches_torch_nn(kind):
    torch.manual_seed(1)
    reference, cell = copied_pair(kind, torch.float64, bias=False)
    x, state = inputs(kind, 2, torch.float64, with_state=True)
    out, _ = rnnkit.Recurrent(cell)(x, state)
    out_t, _ = reference(x, torch_state(state))
    weights = torch.randn_like(out)
    grads = torch.autograd.grad((out * weights).sum(), [x, *cell.parameters()])
    grads_t = torch.autograd.grad((out_t * weights).sum(), [x, *reference.parameters()])
    torch.testing.assert_close(out, out_t, atol=1e-12, rtol=0)
    for ours, theirs in zip(grads, grads_t, strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-12, rtol=0)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_fast_path_matches_the_cell_loop_in_float64(kind):
    torch.manual_seed(2)
    _, cell = copied_pair(kind, torch.float64)
    x, state = inputs(kind, 3, torch.float64, with_state=True)
    state_leaves = list(state) if isinstance(state, tuple) else [state]
    leaves = [x, *state_leaves, *cell.parameters()]
    parts = 3 if kind == "lstm" else 2
    weights = [torch.randn(T, 3, H, dtype=torch.float64)]
    weights += [torch.randn(3, H, dtype=torch.float64) for _ in range(parts - 1)]
    fast_path = run_and_differentiate(rnnkit.Recurrent(cell), x, state, leaves, weights)
    loop = run_and_differentiate(rnnkit.Recurrent(cell, fast=False), x, state, leaves, weights)
    assert not used_fast_path(loop[0])
    for ours, theirs in zip(
        [fast_path[0], *fast_path[1], *fast_path[2]], [loop[0], *loop[1], *loop[2]], strict=True
    ):
        torch.testing.assert_close(ours, theirs, atol=1e-12, rtol=0)


def test_lstm_backward_passes_gradcheck_in_float64():
    torch.manual_seed(3)
    B = 2
    args = [
        torch.randn(4, B, 3),  # x
        torch.randn(B, 2),  # h0
        torch.randn(B, 2),  # c0
        torch.randn(8, 3),  # weight_ih
        torch.randn(8, 2),  # weight_hh
        torch.randn(8),  # bias_ih
        torch.randn(8),  # bias_hh
    ]
    args = [a.double().requires_grad_() for a in args]
    assert torch.autograd.gradcheck(FastLSTMFunction.apply, args, atol=1e-8)


def test_gru_backward_passes_gradcheck_in_float64():
    torch.manual_seed(4)
    B = 2
    args = [
        torch.randn(4, B, 3),  # x
        torch.randn(B, 2),  # h0
        torch.randn(6, 3),  # weight_ih
        torch.randn(6, 2),  # weight_hh
        torch.randn(6),  # bias_ih
        torch.randn(6),  # bias_hh
    ]
    args = [a.double().requires_grad_() for a in args]
    assert torch.autograd.gradcheck(FastGRUFunction.apply, args, atol=1e-8)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_second_backward_with_retain_graph_gives_the_same_gradients(kind):
    # The backward must not consume what it saved: retain_graph allows a second pass.
    torch.manual_seed(5)
    _, cell = copied_pair(kind, torch.float64)
    x, state = inputs(kind, 2, torch.float64, with_state=True)
    out, _ = rnnkit.Recurrent(cell)(x, state)
    loss = (out * torch.randn_like(out)).sum()
    first = torch.autograd.grad(loss, [x, *cell.parameters()], retain_graph=True)
    second = torch.autograd.grad(loss, [x, *cell.parameters()])
    for a, b in zip(first, second, strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_only_exact_lstm_and_gru_cells_take_the_fast_path():
    assert fast.runner(rnnkit.LSTMCell(2, 3)) is fast.lstm
    assert fast.runner(rnnkit.GRUCell(2, 3)) is fast.gru
    for cell in (
        rnnkit.RNNCell(2, 3),
        rnnkit.CoupledLSTMCell(2, 3),
        rnnkit.PeepholeLSTMCell(2, 3),
    ):
        assert fast.runner(cell) is None
        out, _ = rnnkit.Recurrent(cell)(torch.randn(4, 2, 2, requires_grad=True))
        assert not used_fast_path(out)


def test_fast_false_keeps_the_cell_loop_and_trace_uses_the_loop():
    torch.manual_seed(6)
    cell = rnnkit.LSTMCell(I, H)
    x = torch.randn(T, 2, I, requires_grad=True)
    out, _ = rnnkit.Recurrent(cell, fast=False)(x)
    assert not used_fast_path(out)
    gates = rnnkit.Recurrent(cell).trace(x)
    assert list(gates) == ["i", "f", "g", "o"] and gates["o"].shape == (T, 2, H)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_without_the_answers_module_recurrent_runs_the_loop_with_the_same_numbers(
    kind, monkeypatch
):
    torch.manual_seed(7)
    _, cell = copied_pair(kind, torch.float64)
    x, state = inputs(kind, 2, torch.float64, with_state=True)
    layer = rnnkit.Recurrent(cell)
    out_fast, final_fast = layer(x, state)
    assert used_fast_path(out_fast)
    # None in sys.modules makes `import rnnkit.answers.fast_*` raise ImportError.
    monkeypatch.setitem(sys.modules, f"rnnkit.answers.fast_{kind}", None)
    assert fast.runner(cell) is None
    out_loop, final_loop = layer(x, state)
    assert not used_fast_path(out_loop)
    torch.testing.assert_close(out_loop, out_fast, atol=1e-12, rtol=0)
    finals = zip(
        final_loop if kind == "lstm" else [final_loop],
        final_fast if kind == "lstm" else [final_fast],
        strict=True,
    )
    for a, b in finals:
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "loop"])
def test_bad_initial_state_raises_the_same_value_error_on_both_paths(fast_path):
    layer = rnnkit.Recurrent(rnnkit.LSTMCell(I, H), fast=fast_path)
    x = torch.randn(T, 2, I)
    with pytest.raises(ValueError, match=r"LSTMCell expected c of shape \(2, 4\), got \(3, 4\)"):
        layer(x, (torch.zeros(2, H), torch.zeros(3, H)))
    with pytest.raises(ValueError, match="LSTMCell expected a floating-point x"):
        layer(torch.ones(T, 2, I, dtype=torch.long))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (compares with cuDNN)")
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_fast_path_on_cuda_matches_cudnn(kind, monkeypatch):
    # TF32 would round cuDNN's float32 products to 10-bit mantissas: compare full float32.
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    torch.manual_seed(8)
    reference, cell = copied_pair(kind, torch.float32, device="cuda")
    x, state = inputs(kind, 3, torch.float32, with_state=True, device="cuda")
    state_leaves = list(state) if isinstance(state, tuple) else [state]
    out, _ = rnnkit.Recurrent(cell)(x, state)
    out_t, _ = reference(x, torch_state(state))
    weights = torch.randn_like(out)
    grads = torch.autograd.grad((out * weights).sum(), [x, *state_leaves, *cell.parameters()])
    grads_t = torch.autograd.grad(
        (out_t * weights).sum(), [x, *state_leaves, *reference.parameters()]
    )
    assert used_fast_path(out)
    # cuDNN and cuBLAS sum in other orders than the CPU, hence a looser float32 tolerance.
    torch.testing.assert_close(out, out_t, atol=1e-4, rtol=1e-4)
    for ours, theirs in zip(grads, grads_t, strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)
