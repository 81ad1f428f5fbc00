"""Gated cells drawn by code: the LSTM, the coupled-gate LSTM and the GRU, wire by wire.

Each drawing follows the cell's equations in the course notation (PyTorch's gate order):

- LSTM: ``c_t = f ⊙ c_{t-1} + i ⊙ g``, ``h_t = o ⊙ tanh(c_t)`` (chapter 4);
- coupled-gate LSTM: the same with ``f = 1 − i`` (chapter 5);
- GRU: ``h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}``, ``n = tanh(U_n x + b_in + r ⊙ (W_n h + b_hn))``
  (chapter 6), or, with ``convention="cho"``, ``h_t = z ⊙ n + (1 − z) ⊙ h_{t-1}``.

Rectangles are layers with weights (σ or tanh of an affine map of their inputs); circles
are element-wise operations without weights. The memory line (``c`` for the LSTMs, ``h``
for the GRU) runs along the top; ``[h_{t-1}, x_t]`` runs along the bottom to the gates.
"""

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

TOP, BUS, GATE, MID = 5.0, 1.0, 2.5, 3.8  # heights of the memory line, bus, gates, ops
OP_RADIUS = 0.24
GATE_W, GATE_H = 0.9, 0.6
CONVENTIONS = ("pytorch", "cho")


def draw_lstm_cell(ax: Axes | None = None) -> Axes:
    """Draw one LSTM step: forget, input and output gates, the candidate g, the cell line.

    ax: Axes to draw on; a new figure is made when None. Returns the Axes.
    """
    ax = _canvas(ax)
    colour = _colours()
    _memory_line(ax, "c")
    _bus(ax, (2.5, 4.1, 5.9, 7.3))
    _gate(ax, 2.5, "σ", "$f_t$", colour["gate"])
    _gate(ax, 4.1, "σ", "$i_t$", colour["gate"])
    _gate(ax, 5.9, "tanh", "$g_t$", colour["candidate"])
    _gate(ax, 7.3, "σ", "$o_t$", colour["gate"])
    _op(ax, 2.5, TOP, "×")
    _wire(ax, [(2.5, GATE + GATE_H / 2), (2.5, TOP - OP_RADIUS)])
    _into_product(ax, left=4.1, right=5.9, x=5.0)
    _op(ax, 5.0, TOP, "+")
    _wire(ax, [(5.0, MID + OP_RADIUS), (5.0, TOP - OP_RADIUS)])
    _output_head(ax, gate_x=7.3)
    return ax


def draw_coupled_lstm_cell(ax: Axes | None = None) -> Axes:
    """Draw one coupled-gate (CIFG) LSTM step: the forget gate is replaced by ``1 − i``.

    ax: Axes to draw on; a new figure is made when None. Returns the Axes.
    """
    ax = _canvas(ax)
    colour = _colours()
    _memory_line(ax, "c")
    _bus(ax, (4.1, 5.9, 7.3))
    _gate(ax, 4.1, "σ", "$i_t$", colour["gate"])
    _gate(ax, 5.9, "tanh", "$g_t$", colour["candidate"])
    _gate(ax, 7.3, "σ", "$o_t$", colour["gate"])
    # i feeds both products: directly the write (i ⊙ g), through 1 − i the keep.
    _op(ax, 2.5, MID, "1−", label="$1 - i_t$")
    _wire(ax, [(4.1, MID), (2.5 + OP_RADIUS, MID)])
    _op(ax, 2.5, TOP, "×")
    _wire(ax, [(2.5, MID + OP_RADIUS), (2.5, TOP - OP_RADIUS)])
    _into_product(ax, left=4.1, right=5.9, x=5.0)
    _op(ax, 5.0, TOP, "+")
    _wire(ax, [(5.0, MID + OP_RADIUS), (5.0, TOP - OP_RADIUS)])
    _output_head(ax, gate_x=7.3)
    return ax


