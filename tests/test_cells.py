"""rnnkit's cells against torch.nn's cells and against independent computations."""

import numpy as np
import pytest
import torch
from torch import nn

from rnnkit.cells import CoupledLSTMCell, GRUCell, LSTMCell, PeepholeLSTMCell, RNNCell

# Largest max-abs difference allowed for values and gradients in each precision.
TOL = {torch.float32: 1e-6, torch.float64: 1e-10}
DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
# (B, I, H): a batch of one, a single input feature, and a general case.
SHAPES = pytest.mark.parametrize("batch, inputs, hidden", [(1, 3, 4), (5, 1, 2), (4, 6, 5)])

# name -> (rnnkit cell, torch.nn cell), both built from (I, H)
PAIRS = {
    "rnn_tanh": (lambda i, h: RNNCell(i, h), lambda i, h: nn.RNNCell(i, h)),
    "rnn_relu": (
        lambda i, h: RNNCell(i, h, nonlinearity="relu"),
        lambda i, h: nn.RNNCell(i, h, nonlinearity="relu"),
    ),
    "rnn_no_bias": (
        lambda i, h: RNNCell(i, h, bias=False),
        lambda i, h: nn.RNNCell(i, h, bias=False),
    ),
    "lstm": (lambda i, h: LSTMCell(i, h), lambda i, h: nn.LSTMCell(i, h)),
    "lstm_no_bias": (
        lambda i, h: LSTMCell(i, h, bias=False),
        lambda i, h: nn.LSTMCell(i, h, bias=False),
    ),
    "gru": (lambda i, h: GRUCell(i, h), lambda i, h: nn.GRUCell(i, h)),
}


def max_diff(a, b) -> float:
    return (a - b).abs().max().item()


