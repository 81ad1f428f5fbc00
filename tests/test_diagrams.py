"""The unrolled-RNN drawing has the nodes and edges of the graph it claims to show."""

import matplotlib.pyplot as plt
import pytest
from matplotlib.axes import Axes
from matplotlib.patches import Circle, FancyArrowPatch

from rnnkit.diagrams import draw_unrolled_rnn


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def labels(ax: Axes) -> list[str]:
    return [text.get_text() for text in ax.texts]


def count(ax: Axes, kind: type) -> int:
    return sum(isinstance(patch, kind) for patch in ax.patches)


def test_unrolled_graph_has_one_node_per_variable_and_step():
    ax = draw_unrolled_rnn(3, folded=False)
    assert isinstance(ax, Axes)
    nodes = {label for label in labels(ax) if label.startswith("$") and "_" in label}
    expected = {f"${v}_{{{t}}}$" for v in ("x", "h", r"\ell") for t in (1, 2, 3)} | {"$h_{0}$"}
    assert nodes == expected
    assert count(ax, Circle) == len(expected)


def test_unrolled_graph_has_U_W_V_edge_at_every_step():
    ax = draw_unrolled_rnn(4, folded=False)
    # per step: x->h (U), h_{t-1}->h_t (W), h->o (V)
    assert count(ax, FancyArrowPatch) == 3 * 4
    assert sorted(lb for lb in labels(ax) if lb in {"$U$", "$W$", "$V$"}) == (
        ["$U$"] * 4 + ["$V$"] * 4 + ["$W$"] * 4
    )


def test_folded_graph_adds_loop_and_unfold_arrow():
    ax = draw_unrolled_rnn(2, folded=True)
    assert {"$x$", "$h$", r"$\ell$", "unfold"} <= set(labels(ax))
    # unrolled 3 * 2, folded U, V and the loop W, and the unfold arrow
    assert count(ax, FancyArrowPatch) == 3 * 2 + 3 + 1


def test_many_to_one_draws_only_the_last_output():
    ax = draw_unrolled_rnn(3, folded=False, outputs={3})
    drawn = set(labels(ax))
    assert r"$\ell_{3}$" in drawn and r"$\ell_{1}$" not in drawn and r"$\ell_{2}$" not in drawn
    assert {"$x_{1}$", "$x_{2}$", "$x_{3}$"} <= drawn


def test_draws_on_the_axes_it_is_given():
    _, ax = plt.subplots()
    assert draw_unrolled_rnn(2, ax) is ax


@pytest.mark.parametrize(
    "kwargs", [{"T": 0}, {"T": 2.5}, {"T": 3, "inputs": {0}}, {"T": 3, "outputs": {4}}]
)
def test_bad_input_raises_value_error(kwargs):
    with pytest.raises(ValueError):
        draw_unrolled_rnn(**kwargs)


def test_bptt_graph_adds_a_loss_per_step_and_gradients_back_along_the_chain():
    from rnnkit.diagrams import BACKWARD, draw_bptt_graph

    T = 3
    ax = draw_bptt_graph(T)
    assert {f"$L_{{{t}}}$" for t in range(1, T + 1)} <= set(labels(ax))
    dashed = [p for p in ax.patches if isinstance(p, FancyArrowPatch) and p.get_linestyle() == "--"]
    # per step: L_t -> l_t, l_t -> h_t, and h_t -> h_{t-1}
    assert len(dashed) == 3 * T
    assert all(p.get_edgecolor() == plt.matplotlib.colors.to_rgba(BACKWARD) for p in dashed)


def test_bidirectional_graph_has_two_chains_running_opposite_ways():
    from rnnkit.diagrams import draw_bidirectional_rnn

    T = 3
    ax = draw_bidirectional_rnn(T)
    drawn = set(labels(ax))
    assert {rf"$\overrightarrow{{h}}_{{{t}}}$" for t in range(T + 1)} <= drawn
    assert {rf"$\overleftarrow{{h}}_{{{t}}}$" for t in range(1, T + 2)} <= drawn
    # per step: two chain links, x to both states, both states to the output
    assert count(ax, FancyArrowPatch) == 6 * T


def test_encoder_decoder_draws_attention_weights_into_the_context():
    from rnnkit.diagrams import draw_encoder_decoder

    weights = [0.1, 0.6, 0.3]
    ax = draw_encoder_decoder(3, 2, attention=weights, step=2)
    drawn = labels(ax)
    assert "$c_{2}$" in drawn and ["0.10", "0.60", "0.30"] == [t for t in drawn if "." in t]
    widths = [line.get_linewidth() for line in ax.lines]
    # one line per source step, its width an increasing affine function of its weight
    slopes = {
        round((w - widths[0]) / (a - weights[0]), 9)
        for w, a in zip(widths[1:], weights[1:], strict=True)
    }
    assert len(widths) == 3 and len(slopes) == 1 and slopes.pop() > 0
    fixed = draw_encoder_decoder(3, 2)
    assert not any(t.startswith("$c_") for t in labels(fixed))


@pytest.mark.parametrize(
    "kwargs",
    [{"S": 0, "T": 2}, {"S": 2, "T": 2, "step": 3}, {"S": 2, "T": 1, "attention": [0.5, 0.6]}],
)
def test_encoder_decoder_refuses_bad_arguments(kwargs):
    from rnnkit.diagrams import draw_encoder_decoder

    with pytest.raises(ValueError):
        draw_encoder_decoder(**kwargs)