def draw_gru_cell(ax: Axes | None = None, convention: str = "pytorch") -> Axes:
    """Draw one GRU step with its reset gate r, update gate z and candidate n.

    ax: Axes to draw on; a new figure is made when None
    convention: "pytorch" (z keeps the old state: h_t = (1 − z) n + z h_{t-1}, the
        course's) or "cho" (z takes the candidate: h_t = z n + (1 − z) h_{t-1})
    Returns the Axes.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    ax = _canvas(ax)
    colour = _colours()
    _memory_line(ax, "h")
    # [h_{t-1}, x_t] feeds r and z; n sees x_t directly and h_{t-1} only through r.
    _wire(ax, [(0.8, TOP), (0.8, BUS), (3.9, BUS)], arrow=False)
    _wire(ax, [(1.4, -0.6), (1.4, BUS)], arrow=False)
    ax.text(1.4, -0.75, "$x_t$", ha="center", va="top", fontsize=12)
    _wire(ax, [(1.4, 0.4), (5.4, 0.4), (5.4, GATE - GATE_H / 2)])
    for x in (2.2, 3.9):
        _wire(ax, [(x, BUS), (x, GATE - GATE_H / 2)])
    _gate(ax, 2.2, "σ", "$r_t$", colour["gate"])
    _gate(ax, 3.9, "σ", "$z_t$", colour["gate"])
    _gate(ax, 5.4, "tanh", "$n_t$", colour["candidate"])
    # r ⊙ (W_n h_{t-1} + b_hn): the reset acts on the recurrent part of n only.
    _op(ax, 3.0, MID, "×")
    _wire(ax, [(2.2, GATE + GATE_H / 2), (2.2, MID), (3.0 - OP_RADIUS, MID)])
    _wire(ax, [(3.0, TOP), (3.0, MID + OP_RADIUS)])
    _wire(ax, [(3.0 + OP_RADIUS, MID), (5.4, MID), (5.4, GATE + GATE_H / 2)])
    # the mix: one product on the memory line (old state), one below it (candidate)
    keep_x, write_x = 6.4, 8.0
    _op(ax, keep_x, TOP, "×")
    _op(ax, write_x, MID, "×")
    _op(ax, write_x, TOP, "+")
    _wire(ax, [(keep_x + OP_RADIUS, TOP), (write_x - OP_RADIUS, TOP)], arrow=False)
    _wire(ax, [(5.4 + GATE_W / 2, GATE), (write_x, GATE), (write_x, MID - OP_RADIUS)])
    _wire(ax, [(write_x, MID + OP_RADIUS), (write_x, TOP - OP_RADIUS)])
    z_y = 3.1
    _wire(ax, [(3.9, GATE + GATE_H / 2), (3.9, z_y), (7.0, z_y)], arrow=False)
    one_minus = {"pytorch": "write", "cho": "keep"}[convention]
    if one_minus == "write":
        _op(ax, 7.0, z_y, "1−", label="$1 - z_t$")
        _wire(ax, [(6.4, z_y), (keep_x, TOP - OP_RADIUS)])
        _wire(ax, [(7.0 + OP_RADIUS, z_y), (7.5, z_y), (7.5, MID), (write_x - OP_RADIUS, MID)])
    else:
        _op(ax, 6.4, MID + 0.2, "1−", label="$1 - z_t$", label_side="left")
        _wire(ax, [(6.4, z_y), (6.4, MID + 0.2 - OP_RADIUS)])
        _wire(ax, [(6.4, MID + 0.2 + OP_RADIUS), (keep_x, TOP - OP_RADIUS)])
        _wire(ax, [(6.4, z_y), (7.5, z_y), (7.5, MID), (write_x - OP_RADIUS, MID)])
    _wire(ax, [(write_x + OP_RADIUS, TOP), (10.0, TOP)])
    ax.text(10.1, TOP, "$h_t$", ha="left", va="center", fontsize=12)
    return ax


def _canvas(ax: Axes | None) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 5.0))
    ax.add_patch(
        FancyBboxPatch(
            (0.4, 0.0),
            9.2,
            5.6,
            boxstyle="round,pad=0.1",
            facecolor="0.97",
            edgecolor="0.6",
            zorder=0,
        )
    )
    ax.set_xlim(-0.9, 10.9)
    ax.set_ylim(-1.3, 6.2)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def _memory_line(ax: Axes, letter: str) -> None:
    """The top line: the previous memory enters on the left, the new one leaves right."""
    ax.text(-0.1, TOP, f"${letter}_{{t-1}}$", ha="right", va="center", fontsize=12)
    if letter == "c":
        _wire(ax, [(0.0, TOP), (2.5 - OP_RADIUS, TOP)])
        _wire(ax, [(2.5 + OP_RADIUS, TOP), (5.0 - OP_RADIUS, TOP)])
        _wire(ax, [(5.0 + OP_RADIUS, TOP), (10.0, TOP)])
        ax.text(10.1, TOP, "$c_t$", ha="left", va="center", fontsize=12)
    else:
        _wire(ax, [(0.0, TOP), (6.4 - OP_RADIUS, TOP)])


def _bus(ax: Axes, taps: tuple[float, ...]) -> None:
    """[h_{t-1}, x_t] along the bottom, tapped by a gate at each x in taps."""
    ax.text(-0.1, BUS, "$h_{t-1}$", ha="right", va="center", fontsize=12)
    _wire(ax, [(0.0, BUS), (max(taps), BUS)], arrow=False)
    _wire(ax, [(1.2, -0.6), (1.2, BUS)], arrow=False)
    ax.text(1.2, -0.75, "$x_t$", ha="center", va="top", fontsize=12)
    for x in taps:
        _wire(ax, [(x, BUS), (x, GATE - GATE_H / 2)])


def _into_product(ax: Axes, left: float, right: float, x: float) -> None:
    """Two gates below meet in one product at (x, MID): here i ⊙ g."""
    _op(ax, x, MID, "×")
    _wire(ax, [(left, GATE + GATE_H / 2), (left, MID), (x - OP_RADIUS, MID)])
    _wire(ax, [(right, GATE + GATE_H / 2), (right, MID), (x + OP_RADIUS, MID)])


def _output_head(ax: Axes, gate_x: float) -> None:
    """h_t = o ⊙ tanh(c_t): branch the new cell down, squash, gate, leave right and up."""
    tx, px = 8.5, 8.5
    _op(ax, tx, MID + 0.1, "tanh", radius=0.34)
    _wire(ax, [(tx, TOP), (tx, MID + 0.1 + 0.34)])
    _op(ax, px, GATE, "×")
    _wire(ax, [(tx, MID + 0.1 - 0.34), (px, GATE + OP_RADIUS)])
    _wire(ax, [(gate_x + GATE_W / 2, GATE), (px - OP_RADIUS, GATE)])
    _wire(ax, [(px, GATE - OP_RADIUS), (px, BUS), (10.0, BUS)])
    ax.text(10.1, BUS, "$h_t$", ha="left", va="center", fontsize=12)


def _gate(ax: Axes, x: float, activation: str, name: str, colour: str) -> None:
    ax.add_patch(
        FancyBboxPatch(
            (x - GATE_W / 2, GATE - GATE_H / 2),
            GATE_W,
            GATE_H,
            boxstyle="round,pad=0.02",
            facecolor=colour,
            alpha=0.45,
            edgecolor="0.2",
            zorder=2,
        )
    )
    ax.text(x, GATE, activation, ha="center", va="center", fontsize=11, zorder=3)
    ax.text(x - GATE_W / 2 - 0.06, GATE, name, ha="right", va="center", fontsize=11)


def _op(
    ax: Axes,
    x: float,
    y: float,
    symbol: str,
    label: str | None = None,
    radius: float = OP_RADIUS,
    label_side: str = "below",
) -> None:
    ax.add_patch(Circle((x, y), radius, facecolor="white", edgecolor="0.2", zorder=2))
    size = 12 if len(symbol) == 1 else 9
    ax.text(x, y, symbol, ha="center", va="center", fontsize=size, zorder=3)
    if label is None:
        return
    if label_side == "below":
        ax.text(x, y - radius - 0.08, label, ha="center", va="top", fontsize=10)
    else:
        ax.text(x - radius - 0.1, y, label, ha="right", va="center", fontsize=10)


def _wire(ax: Axes, points: list[tuple[float, float]], arrow: bool = True) -> None:
    xs, ys = zip(*points, strict=True)
    ax.plot(xs[:-1] if arrow else xs, ys[:-1] if arrow else ys, color="0.2", lw=1.2, zorder=1)
    if arrow:
        ax.add_patch(
            FancyArrowPatch(
                points[-2], points[-1], arrowstyle="-|>", mutation_scale=11, color="0.2", lw=1.2
            )
        )


def _colours() -> dict[str, str]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0", "C1"])
    return {"gate": cycle[0], "candidate": cycle[1 % len(cycle)]}