def leaves(*shapes, dtype, seed):
    """Random tensors that require grad, one per shape."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, dtype=dtype, generator=g).requires_grad_() for s in shapes]


def as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


def backward_with_random_weights(outputs, seed):
    """Backpropagate sum(w ⊙ out) with fixed random w, so every output gets its own gradient."""
    g = torch.Generator().manual_seed(seed)
    loss = sum((torch.randn(o.shape, dtype=o.dtype, generator=g) * o).sum() for o in outputs)
    loss.backward()


def make_pair(name, inputs, hidden, dtype):
    mine, ref = (make(inputs, hidden) for make in PAIRS[name])
    ref = ref.to(dtype)
    mine = mine.to(dtype)
    mine.load_state_dict(ref.state_dict())
    return mine, ref


def assert_close(got, want, dtype, what):
    diff = max_diff(got, want)
    assert diff <= TOL[dtype], f"{what}: max abs diff {diff:.2e} > {TOL[dtype]:.0e}"


@pytest.mark.parametrize("name", PAIRS)
@SHAPES
@DTYPES
@pytest.mark.parametrize("given_state", [True, False], ids=["state", "zero_state"])
def test_cell_matches_torch_forward_and_gradients(name, batch, inputs, hidden, dtype, given_state):
    mine, ref = make_pair(name, inputs, hidden, dtype)
    is_lstm = name.startswith("lstm")
    (x,) = leaves((batch, inputs), dtype=dtype, seed=1)
    state = (
        leaves(*[(batch, hidden)] * (2 if is_lstm else 1), dtype=dtype, seed=2)
        if given_state
        else []
    )
    arg = (tuple(state) if is_lstm else state[0]) if given_state else None

    outs_mine, outs_ref = as_tuple(mine(x, arg)), as_tuple(ref(x, arg))
    for k, (a, b) in enumerate(zip(outs_mine, outs_ref, strict=True)):
        assert_close(a, b, dtype, f"output {k}")

    inputs = [x, *state]
    backward_with_random_weights(outs_mine, seed=3)
    grads_mine = [t.grad.clone() for t in inputs]
    for t in inputs:
        t.grad = None
    backward_with_random_weights(outs_ref, seed=3)
    for k, (t, g) in enumerate(zip(inputs, grads_mine, strict=True)):
        assert_close(g, t.grad, dtype, f"gradient wrt input {k}")
    ref_params = dict(ref.named_parameters())
    for pname, p in mine.named_parameters():
        assert_close(p.grad, ref_params[pname].grad, dtype, f"gradient wrt {pname}")


@pytest.mark.parametrize("name", PAIRS)
def test_cell_accepts_one_unbatched_example_like_torch(name):
    mine, ref = make_pair(name, 3, 4, torch.float64)
    x = torch.randn(3, dtype=torch.float64)
    state = torch.randn(4, dtype=torch.float64)
    arg = (state, torch.randn(4, dtype=torch.float64)) if name.startswith("lstm") else state
    for out in (mine(x), mine(x, arg)):
        assert all(o.shape == (4,) for o in as_tuple(out))
    for a, b in zip(as_tuple(mine(x, arg)), as_tuple(ref(x, arg)), strict=True):
        assert max_diff(a, b) <= TOL[torch.float64]


@pytest.mark.parametrize("cls", [RNNCell, LSTMCell, GRUCell, CoupledLSTMCell, PeepholeLSTMCell])
def test_cell_parameters_start_uniform_within_one_over_sqrt_hidden(cls):
    torch.manual_seed(0)
    cell = cls(7, 16)
    values = torch.cat([p.detach().flatten() for p in cell.parameters()])
    assert values.abs().max().item() <= 0.25
    # Hundreds of draws from U(−0.25, 0.25) reach close to both ends.
    assert values.min().item() < -0.24 and values.max().item() > 0.24


def test_lstm_cell_gates_are_those_forward_uses_in_torch_order():
    mine, ref = make_pair("lstm", 3, 4, torch.float64)
    x, h, c = (torch.randn(2, n, dtype=torch.float64) for n in (3, 4, 4))
    gates = mine.gates(x, (h, c))
    assert list(gates) == ["i", "f", "g", "o"]
    a = x @ ref.weight_ih.T + ref.bias_ih + h @ ref.weight_hh.T + ref.bias_hh
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
    for got, want in zip(
        gates.values(),
        (a_i.sigmoid(), a_f.sigmoid(), a_g.tanh(), a_o.sigmoid()),
        strict=True,
    ):
        assert max_diff(got, want) <= TOL[torch.float64]


def test_gru_cell_gates_use_torch_convention_z_keeps_old_state():
    cell = GRUCell(2, 3).double()
    x, h = torch.randn(4, 2, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    with torch.no_grad():
        # A large update-gate bias drives z to 1: the cell then copies h_{t-1}.
        cell.bias_ih[3:6] = 40.0
    gates = cell.gates(x, h)
    assert list(gates) == ["r", "z", "n"]
    assert max_diff(cell(x, h), h) <= 1e-12


# --- coupled-gate LSTM ------------------------------------------------------------


def torch_lstm_with_tied_forget_gate(coupled: CoupledLSTMCell) -> nn.LSTMCell:
    """An nn.LSTMCell whose forget gate is 1 − i: its f block is minus the i block.

    σ(−a) = 1 − σ(a), so negating the input gate's weights and biases for f gives f = 1 − i.
    """
    H = coupled.hidden_size
    ref = nn.LSTMCell(coupled.input_size, H).to(coupled.weight_ih.dtype)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            i, g, o = getattr(coupled, name).chunk(3, dim=0)
            getattr(ref, name).copy_(torch.cat([i, -i, g, o]))
    assert ref.weight_ih.shape[0] == 4 * H
    return ref


@SHAPES
@DTYPES
def test_coupled_cell_equals_torch_lstm_whose_forget_gate_is_one_minus_input_gate(
    batch, inputs, hidden, dtype
):
    torch.manual_seed(0)
    mine = CoupledLSTMCell(inputs, hidden).to(dtype)
    ref = torch_lstm_with_tied_forget_gate(mine)
    x, h, c = leaves((batch, inputs), (batch, hidden), (batch, hidden), dtype=dtype, seed=4)

    out_mine = mine(x, (h, c))
    out_ref = ref(x, (h, c))
    for a, b in zip(out_mine, out_ref, strict=True):
        assert_close(a, b, dtype, "output")

    backward_with_random_weights(out_mine, seed=5)
    grads_mine = [t.grad.clone() for t in (x, h, c)]
    for t in (x, h, c):
        t.grad = None
    backward_with_random_weights(out_ref, seed=5)
    for g, t in zip(grads_mine, (x, h, c), strict=True):
        assert_close(g, t.grad, dtype, "gradient wrt input")
    for name, p in mine.named_parameters():
        # Chain rule through the tie: the i block gets its own gradient minus f's.
        gi, gf, gg, go = getattr(ref, name).grad.chunk(4, dim=0)
        assert_close(p.grad, torch.cat([gi - gf, gg, go]), dtype, f"gradient wrt {name}")


def test_coupled_cell_has_three_gate_blocks_and_forget_is_one_minus_input():
    cell = CoupledLSTMCell(3, 5)
    shapes = {name: tuple(p.shape) for name, p in cell.named_parameters()}
    assert shapes == {
        "weight_ih": (15, 3),
        "weight_hh": (15, 5),
        "bias_ih": (15,),
        "bias_hh": (15,),
    }
    gates = cell.gates(torch.randn(2, 3))
    assert torch.equal(gates["f"], 1 - gates["i"])


# --- peephole LSTM -----------------------------------------------------------------


def numpy_peephole_step(cell: PeepholeLSTMCell, x, h, c):
    """Gers & Schmidhuber's peephole LSTM step, in NumPy, one gate at a time."""
    P = {name: p.detach().numpy() for name, p in cell.named_parameters()}
    H = cell.hidden_size

    def pre(k):  # pre-activation of gate block k without peepholes
        rows = slice(k * H, (k + 1) * H)
        return (
            x @ P["weight_ih"][rows].T
            + P["bias_ih"][rows]
            + h @ P["weight_hh"][rows].T
            + P["bias_hh"][rows]
        )

    def sigmoid(a):
        return 1 / (1 + np.exp(-a))

    i = sigmoid(pre(0) + P["weight_ci"] * c)
    f = sigmoid(pre(1) + P["weight_cf"] * c)
    g = np.tanh(pre(2))
    c_new = f * c + i * g
    o = sigmoid(pre(3) + P["weight_co"] * c_new)
    return o * np.tanh(c_new), c_new


