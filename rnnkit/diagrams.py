"""Computation graphs of recurrent networks, drawn by code so the book's figures stay in sync.

``draw_unrolled_rnn`` (chapter 1), ``draw_bptt_graph`` (chapter 2: the same graph with
its losses and the gradients flowing back), ``draw_bidirectional_rnn`` (chapter 7) and
``draw_encoder_decoder`` (chapter 8, with or without attention). The gated cells
themselves are in ``rnnkit.cell_diagrams``.

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
    Returns the Axes. Nodes are labelled x_t, h_t and ℓ_t (x, h and ℓ in the folded
    graph), as Matplotlib maths text; arrows are labelled U, W and V.
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


LOSS_ROW = 4.2  # the per-step losses sit above the logits in the BPTT graph
BACKWARD = "C3"  # gradients are drawn dashed in one colour, apart from the forward pass


def draw_bptt_graph(T: int, ax: Axes | None = None) -> Axes:
    """Draw the unrolled RNN with its losses and the backward pass of BPTT.

    T: number of time steps drawn (>= 1)
    ax: Axes to draw on; a new figure is made when None
    Solid arrows are the forward pass (U, W, V and the loss); dashed arrows carry the
    gradients back: L_t -> ℓ_t -> h_t at every step, and h_t -> h_{t-1} along the chain,
    so dL/dh_t collects what comes down from step t's loss and back from step t+1.
    Returns the Axes.
    """
    if not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be an int >= 1, got {T!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * (T + 1), 4.4))
    ax = draw_unrolled_rnn(T, ax, folded=False)
    colour = _role_colours()
    for t in range(1, T + 1):
        _node(ax, t, LOSS_ROW, f"$L_{{{t}}}$", colour["x"], dashed=True)
        _edge(ax, (t, ROW["o"]), (t, LOSS_ROW), "")
        for low, high in ((ROW["o"], LOSS_ROW), (ROW["h"], ROW["o"])):
            _gradient(ax, (t - 0.22, high - RADIUS), (t - 0.22, low + RADIUS), rad=0.0)
        _gradient(
            ax,
            (t - RADIUS * 0.7, ROW["h"] - RADIUS * 0.7),
            (t - 1 + RADIUS * 0.7, ROW["h"] - RADIUS * 0.7),
            rad=-0.5,
        )
    ax.text(
        T + 0.55,
        LOSS_ROW,
        "$L = \\sum_t L_t$",
        ha="left",
        va="center",
        fontsize=11,
    )
    ax.set_xlim(-0.5, T + 1.6)
    ax.set_ylim(ROW["x"] - 0.8, LOSS_ROW + 0.5)
    return ax


def draw_bidirectional_rnn(T: int, ax: Axes | None = None) -> Axes:
    """Draw a bidirectional RNN unrolled over T steps: two chains with their own weights.

    T: number of time steps drawn (>= 1)
    ax: Axes to draw on; a new figure is made when None
    The forward chain (its own U, W, V) runs left to right from h→_0; the backward
    chain (another U, W, V) runs right to left from h←_{T+1}; the output at step t reads both
    states. Only the two W are labelled: every upward arrow from x_t or to ℓ_t carries
    the U or V of the chain it leaves or enters. Returns the Axes.
    """
    if not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be an int >= 1, got {T!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(1.4 * (T + 2), 4.6))
    colour = _role_colours()
    fwd, bwd, out = 1.4, 3.1, 4.6
    shift = 0.42  # the two chains sit apart so the arrows from x_t and to ℓ_t miss the other
    _node(ax, -shift, fwd, r"$\overrightarrow{h}_{0}$", colour["h"], dashed=True)
    _node(ax, T + 1 + shift, bwd, rf"$\overleftarrow{{h}}_{{{T + 1}}}$", colour["h"], dashed=True)
    for t in range(1, T + 1):
        f, b = (t - shift, fwd), (t + shift, bwd)
        _node(ax, t, ROW["x"], f"$x_{{{t}}}$", colour["x"])
        _node(ax, *f, rf"$\overrightarrow{{h}}_{{{t}}}$", colour["h"])
        _node(ax, *b, rf"$\overleftarrow{{h}}_{{{t}}}$", colour["h"])
        _node(ax, t, out, f"$\\ell_{{{t}}}$", colour["o"])
        first = t == 1
        _edge(ax, (t - 1 - shift, fwd), f, r"$\overrightarrow{W}$" if first else "")
        _edge(ax, (t + 1 + shift, bwd), b, r"$\overleftarrow{W}$" if first else "")
        _edge(ax, (t, ROW["x"]), f, "")
        _edge(ax, (t, ROW["x"]), b, "")
        _edge(ax, f, (t, out), "")
        _edge(ax, b, (t, out), "")
    ax.set_xlim(-1.0, T + 2.0)
    ax.set_ylim(ROW["x"] - 0.5, out + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def draw_encoder_decoder(
    S: int, T: int, ax: Axes | None = None, attention: list[float] | None = None, step: int = 1
) -> Axes:
    """Draw an encoder–decoder: S source steps read, T target steps written.

    S, T: source and target lengths (>= 1); the decoder reads y_0 = <bos>, then its
        previous output
    ax: Axes to draw on; a new figure is made when None
    attention: None for the fixed-context model (the last encoder state starts the
        decoder and is all it sees of the source); or S weights alpha_{step, j} >= 0
        summing to 1, drawn as lines into the context c_step with widths proportional
        to the weights
    step: the decoder step in 1..T whose attention is drawn
    Returns the Axes.
    """
    for name, n in (("S", S), ("T", T)):
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"{name} must be an int >= 1, got {n!r}")
    if not 1 <= step <= T:
        raise ValueError(f"step must be in 1..{T}, got {step}")
    if attention is not None:
        if len(attention) != S or min(attention) < 0 or abs(sum(attention) - 1) > 1e-6:
            raise ValueError(f"attention must be {S} weights >= 0 that sum to 1")
    if ax is None:
        _, ax = plt.subplots(figsize=(1.3 * (S + T + 2), 4.8))
    colour = _role_colours()
    gap = S + 1.2  # first decoder column
    for j in range(1, S + 1):
        _node(ax, j, ROW["x"], f"$x_{{{j}}}$", colour["x"])
        _node(ax, j, ROW["h"], f"$h_{{{j}}}$", colour["h"])
        _edge(ax, (j, ROW["x"]), (j, ROW["h"]), "")
        if j > 1:
            _edge(ax, (j - 1, ROW["h"]), (j, ROW["h"]), "")
    for t in range(1, T + 1):
        cx = gap + t
        previous = f"$y_{{{t - 1}}}$"  # y_0 is <bos>
        _node(ax, cx, ROW["x"], previous, colour["x"])
        _node(ax, cx, ROW["h"], f"$s_{{{t}}}$", colour["h"])
        _node(ax, cx, ROW["o"], f"$\\ell_{{{t}}}$", colour["o"])
        _edge(ax, (cx, ROW["x"]), (cx, ROW["h"]), "")
        _edge(ax, (cx, ROW["h"]), (cx, ROW["o"]), "")
        _edge(ax, (cx - 1 if t > 1 else S, ROW["h"]), (cx, ROW["h"]), "")
    context = (gap + step - 0.55, LOSS_ROW - 0.2)
    if attention is None:
        ax.text(S + 0.6, ROW["h"] + 0.45, "fixed context $h_S$", ha="center", fontsize=10)
    else:
        _node(ax, *context, f"$c_{{{step}}}$", "white")
        for j, weight in enumerate(attention, start=1):
            ax.plot(
                [j, context[0]],
                [ROW["h"] + RADIUS, context[1] - RADIUS],
                color=BACKWARD,
                lw=0.5 + 6 * weight,
                alpha=0.8,
                zorder=1,
            )
            ax.text(
                j, ROW["h"] + RADIUS + 0.12, f"{weight:.2f}", ha="center", va="bottom", fontsize=8
            )
        _edge(ax, context, (gap + step, ROW["h"]), "")
    ax.text((S + 1) / 2, -0.75, "encoder", ha="center", fontsize=11)
    ax.text(gap + (T + 1) / 2, -0.75, "decoder", ha="center", fontsize=11)
    ax.set_xlim(0.4, gap + T + 0.6)
    ax.set_ylim(-1.1, LOSS_ROW + 0.4)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def _gradient(ax: Axes, start: tuple[float, float], end: tuple[float, float], rad: float) -> None:
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=10,
            linestyle="--",
            linewidth=1.2,
            color=BACKWARD,
            connectionstyle=f"arc3,rad={rad}",
            zorder=1,
        )
    )
