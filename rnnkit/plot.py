"""The course's figures: learning curves, gates over time, gradient norms, heatmaps.

Every helper draws into the ``ax`` it is given (or a new figure when None), labels its
axes and returns the Axes, so a chapter can add a title that states the finding. Inputs
may be NumPy arrays, lists or torch tensors (on any device). Nothing here picks a
backend, so the module works headless under Agg as well as inline in a notebook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from rnnkit.train import History

#: Okabe & Ito's palette, told apart under the common colour-vision deficiencies.
#: Yellow comes last: it is hard to see on white.
OKABE_ITO = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#CC79A7",  # reddish purple
    "#000000",  # black
    "#F0E442",  # yellow
)


def use_course_style() -> None:
    """Set matplotlib's defaults for the course: the Okabe-Ito colours, viridis for
    images (perceptually uniform and colour-blind safe), readable fonts and a light grid.
    In a notebook, figures are also shown as 2x ("retina") PNGs at their 1x size, so they
    stay crisp on the website and on high-density screens.
    """
    mpl.rcParams.update(
        {
            "axes.prop_cycle": mpl.cycler(color=OKABE_ITO),
            "image.cmap": "viridis",
            "figure.figsize": (6.4, 4.0),
            "figure.dpi": 100,
            "font.size": 11,
            "axes.titlesize": 12,
            "axes.labelsize": 11,
            "legend.fontsize": 10,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "lines.linewidth": 1.8,
        }
    )
    _show_inline_figures_at_2x()


def _show_inline_figures_at_2x() -> None:
    """Make the notebook's inline backend render figures at twice their dpi, with the 1x
    size as the image's width and height (IPython's "retina" format); no-op outside
    IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    if get_ipython() is None:
        return
    from matplotlib_inline.backend_inline import InlineBackend, set_matplotlib_formats

    # Kept in the backend's config too, so the format survives the backend being set up again.
    InlineBackend.instance().figure_formats = {"retina"}
    set_matplotlib_formats("retina")


