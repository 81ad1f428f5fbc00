"""Computation graphs of a simple RNN, drawn by code so the book's figures stay in sync.

One picture does most of the work in chapter 1: the recurrence
``h_t = f(h_{t-1}, x_t; theta)`` drawn once as a loop, then unrolled over T steps into a
chain whose every link uses the same U, W and V. Choosing which steps have an input
``x_t`` and which have an output (logits ``ℓ_t``) gives the input/output paradigms
(one-to-many, many-to-one, many-to-many).

Rows from bottom to top are inputs, hidden states and outputs; column t holds step t,
and column 0 the initial state ``h_0``. Node colours come from the active Matplotlib
colour cycle, so ``rnnkit.plot.use_course_style()`` sets them.
"""

from collections.abc import Iterable

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import Circle, FancyArrowPatch

RADIUS = 0.3  # node radius in data units; a column is 1 unit wide
ROW = {"x": 0.0, "h": 1.4, "o": 2.8}  # inputs, hidden states, outputs
FOLDED_GAP = 1.6  # room between the folded loop and h_0 for the "unfold" arrow


def draw_unrolled_rnn(
    T: int,
    ax: Axes | None = None,
    *,
    folded: bool = True,
    inputs: Iterable[int] | None = None,
    outputs: Iterable[int] | None = None,
) -> Axes:
    """Draw a simple RNN unrolled over T steps, optionally beside its folded loop.

    T: number of time steps drawn (>= 1)
    ax: Axes to draw on; a new figure is made when None
    folded: also draw the one-cell graph with its recurrent loop on the left
    inputs: steps in 1..T that receive an input x_t (default: all of them)
    outputs: steps in 1..T that emit output logits ℓ_t (default: all of them)
    Returns the Axes. Nodes are labelled "$x_{t}$", "$h_{t}$", "$\\ell_{t}$" (and "$x$",
    "$h$", "$\\ell$" in the folded graph); arrows are labelled U, W and V.
    """
    if not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be an int >= 1, got {T!r}")
    steps_in = _steps("inputs", inputs, T)
    steps_out = _steps("outputs", outputs, T)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.3 * (T + 1) + (2.6 if folded else 0), 3.2))
    colour = _role_colours()

    left = 0.0
    if folded:
        _draw_folded(ax, colour)
        left = FOLDED_GAP + 1.0
        _arrow(ax, (0.55, ROW["h"]), (left - 0.45, ROW["h"]), "unfold", width=2.0)

    _node(ax, left, ROW["h"], "$h_{0}$", colour["h"], dashed=True)
    for t in range(1, T + 1):
        cx = left + t
        _node(ax, cx, ROW["h"], f"$h_{{{t}}}$", colour["h"])
        _edge(ax, (cx - 1, ROW["h"]), (cx, ROW["h"]), "$W$")
        if t in steps_in:
            _node(ax, cx, ROW["x"], f"$x_{{{t}}}$", colour["x"])
            _edge(ax, (cx, ROW["x"]), (cx, ROW["h"]), "$U$")
        if t in steps_out:
            _node(ax, cx, ROW["o"], f"$\\ell_{{{t}}}$", colour["o"])
            _edge(ax, (cx, ROW["h"]), (cx, ROW["o"]), "$V$")

    ax.set_xlim(-1.3 if folded else left - 0.5, left + T + 0.5)
    ax.set_ylim(ROW["x"] - 0.5, ROW["o"] + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def _draw_folded(ax: Axes, colour: dict[str, str]) -> None:
    # The loop on h is the whole idea: its output comes back as its next input.
    for role, letter in (("x", "x"), ("h", "h"), ("o", r"\ell")):
        _node(ax, 0.0, ROW[role], f"${letter}$", colour[role])
    _edge(ax, (0.0, ROW["x"]), (0.0, ROW["h"]), "$U$")
    _edge(ax, (0.0, ROW["h"]), (0.0, ROW["o"]), "$V$")
    loop = FancyArrowPatch(
        (-RADIUS * 0.7, ROW["h"] + RADIUS * 0.7),
        (-RADIUS * 0.7, ROW["h"] - RADIUS * 0.7),
        connectionstyle="arc3,rad=2.6",
        arrowstyle="-|>",
        mutation_scale=12,
        color="0.2",
    )
    ax.add_patch(loop)
    ax.text(-0.95, ROW["h"], "$W$", ha="right", va="center")


def _node(ax: Axes, cx: float, cy: float, label: str, colour: str, dashed: bool = False) -> None:
    ax.add_patch(
        Circle(
            (cx, cy),
            RADIUS,
            facecolor=colour,
            edgecolor="0.2",
            linestyle="--" if dashed else "-",
            alpha=0.9,
            zorder=2,
        )
    )
    ax.text(cx, cy, label, ha="center", va="center", fontsize=12, zorder=3)


def _edge(ax: Axes, start: tuple[float, float], end: tuple[float, float], label: str) -> None:
    # Shorten to the circles' rims so arrowheads stay visible.
    (x0, y0), (x1, y1) = start, end
    length = ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5
    dx, dy = (x1 - x0) / length * RADIUS, (y1 - y0) / length * RADIUS
    _arrow(ax, (x0 + dx, y0 + dy), (x1 - dx, y1 - dy), label)


def _arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    label: str,
    width: float = 1.0,
) -> None:
    ax.add_patch(
        FancyArrowPatch(
            start, end, arrowstyle="-|>", mutation_scale=12, linewidth=width, color="0.2"
        )
    )
    horizontal = abs(end[1] - start[1]) < 1e-9
    mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
    # Labels sit beside the arrow, never on it.
    offset = (0.0, 0.12) if horizontal else (0.1, 0.0)
    ax.text(
        mx + offset[0],
        my + offset[1],
        label,
        ha="center" if horizontal else "left",
        va="bottom" if horizontal else "center",
        fontsize=10,
    )


def _role_colours() -> dict[str, str]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0", "C1", "C2"])
    return {"x": cycle[0], "h": cycle[1 % len(cycle)], "o": cycle[2 % len(cycle)]}


def _steps(name: str, steps: Iterable[int] | None, T: int) -> set[int]:
    if steps is None:
        return set(range(1, T + 1))
    chosen = set(steps)
    if not chosen <= set(range(1, T + 1)):
        raise ValueError(f"{name} must be steps in 1..{T}, got {sorted(chosen)}")
    return chosen
