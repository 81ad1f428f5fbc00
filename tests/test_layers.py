"""rnnkit's layers against torch.nn.RNN, LSTM and GRU with the weights copied."""

import pytest
import torch
from torch import nn

from rnnkit.cells import GRUCell, LSTMCell, RNNCell
from rnnkit.layers import Bidirectional, Recurrent, Residual, Stacked

# Largest max-abs difference allowed for values and gradients in each precision.
TOLS = {torch.float32: 1e-6, torch.float64: 1e-10}
TOL = TOLS[torch.float64]  # the tests that run in one precision use float64
DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
TORCH_RNNS = {
    "rnn_tanh": lambda **kw: nn.RNN(**kw),
    "rnn_relu": lambda **kw: nn.RNN(nonlinearity="relu", **kw),
    "lstm": lambda **kw: nn.LSTM(**kw),
    "gru": lambda **kw: nn.GRU(**kw),
}


def max_diff(a, b) -> float:
    return (a - b).abs().max().item()


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def torch_rnn(kind, *, inputs=3, hidden=4, dtype=torch.float64, **kw):
    torch.manual_seed(0)
    return TORCH_RNNS[kind](input_size=inputs, hidden_size=hidden, **kw).to(dtype)


def random_sequence(steps, batch, inputs, batch_first, seed=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    shape = (batch, steps, inputs) if batch_first else (steps, batch, inputs)
    return torch.randn(*shape, dtype=dtype, generator=g)


def random_hx(kind, rows, batch, hidden, seed=2, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    h0, c0 = (torch.randn(rows, batch, hidden, dtype=dtype, generator=g) for _ in "hc")
    return (h0, c0) if kind == "lstm" else h0


@pytest.mark.parametrize("kind", TORCH_RNNS)
@pytest.mark.parametrize("bidirectional", [True, False], ids=["bi", "uni"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
@pytest.mark.parametrize("steps, batch", [(1, 3), (6, 1), (4, 2)])
@pytest.mark.parametrize("given_state", [True, False], ids=["state", "zero_state"])
@DTYPES
def test_stacked_from_torch_matches_torch_outputs_and_final_states(
    kind, bidirectional, batch_first, steps, batch, given_state, dtype
):
    ref = torch_rnn(
        kind, num_layers=2, bidirectional=bidirectional, batch_first=batch_first, dtype=dtype
    )
    mine = Stacked.from_torch(ref)
    x = random_sequence(steps, batch, 3, batch_first, dtype=dtype)
    rows = 4 if bidirectional else 2
    hx = random_hx(kind, rows, batch, 4, dtype=dtype) if given_state else None

    out_ref, final_ref = ref(x, hx)
    out_mine, finals = mine(x, None if hx is None else mine.from_torch_state(hx))

    assert out_mine.shape == out_ref.shape
    assert out_mine.dtype == dtype
    assert max_diff(out_mine, out_ref) <= TOLS[dtype]
    for got, want in zip(as_tuple(mine.to_torch_state(finals)), as_tuple(final_ref), strict=True):
        assert max_diff(got, want) <= TOLS[dtype]


@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru"])
@DTYPES
def test_stacked_from_torch_matches_torch_gradients(kind, dtype):
    tol = TOLS[dtype]
    ref = torch_rnn(kind, num_layers=2, bidirectional=True, dtype=dtype)
    mine = Stacked.from_torch(ref)
    x = random_sequence(5, 2, 3, batch_first=False, dtype=dtype).requires_grad_()
    hx = tuple(t.requires_grad_() for t in as_tuple(random_hx(kind, 4, 2, 4, dtype=dtype)))
    hx_arg = hx if kind == "lstm" else hx[0]
    w = torch.randn(5, 2, 8, dtype=dtype)  # upstream gradient of the outputs

    (w * mine(x, mine.from_torch_state(hx_arg))[0]).sum().backward()
    grads_mine = [t.grad.clone() for t in (x, *hx)]
    for t in (x, *hx):
        t.grad = None
    (w * ref(x, hx_arg)[0]).sum().backward()

    for g, t in zip(grads_mine, (x, *hx), strict=True):
        assert max_diff(g, t.grad) <= tol
    # torch names parameters e.g. weight_hh_l1_reverse; rnnkit layers.1.bw.cell.weight_hh.
    for k in range(2):
        for suffix, direction in (("", "fw"), ("_reverse", "bw")):
            cell = getattr(mine.layers[k], direction).cell
            for name, p in cell.named_parameters():
                assert max_diff(p.grad, getattr(ref, f"{name}_l{k}{suffix}").grad) <= tol


def test_recurrent_over_one_cell_matches_single_layer_torch_lstm_batch_first():
    ref = torch_rnn("lstm", batch_first=True)
    cell = LSTMCell(3, 4).double()
    cell.load_state_dict({k[: -len("_l0")]: v for k, v in ref.state_dict().items()})
    x = random_sequence(7, 2, 3, batch_first=True)

    out, (h, c) = Recurrent(cell, batch_first=True)(x)
    out_ref, (h_ref, c_ref) = ref(x)
    assert out.shape == (2, 7, 4)
    for got, want in ((out, out_ref), (h, h_ref[0]), (c, c_ref[0])):
        assert max_diff(got, want) <= TOL


def test_bidirectional_puts_the_forward_half_first_and_reads_backwards():
    torch.manual_seed(0)
    fw, bw = GRUCell(3, 4).double(), GRUCell(3, 4).double()
    x = random_sequence(5, 2, 3, batch_first=False)
    out, (final_fw, final_bw) = Bidirectional(fw, bw)(x)

    out_fw, _ = Recurrent(fw)(x)
    out_bw_reversed, final_bw_alone = Recurrent(bw)(x.flip(0))
    assert torch.equal(out[..., :4], out_fw)
    assert torch.equal(out[..., 4:], out_bw_reversed.flip(0))
    assert torch.equal(final_fw, out_fw[-1])
    # The backward cell ends at t = 1, so its final state is the output there.
    assert torch.equal(final_bw, out[0, :, 4:])
    assert torch.equal(final_bw, final_bw_alone)


# --- dropout between layers ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru"])
def test_stacked_dropout_in_train_mode_matches_torch_with_the_same_seed(kind):
    ref = torch_rnn(kind, num_layers=3, bidirectional=True, dropout=0.5)
    mine = Stacked.from_torch(ref)
    assert mine.training and mine.dropout == 0.5
    x = random_sequence(6, 3, 3, batch_first=False)

    torch.manual_seed(123)
    out_ref, _ = ref(x)
    torch.manual_seed(123)
    out_mine, _ = mine(x)
    assert max_diff(out_mine, out_ref) <= TOL
    # The same layers without dropout give something else: dropout did act.
    assert max_diff(out_mine, mine.eval()(x)[0]) > 1e-3


def test_stacked_applies_no_dropout_in_eval_mode():
    ref = torch_rnn("lstm", num_layers=2, dropout=0.5).eval()
    mine = Stacked.from_torch(ref)
    assert not mine.training
    x = random_sequence(6, 3, 3, batch_first=False)
    out_ref, _ = ref(x)
    for seed in (0, 1):
        torch.manual_seed(seed)
        assert max_diff(mine(x)[0], out_ref) <= TOL


def test_stacked_applies_no_dropout_after_the_top_layer():
    torch.manual_seed(0)
    layer = Recurrent(RNNCell(3, 4).double())
    x = random_sequence(6, 3, 3, batch_first=False)
    out, _ = Stacked([layer], dropout=0.9).train()(x)
    assert torch.equal(out, layer(x)[0])


# --- gate traces ------------------------------------------------------------------------


def test_trace_gates_rebuild_the_lstm_outputs_step_by_step():
    torch.manual_seed(0)
    layer = Recurrent(LSTMCell(3, 4).double(), batch_first=True)
    x = random_sequence(6, 2, 3, batch_first=True)
    out, (_, c_last) = layer(x)
    gates = layer.trace(x)
    assert set(gates) == {"i", "f", "g", "o"}
    assert all(v.shape == (2, 6, 4) for v in gates.values())

    c = torch.zeros(2, 4, dtype=torch.float64)
    for t in range(6):
        i, f, g, o = (gates[k][:, t] for k in "ifgo")
        c = f * c + i * g
        assert max_diff(o * torch.tanh(c), out[:, t]) <= TOL
    assert max_diff(c, c_last) <= TOL


def test_trace_rejects_a_cell_without_gates():
    with pytest.raises(ValueError, match="gates method, got RNNCell"):
        Recurrent(RNNCell(3, 4)).trace(torch.zeros(2, 1, 3))


# --- torch state layout -----------------------------------------------------------------


def test_torch_state_layout_round_trips_for_mixed_layers():
    torch.manual_seed(0)
    mine = Stacked(
        [
            Bidirectional(LSTMCell(3, 4), LSTMCell(3, 4)),
            Recurrent(LSTMCell(8, 4)),
        ]
    )
    hx = (torch.randn(3, 2, 4), torch.randn(3, 2, 4))
    states = mine.from_torch_state(hx)
    assert torch.equal(states[0][1][0], hx[0][1])  # layer 0, backward, h
    assert torch.equal(states[1][1], hx[1][2])  # layer 1, c
    for got, want in zip(mine.to_torch_state(states), hx, strict=True):
        assert torch.equal(got, want)


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize("batch_first, order", [(False, r"\(T, B, 3\)"), (True, r"\(B, T, 3\)")])
def test_recurrent_rejects_x_that_is_not_three_dimensional(batch_first, order):
    with pytest.raises(ValueError, match=rf"expected x of shape {order}, got \(5, 3\)"):
        Recurrent(GRUCell(3, 4), batch_first=batch_first)(torch.zeros(5, 3))


def test_recurrent_rejects_x_with_wrong_feature_size():
    with pytest.raises(ValueError, match=r"expected x of shape \(T, B, 3\), got \(5, 2, 7\)"):
        Recurrent(LSTMCell(3, 4))(torch.zeros(5, 2, 7))


def test_recurrent_rejects_an_empty_sequence():
    with pytest.raises(ValueError, match="at least one time step, got T = 0"):
        Recurrent(LSTMCell(3, 4))(torch.zeros(0, 2, 3))


def test_recurrent_passes_on_the_cells_error_for_a_bad_initial_state():
    with pytest.raises(ValueError, match=r"LSTMCell expected h of shape \(2, 4\), got \(2, 5\)"):
        Recurrent(LSTMCell(3, 4))(torch.zeros(5, 2, 3), (torch.zeros(2, 5), torch.zeros(2, 4)))


def test_bidirectional_rejects_a_state_that_is_not_a_pair():
    with pytest.raises(ValueError, match=r"expected state \(fw_state, bw_state\), got Tensor"):
        Bidirectional(GRUCell(3, 4), GRUCell(3, 4))(torch.zeros(5, 2, 3), torch.zeros(2, 4))


def test_stacked_rejects_wrong_number_of_initial_states():
    mine = Stacked([Recurrent(GRUCell(3, 4)), Recurrent(GRUCell(4, 4))])
    with pytest.raises(ValueError, match="expected 2 initial states, got 1"):
        mine(torch.zeros(5, 2, 3), [torch.zeros(2, 4)])


@pytest.mark.parametrize("dropout", [-0.1, 1.0])
def test_stacked_rejects_dropout_outside_zero_to_one(dropout):
    with pytest.raises(ValueError, match=r"dropout in \[0, 1\)"):
        Stacked([Recurrent(GRUCell(3, 4))], dropout=dropout)


def test_stacked_rejects_an_empty_list_of_layers():
    with pytest.raises(ValueError, match="at least one layer"):
        Stacked([])


def test_from_torch_rejects_modules_that_are_not_rnns():
    with pytest.raises(ValueError, match="nn.RNN, nn.LSTM or nn.GRU, got .*Linear"):
        Stacked.from_torch(nn.Linear(3, 4))


def test_from_torch_rejects_projected_lstm():
    with pytest.raises(ValueError, match="proj_size=0, got 2"):
        Stacked.from_torch(nn.LSTM(3, 4, proj_size=2))


def test_from_torch_state_rejects_wrong_number_of_rows():
    mine = Stacked.from_torch(nn.GRU(3, 4, num_layers=2, bidirectional=True))
    with pytest.raises(ValueError, match=r"expected h_0 of shape \(4, B, H\), got \(2, 5, 4\)"):
        mine.from_torch_state(torch.zeros(2, 5, 4))


def test_residual_adds_the_input_to_the_torch_layers_outputs():
    torch.manual_seed(0)
    ref = nn.GRU(6, 3, bidirectional=True, dtype=torch.float64)
    x = torch.randn(5, 2, 6, dtype=torch.float64, requires_grad=True)
    mine = Residual(Stacked.from_torch(ref).layers[0])
    out, (fw, bw) = mine(x)
    expected, h_n = ref(x)
    torch.testing.assert_close(out, expected + x, rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.stack([fw, bw]), h_n, rtol=0, atol=1e-12)
    # the skip path adds the identity to the input's gradient
    (grad_mine,) = torch.autograd.grad(out.sum(), x)
    (grad_ref,) = torch.autograd.grad(expected.sum(), x)
    torch.testing.assert_close(grad_mine, grad_ref + 1, rtol=0, atol=1e-12)


def test_residual_rejects_a_layer_that_changes_the_feature_size():
    with pytest.raises(
        ValueError, match=r"keep the shape \(5, 2, 3\).*got outputs of shape \(5, 2, 4\)"
    ):
        Residual(Recurrent(GRUCell(3, 4)))(torch.zeros(5, 2, 3))


# --- padded batches: lengths -------------------------------------------------------------

LENGTHS = [5, 2, 4, 1]  # unsorted, one sequence full length, one of a single step


def packed_reference(ref, x, lengths, hx=None):
    """torch.nn's outputs and final states for a padded batch, through packing."""
    packed = nn.utils.rnn.pack_padded_sequence(
        x, torch.tensor(lengths), batch_first=ref.batch_first, enforce_sorted=False
    )
    out, final = ref(packed, hx)
    out, _ = nn.utils.rnn.pad_packed_sequence(
        out, batch_first=ref.batch_first, total_length=x.shape[1 if ref.batch_first else 0]
    )
    return out, final


@pytest.mark.parametrize("kind", TORCH_RNNS)
@pytest.mark.parametrize("bidirectional", [True, False], ids=["bi", "uni"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
@pytest.mark.parametrize("given_state", [True, False], ids=["state", "zero_state"])
@DTYPES
def test_lengths_match_torch_packed_sequences_with_copied_weights(
    kind, bidirectional, batch_first, given_state, dtype
):
    ref = torch_rnn(kind, bidirectional=bidirectional, batch_first=batch_first, dtype=dtype)
    mine = Stacked.from_torch(ref)
    x = random_sequence(5, len(LENGTHS), 3, batch_first, dtype=dtype)
    hx = random_hx(kind, 2 if bidirectional else 1, 4, 4, dtype=dtype) if given_state else None

    out_ref, final_ref = packed_reference(ref, x, LENGTHS, hx)
    state = None if hx is None else mine.from_torch_state(hx)[0]
    out_mine, final = mine.layers[0](x, state, lengths=torch.tensor(LENGTHS))

    # padded steps are zero in both, so the whole tensors are compared
    assert max_diff(out_mine, out_ref) <= TOLS[dtype]
    got = mine.to_torch_state([final])
    for g, want in zip(as_tuple(got), as_tuple(final_ref), strict=True):
        assert max_diff(g, want) <= TOLS[dtype]


@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru"])
def test_lengths_gradients_match_torch_packed_sequences(kind):
    ref = torch_rnn(kind, bidirectional=True)
    mine = Stacked.from_torch(ref).layers[0]
    x = random_sequence(5, len(LENGTHS), 3, batch_first=False).requires_grad_()
    w = torch.randn(5, len(LENGTHS), 8, dtype=torch.float64)

    (grad_mine,) = torch.autograd.grad((w * mine(x, lengths=torch.tensor(LENGTHS))[0]).sum(), x)
    (grad_ref,) = torch.autograd.grad((w * packed_reference(ref, x, LENGTHS)[0]).sum(), x)
    assert max_diff(grad_mine, grad_ref) <= TOL
    # nothing reaches the padding: the inputs there do not matter
    padded = torch.arange(5)[:, None] >= torch.tensor(LENGTHS)[None, :]
    assert torch.all(grad_mine[padded] == 0)


def test_lengths_make_the_padding_irrelevant_to_every_real_output():
    torch.manual_seed(0)
    layer = Bidirectional(RNNCell(3, 4).double(), RNNCell(3, 4).double())
    x = random_sequence(5, len(LENGTHS), 3, batch_first=False)
    lengths = torch.tensor(LENGTHS)
    other = x.clone()
    padded = torch.arange(5)[:, None] >= lengths[None, :]
    other[padded] = 100.0  # junk in the padding
    out, final = layer(x, lengths=lengths)
    out_other, final_other = layer(other, lengths=lengths)
    assert torch.equal(out, out_other)
    assert all(torch.equal(a, b) for a, b in zip(final, final_other, strict=True))
    # without lengths the backward half reads the junk first, and every sequence but the
    # full-length one changes
    without = layer(other)[0][..., 4:]
    changed = (without - out[..., 4:]).abs().amax(dim=(0, 2)) > 1e-3
    assert changed.tolist() == [length < 5 for length in LENGTHS]


def test_full_lengths_give_the_same_result_as_no_lengths():
    torch.manual_seed(0)
    layer = Bidirectional(LSTMCell(3, 4).double(), LSTMCell(3, 4).double(), batch_first=True)
    x = random_sequence(5, 3, 3, batch_first=True)
    out, ((h_fw, c_fw), (h_bw, c_bw)) = layer(x)
    out_l, ((h_fw_l, c_fw_l), (h_bw_l, c_bw_l)) = layer(x, lengths=torch.tensor([5, 5, 5]))
    for a, b in ((out, out_l), (h_fw, h_fw_l), (c_fw, c_fw_l), (h_bw, h_bw_l), (c_bw, c_bw_l)):
        assert max_diff(a, b) <= TOL


@pytest.mark.parametrize("cell", [LSTMCell, GRUCell])
def test_lengths_take_the_cell_loop_even_where_the_fast_path_exists(cell):
    torch.manual_seed(0)
    layer = Recurrent(cell(3, 4).double())
    x = random_sequence(5, len(LENGTHS), 3, batch_first=False)
    out, final = layer(x, lengths=torch.tensor(LENGTHS))
    # each sequence alone, unpadded, through the plain cell loop
    for b, length in enumerate(LENGTHS):
        alone, final_alone = Recurrent(layer.cell, fast=False)(x[:length, b : b + 1])
        assert max_diff(out[:length, b : b + 1], alone) <= TOL
        assert torch.all(out[length:, b] == 0)
        for got, want in zip(as_tuple(final), as_tuple(final_alone), strict=True):
            assert max_diff(got[b : b + 1], want) <= TOL


@pytest.mark.parametrize(
    "lengths, message",
    [
        ([5, 2], r"lengths of shape \(4,\) with integer values, got \(2,\)"),
        ([5.0, 2.0, 4.0, 1.0], r"integer values, got \(4,\) torch.float32"),
        ([5, 2, 4, 0], r"lengths in \[1, T = 5\], got values from 0 to 5"),
        ([6, 2, 4, 1], r"lengths in \[1, T = 5\], got values from 1 to 6"),
    ],
)
def test_lengths_outside_one_to_t_or_of_the_wrong_shape_are_rejected(lengths, message):
    layer = Bidirectional(GRUCell(3, 4), GRUCell(3, 4))
    with pytest.raises(ValueError, match=message):
        layer(torch.zeros(5, 4, 3), lengths=torch.tensor(lengths))