def _array(values: Any) -> np.ndarray:
    """A float NumPy array from a list, an array or a torch tensor."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=float)


def _new_axes(ax: Axes | None) -> Axes:
    return plt.subplots()[1] if ax is None else ax


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    return np.convolve(values, np.ones(window) / window, mode="valid")


def learning_curves(
    histories: Mapping[str, History | Sequence[float]],
    ax: Axes | None = None,
    smooth: int = 1,
    ylabel: str = "training loss",
    log: bool = False,
) -> Axes:
    """One loss curve per run, against the training step.

    histories: label -> a :class:`~rnnkit.train.History` (its ``loss`` is drawn) or a
        sequence of N values.
    ax: where to draw (None: a new figure).
    smooth: window of a moving average; above 1 the raw curve stays faint behind it.
    ylabel: the y-axis label;  log: logarithmic y-axis.
    Returns the Axes.
    """
    if not histories:
        raise ValueError("histories must hold at least one curve, got an empty mapping")
    if smooth < 1:
        raise ValueError(f"smooth must be a window of at least 1 step, got {smooth}")
    ax = _new_axes(ax)
    for label, run in histories.items():
        values = _array(getattr(run, "loss", run))
        steps = np.arange(1, len(values) + 1)
        if smooth == 1 or len(values) < smooth:
            ax.plot(steps, values, label=label)
            continue
        (raw,) = ax.plot(steps, values, alpha=0.25, linewidth=1)
        # A window average belongs to the last step it covers.
        ax.plot(
            steps[smooth - 1 :], _moving_average(values, smooth), color=raw.get_color(), label=label
        )
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.legend()
    return ax


def gate_activations(
    gates: Mapping[str, Any],
    axes: Sequence[Axes] | None = None,
    units: Sequence[int] | None = None,
) -> list[Axes]:
    """Each gate's activation over time, one panel per gate, one line per hidden unit.

    gates: gate name -> (T, H) activations of one sequence (e.g. {"i": ..., "f": ...}).
    axes: one Axes per gate (None: a new figure with a column of panels sharing time).
    units: which hidden units to draw (default: all of them, up to the first 8).
    Returns the list of Axes, in the order of ``gates``.
    """
    if not gates:
        raise ValueError("gates must hold at least one (T, H) array, got an empty mapping")
    arrays = {name: _array(a) for name, a in gates.items()}
    for name, a in arrays.items():
        if a.ndim != 2:
            raise ValueError(f"gate {name!r} must be a (T, H) array, got shape {a.shape}")
    if axes is None:
        fig, grid = plt.subplots(
            len(arrays), 1, sharex=True, squeeze=False, figsize=(6.4, 1.6 + 1.4 * len(arrays))
        )
        axes = list(grid[:, 0])
    if len(axes) != len(arrays):
        raise ValueError(f"need one Axes per gate ({len(arrays)}), got {len(axes)}")
    for ax, (name, a) in zip(axes, arrays.items(), strict=True):
        chosen = range(min(a.shape[1], 8)) if units is None else units
        for j in chosen:
            ax.plot(np.arange(a.shape[0]), a[:, j], label=f"unit {j}")
        ax.set_ylabel(f"{name} gate")
    axes[-1].set_xlabel("time step t")
    axes[0].legend(loc="upper right", ncol=4, fontsize="small")
    return list(axes)


def gradient_norms(
    norms: Any | Mapping[str, Any],
    ax: Axes | None = None,
    xlabel: str = "time steps back from the loss",
    ylabel: str = "gradient norm",
) -> Axes:
    """Gradient norm against time step (or distance), on a logarithmic y-axis, where
    vanishing and exploding gradients show up as straight lines.

    norms: (T,) values, entry k drawn at x = k, or label -> (T,) for several curves.
    ax: where to draw (None: a new figure).  xlabel, ylabel: axis labels.
    Returns the Axes.
    """
    curves = norms if isinstance(norms, Mapping) else {None: norms}
    ax = _new_axes(ax)
    for label, values in curves.items():
        values = _array(values)
        if values.ndim != 1:
            raise ValueError(f"gradient norms must be a (T,) array, got shape {values.shape}")
        ax.plot(np.arange(len(values)), values, marker=".", label=label)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if isinstance(norms, Mapping):
        ax.legend()
    return ax


def heatmap(
    matrix: Any,
    x_labels: Sequence[str] | None = None,
    y_labels: Sequence[str] | None = None,
    title: str | None = None,
    ax: Axes | None = None,
    xlabel: str = "input step",
    ylabel: str = "output step",
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar: bool = True,
) -> Axes:
    """A matrix as an image: attention weights (output step x input step) or a memory
    (slot x time, or slot x word).

    matrix: (R, C) values; row r is drawn at y = r from the top, column c at x = c.
    x_labels: C tick labels (e.g. source tokens); y_labels: R tick labels.
    title: the title, ideally the finding.  ax: where to draw (None: a new figure).
    xlabel, ylabel: axis labels (the defaults suit attention).
    vmin, vmax: colour limits (default: the data's range; attention suits 0 and 1).
    colorbar: whether to add a colour bar.
    Returns the Axes.
    """
    values = _array(matrix)
    if values.ndim != 2:
        raise ValueError(f"matrix must be 2-D (R, C), got shape {values.shape}")
    for labels, size, name in ((x_labels, values.shape[1], "x"), (y_labels, values.shape[0], "y")):
        if labels is not None and len(labels) != size:
            raise ValueError(f"{name}_labels needs {size} labels for the matrix, got {len(labels)}")
    ax = _new_axes(ax)
    image = ax.imshow(values, aspect="auto", interpolation="nearest", vmin=vmin, vmax=vmax)
    ax.grid(False)
    if x_labels is not None:
        ax.set_xticks(range(len(x_labels)), labels=list(x_labels), rotation=90)
    if y_labels is not None:
        ax.set_yticks(range(len(y_labels)), labels=list(y_labels))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(image, ax=ax)
    return ax
