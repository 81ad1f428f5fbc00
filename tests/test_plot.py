"""rnnkit.plot: each helper draws what it is given, labels its axes and returns them
(headless, on the Agg backend)."""

import base64
import struct

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from rnnkit.plot import (
    OKABE_ITO,
    gate_activations,
    gradient_norms,
    heatmap,
    learning_curves,
    use_course_style,
)
from rnnkit.train import History

# Headless, whatever the machine: switching is allowed while no figure is open.
matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_use_course_style_sets_the_colour_blind_safe_palette():
    with matplotlib.rc_context():
        use_course_style()
        colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
        assert [c.lower() for c in colours] == [c.lower() for c in OKABE_ITO]
        assert matplotlib.rcParams["axes.grid"]
        assert matplotlib.rcParams["image.cmap"] == "viridis"


def test_use_course_style_shows_notebook_figures_at_twice_their_resolution():
    from IPython.core.interactiveshell import InteractiveShell
    from matplotlib_inline.backend_inline import InlineBackend
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    try:
        with matplotlib.rc_context():
            use_course_style()
            fig, ax = plt.subplots(figsize=(4, 2))
            ax.plot([0, 1], [0, 1])
            data, metadata = shell.display_formatter.format(fig)
    finally:
        InteractiveShell.clear_instance()
        InlineBackend.clear_instance()
    png = base64.b64decode(data["image/png"])
    pixels = struct.unpack(">II", png[16:24])  # the PNG header's width and height
    shown = (metadata["image/png"]["width"], metadata["image/png"]["height"])
    # IPython halves the pixel size for the shown size, rounding down.
    assert [p // 2 for p in pixels] == list(shown) and shown[0] > 100


def test_use_course_style_outside_a_notebook_only_sets_the_defaults():
    from matplotlib_inline.backend_inline import InlineBackend

    with matplotlib.rc_context():
        use_course_style()
    assert "retina" not in InlineBackend.instance().figure_formats
    InlineBackend.clear_instance()


def test_learning_curves_draws_each_run_against_the_step():
    hist = History(loss=[3.0, 2.0, 1.0])
    ax = learning_curves({"adam": hist, "sgd": [4.0, 3.5]})
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["adam", "sgd"]
    assert list(lines[0].get_xdata()) == [1, 2, 3]
    assert list(lines[0].get_ydata()) == [3.0, 2.0, 1.0]
    assert ax.get_xlabel() == "training step" and ax.get_ylabel() == "training loss"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["adam", "sgd"]


def test_learning_curves_smooths_with_a_trailing_moving_average():
    fig, ax = plt.subplots()
    out = learning_curves({"run": [1.0, 2.0, 3.0, 4.0, 5.0]}, ax=ax, smooth=2, log=True)
    assert out is ax
    raw, smoothed = ax.get_lines()
    assert list(raw.get_ydata()) == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert list(smoothed.get_xdata()) == [2, 3, 4, 5]
    assert list(smoothed.get_ydata()) == pytest.approx([1.5, 2.5, 3.5, 4.5])
    assert smoothed.get_color() == raw.get_color()
    assert ax.get_yscale() == "log"


def test_learning_curves_rejects_no_runs_and_a_zero_window():
    with pytest.raises(ValueError, match="histories"):
        learning_curves({})
    with pytest.raises(ValueError, match="smooth"):
        learning_curves({"a": [1.0]}, smooth=0)


def test_gate_activations_draws_one_panel_per_gate_and_one_line_per_unit():
    t = np.linspace(0, 1, 6)
    gates = {"i": np.stack([t, 1 - t, t / 2], axis=1), "f": torch.full((6, 3), 0.9)}
    axes = gate_activations(gates)
    assert len(axes) == 2
    assert [ax.get_ylabel() for ax in axes] == ["i gate", "f gate"]
    assert axes[-1].get_xlabel() == "time step t"
    assert len(axes[0].get_lines()) == 3
    assert list(axes[0].get_lines()[1].get_ydata()) == pytest.approx(list(1 - t))
    assert list(axes[1].get_lines()[0].get_ydata()) == pytest.approx([0.9] * 6)


def test_gate_activations_draws_only_the_chosen_units_into_given_axes():
    fig, (a, b) = plt.subplots(2, 1)
    gates = {"z": np.zeros((4, 5)), "r": np.ones((4, 5))}
    axes = gate_activations(gates, axes=[a, b], units=[0, 4])
    assert axes == [a, b]
    assert [line.get_label() for line in b.get_lines()] == ["unit 0", "unit 4"]
    with pytest.raises(ValueError, match="one Axes per gate"):
        gate_activations(gates, axes=[a])
    with pytest.raises(ValueError, match=r"\(T, H\)"):
        gate_activations({"i": np.zeros(4)})


def test_gradient_norms_uses_a_log_scale_and_labels_its_axes():
    ax = gradient_norms(torch.tensor([1.0, 0.1, 0.01]))
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() and ax.get_ylabel() == "gradient norm"
    assert list(ax.get_lines()[0].get_xdata()) == [0, 1, 2]
    assert list(ax.get_lines()[0].get_ydata()) == pytest.approx([1.0, 0.1, 0.01])
    assert ax.get_legend() is None


def test_gradient_norms_draws_a_labelled_curve_per_entry():
    ax = gradient_norms({"RNN": [1.0, 0.5], "LSTM": [1.0, 0.9]}, xlabel="distance k")
    assert [line.get_label() for line in ax.get_lines()] == ["RNN", "LSTM"]
    assert ax.get_xlabel() == "distance k"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["RNN", "LSTM"]
    with pytest.raises(ValueError, match=r"\(T,\)"):
        gradient_norms(np.ones((2, 2)))


def test_heatmap_shows_the_matrix_with_its_labels_and_title():
    weights = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1]])
    ax = heatmap(
        weights,
        x_labels=["three", "hundred", "<eos>"],
        y_labels=["3", "0"],
        title="each digit attends to its word",
        vmin=0,
        vmax=1,
    )
    assert np.array_equal(ax.get_images()[0].get_array(), weights)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["three", "hundred", "<eos>"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["3", "0"]
    assert ax.get_title() == "each digit attends to its word"
    assert ax.get_xlabel() == "input step" and ax.get_ylabel() == "output step"
    assert ax.get_images()[0].get_clim() == (0, 1)
    assert len(ax.figure.axes) == 2, "the colour bar is a second Axes"


def test_heatmap_rejects_labels_that_do_not_fit_the_matrix():
    with pytest.raises(ValueError, match="x_labels needs 3 labels"):
        heatmap(np.zeros((2, 3)), x_labels=["a", "b"])
    with pytest.raises(ValueError, match="2-D"):
        heatmap(np.zeros(3))