@SHAPES
def test_peephole_cell_matches_numpy_equations(batch, inputs, hidden):
    torch.manual_seed(0)
    cell = PeepholeLSTMCell(inputs, hidden).double()
    with torch.no_grad():  # large peephole weights, so ignoring them would show
        for name in ("weight_ci", "weight_cf", "weight_co"):
            getattr(cell, name).uniform_(-2.0, 2.0)
    rng = np.random.default_rng(6)
    x, h, c = (rng.standard_normal((batch, n)) for n in (inputs, hidden, hidden))
    want_h, want_c = numpy_peephole_step(cell, x, h, c)
    got_h, got_c = cell(torch.from_numpy(x), (torch.from_numpy(h), torch.from_numpy(c)))
    assert np.abs(got_h.detach().numpy() - want_h).max() <= 1e-12
    assert np.abs(got_c.detach().numpy() - want_c).max() <= 1e-12


@SHAPES
@DTYPES
def test_peephole_cell_with_zero_peepholes_equals_torch_lstm_cell(batch, inputs, hidden, dtype):
    ref = nn.LSTMCell(inputs, hidden).to(dtype)
    mine = PeepholeLSTMCell(inputs, hidden).to(dtype)
    with torch.no_grad():
        for name in ("weight_ci", "weight_cf", "weight_co"):
            getattr(mine, name).zero_()
    mine.load_state_dict(ref.state_dict(), strict=False)
    x, h, c = leaves((batch, inputs), (batch, hidden), (batch, hidden), dtype=dtype, seed=7)

    out_mine, out_ref = mine(x, (h, c)), ref(x, (h, c))
    for a, b in zip(out_mine, out_ref, strict=True):
        assert_close(a, b, dtype, "output")
    backward_with_random_weights(out_mine, seed=8)
    grads_mine = [t.grad.clone() for t in (x, h, c)]
    for t in (x, h, c):
        t.grad = None
    backward_with_random_weights(out_ref, seed=8)
    for g, t in zip(grads_mine, (x, h, c), strict=True):
        assert_close(g, t.grad, dtype, "gradient wrt input")
    for name, p in ref.named_parameters():
        assert_close(getattr(mine, name).grad, p.grad, dtype, f"gradient wrt {name}")


