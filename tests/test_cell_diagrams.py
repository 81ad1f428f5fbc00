"""The gated-cell drawings show the gates and operations of the equations they claim to."""

import matplotlib.pyplot as plt
import pytest
from matplotlib.axes import Axes
from matplotlib.patches import Circle, FancyBboxPatch

from rnnkit.cell_diagrams import draw_coupled_lstm_cell, draw_gru_cell, draw_lstm_cell


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def texts(ax: Axes) -> list[str]:
    return [text.get_text() for text in ax.texts]


def gates(ax: Axes) -> int:
    # one rounded box frames the cell; every other one is a gate
    return sum(isinstance(patch, FancyBboxPatch) for patch in ax.patches) - 1


def ops(ax: Axes) -> list[str]:
    centres = {patch.center for patch in ax.patches if isinstance(patch, Circle)}
    return sorted(t.get_text() for t in ax.texts if t.get_position() in centres)


def test_lstm_has_four_gates_in_pytorch_order_and_the_cell_line():
    ax = draw_lstm_cell()
    drawn = texts(ax)
    assert gates(ax) == 4
    assert [t for t in drawn if t in {"$f_t$", "$i_t$", "$g_t$", "$o_t$"}] == [
        "$f_t$",
        "$i_t$",
        "$g_t$",
        "$o_t$",
    ]
    assert drawn.count("σ") == 3 and drawn.count("tanh") == 2  # g, and tanh(c_t)
    # f ⊙ c, i ⊙ g, o ⊙ tanh(c): three products; one sum
    assert ops(ax) == sorted(["×", "×", "×", "+", "tanh"])
    assert {"$c_{t-1}$", "$c_t$", "$h_{t-1}$", "$h_t$", "$x_t$"} <= set(drawn)


def test_coupled_cell_replaces_the_forget_gate_by_one_minus_i():
    ax = draw_coupled_lstm_cell()
    drawn = texts(ax)
    assert gates(ax) == 3
    assert "$f_t$" not in drawn and "$1 - i_t$" in drawn
    assert ops(ax) == sorted(["×", "×", "×", "+", "tanh", "1−"])


@pytest.mark.parametrize("convention", ["pytorch", "cho"])
def test_gru_has_reset_update_and_candidate_and_one_mix(convention):
    ax = draw_gru_cell(convention=convention)
    drawn = texts(ax)
    assert gates(ax) == 3
    assert {"$r_t$", "$z_t$", "$n_t$", "$1 - z_t$", "$h_{t-1}$", "$h_t$"} <= set(drawn)
    # r ⊙ (W h), the two halves of the mix, their sum and the 1 − z
    assert ops(ax) == sorted(["×", "×", "×", "+", "1−"])


def test_gru_conventions_put_one_minus_z_on_opposite_sides():
    def one_minus_x(ax: Axes) -> float:
        (patch,) = [
            p
            for p in ax.patches
            if isinstance(p, Circle)
            and any(t.get_text() == "1−" and t.get_position() == p.center for t in ax.texts)
        ]
        return patch.center[0]

    pytorch, cho = draw_gru_cell(convention="pytorch"), draw_gru_cell(convention="cho")
    # PyTorch: 1 − z weights the candidate (the write product, right); Cho: the old state
    assert one_minus_x(pytorch) > one_minus_x(cho)


def test_unknown_gru_convention_is_refused():
    with pytest.raises(ValueError, match="convention must be one of"):
        draw_gru_cell(convention="keras")
