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