def test_peephole_cell_has_diagonal_peephole_weights():
    cell = PeepholeLSTMCell(3, 5)
    for name in ("weight_ci", "weight_cf", "weight_co"):
        assert getattr(cell, name).shape == (5,)
    assert cell.weight_ih.shape == (20, 3)


# --- bad input ---------------------------------------------------------------------

ALL_CELLS = pytest.mark.parametrize(
    "cls", [RNNCell, LSTMCell, GRUCell, CoupledLSTMCell, PeepholeLSTMCell]
)


def good_state(cls, B=4, H=5):
    h = torch.zeros(B, H)
    return (h, torch.zeros(B, H)) if issubclass(cls, LSTMCell) else h


@ALL_CELLS
def test_cell_rejects_x_with_wrong_feature_size_naming_both_shapes(cls):
    with pytest.raises(
        ValueError, match=rf"{cls.__name__} expected x of shape \(B, 3\).*got \(4, 5\)"
    ):
        cls(3, 5)(torch.zeros(4, 5))


@ALL_CELLS
def test_cell_rejects_x_of_wrong_rank(cls):
    with pytest.raises(
        ValueError, match=r"expected x of shape \(B, 3\) or \(3,\), got \(2, 4, 3\)"
    ):
        cls(3, 5)(torch.zeros(2, 4, 3))


@ALL_CELLS
def test_cell_rejects_integer_x(cls):
    with pytest.raises(ValueError, match="floating-point x, got dtype torch.int64"):
        cls(3, 5)(torch.zeros(4, 3, dtype=torch.long))


@ALL_CELLS
def test_cell_rejects_state_of_wrong_shape(cls):
    bad = torch.zeros(4, 6)
    state = (bad, torch.zeros(4, 5)) if issubclass(cls, LSTMCell) else bad
    with pytest.raises(ValueError, match=r"expected h of shape \(4, 5\), got \(4, 6\)"):
        cls(3, 5)(torch.zeros(4, 3), state)


@ALL_CELLS
def test_cell_rejects_state_of_other_dtype_than_x(cls):
    state = good_state(cls)
    state = tuple(s.double() for s in state) if isinstance(state, tuple) else state.double()
    with pytest.raises(ValueError, match="expected h of dtype torch.float32 .* torch.float64"):
        cls(3, 5)(torch.zeros(4, 3), state)


@ALL_CELLS
def test_cell_rejects_batched_state_for_unbatched_x(cls):
    with pytest.raises(ValueError, match=r"expected h of shape \(5,\), got \(4, 5\)"):
        cls(3, 5)(torch.zeros(3), good_state(cls))


@pytest.mark.parametrize("cls", [LSTMCell, CoupledLSTMCell, PeepholeLSTMCell])
def test_lstm_cells_reject_a_single_tensor_as_state(cls):
    with pytest.raises(ValueError, match=r"expected state to be a pair \(h, c\).*got Tensor"):
        cls(3, 5)(torch.zeros(4, 3), torch.zeros(4, 5))


def test_lstm_cell_rejects_cell_state_of_wrong_shape():
    with pytest.raises(ValueError, match=r"expected c of shape \(4, 5\), got \(4, 2\)"):
        LSTMCell(3, 5)(torch.zeros(4, 3), (torch.zeros(4, 5), torch.zeros(4, 2)))


def test_rnn_cell_rejects_unknown_nonlinearity():
    with pytest.raises(ValueError, match="'tanh' or 'relu', got 'sigmoid'"):
        RNNCell(3, 5, nonlinearity="sigmoid")


@pytest.mark.parametrize("sizes", [(0, 5), (3, -1), (3, 2.5)])
def test_cell_rejects_sizes_that_are_not_positive_ints(sizes):
    with pytest.raises(ValueError, match="expected a positive int"):
        LSTMCell(*sizes)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("cls", [LSTMCell, GRUCell])
def test_cell_on_cuda_makes_its_zero_state_there_and_matches_cpu(cls):
    torch.manual_seed(0)
    cell = cls(3, 4).double()
    x = torch.randn(2, 3, dtype=torch.float64)
    want = as_tuple(cell(x))
    got = as_tuple(cell.cuda()(x.cuda()))
    for a, b in zip(got, want, strict=True):
        assert a.device.type == "cuda"
        assert max_diff(a.cpu(), b) <= TOL[torch.float64]
