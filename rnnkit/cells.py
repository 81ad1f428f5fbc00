"""Recurrent cells written from their equations.

One step of each cell, in the course notation (CONTRIBUTING.md): ``x_t`` is the input,
``h_{t-1}`` (and ``c_{t-1}``) the state, ``U`` = ``weight_ih``, ``W`` = ``weight_hh``,
``b`` = ``bias_ih + bias_hh``, ``σ`` the logistic sigmoid and ``⊙`` the elementwise
product. A subscript picks one gate's block of rows, e.g. ``U_i``.

Simple RNN::

    h_t = tanh(U x_t + W h_{t-1} + b)                       (or relu)

LSTM (gate blocks i, f, g, o)::

    i = σ(U_i x_t + W_i h_{t-1} + b_i)                      input gate
    f = σ(U_f x_t + W_f h_{t-1} + b_f)                      forget gate
    g = tanh(U_g x_t + W_g h_{t-1} + b_g)                   candidate cell
    o = σ(U_o x_t + W_o h_{t-1} + b_o)                      output gate
    c_t = f ⊙ c_{t-1} + i ⊙ g
    h_t = o ⊙ tanh(c_t)

Coupled-gate LSTM (CIFG, blocks i, g, o): as the LSTM with ``f = 1 − i``.

Peephole LSTM (Gers & Schmidhuber): as the LSTM, but the gates also look at the cell
through diagonal weights ``p_i, p_f, p_o`` (``weight_ci``, ``weight_cf``, ``weight_co``)::

    i = σ(U_i x_t + W_i h_{t-1} + p_i ⊙ c_{t-1} + b_i)
    f = σ(U_f x_t + W_f h_{t-1} + p_f ⊙ c_{t-1} + b_f)
    o = σ(U_o x_t + W_o h_{t-1} + p_o ⊙ c_t + b_o)        o sees the new cell c_t

GRU (blocks r, z, n; PyTorch's convention, z keeps the old state)::

    r = σ(U_r x_t + b_ir + W_r h_{t-1} + b_hr)              reset gate
    z = σ(U_z x_t + b_iz + W_z h_{t-1} + b_hz)              update gate
    n = tanh(U_n x_t + b_in + r ⊙ (W_n h_{t-1} + b_hn))     candidate state
    h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}

Every cell is an ``nn.Module`` called like its ``torch.nn`` counterpart:
``cell(x, state=None)`` with ``x`` of shape ``(B, I)`` (or one unbatched example
``(I,)``) returns ``h`` of shape ``(B, H)`` for the RNN and GRU, and the pair ``(h, c)``
for the LSTM variants. A missing state means zeros. Parameter names, shapes, gate
order and initialisation (uniform in ``±1/sqrt(H)``) are PyTorch's, so
``cell.load_state_dict(torch_cell.state_dict())`` copies a ``torch.nn`` cell 1:1.

The gated cells also have ``gates(x, state)``, which returns the gate activations of
that step as a dict (the LSTM chapter plots them over time; see
``rnnkit.layers.Recurrent.trace``).
"""

import functools
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LSTMState = tuple[Tensor, Tensor]


def _checked(step: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``step(self, x, state)`` so it gets a checked batch and a full state.

    The wrapper raises ValueError on bad input, replaces a missing state with zeros and
    lets one unbatched example ``x`` of shape ``(I,)`` (state ``(H,)``) through by
    adding a batch of one and removing it from every tensor of the result.
    """

    @functools.wraps(step)
    def wrapper(self: "_Cell", x: Tensor, state: Any = None) -> Any:
        unbatched = self._check_x(x)
        if unbatched:
            x = x.unsqueeze(0)
        state = self._checked_state(state, x, unbatched)
        out = step(self, x, state)
        return _drop_batch(out) if unbatched else out

    return wrapper


def _drop_batch(out: Any) -> Any:
    """Remove the batch of one from a tensor, a tuple of tensors or a dict of tensors."""
    if isinstance(out, Tensor):
        return out.squeeze(0)
    if isinstance(out, dict):
        return {name: t.squeeze(0) for name, t in out.items()}
    return tuple(t.squeeze(0) for t in out)


class _Cell(nn.Module):
    """Parameters, initialisation and input checks shared by every cell.

    A subclass sets ``_blocks`` (how many gate blocks of ``H`` rows ``U`` and ``W``
    stack) and ``_state_names`` (``("h",)`` or ``("h", "c")``).
    """

    _blocks: int = 1
    _state_names: tuple[str, ...] = ("h",)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for name, size in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(size, int) or size < 1:
                raise ValueError(
                    f"{type(self).__name__} expected a positive int {name}, got {size!r}"
                )
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        rows = self._blocks * hidden_size
        factory = {"device": device, "dtype": dtype}
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(rows, **factory))
            self.bias_hh = nn.Parameter(torch.empty(rows, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from U(−1/sqrt(H), 1/sqrt(H)), as torch.nn does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    def _affine(self, x: Tensor, h: Tensor) -> Tensor:
        """Pre-activations ``U x + W h + b`` of all gate blocks.

        x: (B, I); h: (B, H). Returns (B, blocks·H).
        """
        return F.linear(x, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh)

    def _check_x(self, x: Tensor) -> bool:
        """Raise ValueError unless x is a float (B, I) or (I,) tensor; return True if unbatched."""
        name, size = type(self).__name__, self.input_size
        if not isinstance(x, Tensor):
            raise ValueError(f"{name} expected x to be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise ValueError(f"{name} expected a floating-point x, got dtype {x.dtype}")
        if x.dim() not in (1, 2) or x.shape[-1] != size:
            raise ValueError(
                f"{name} expected x of shape (B, {size}) or ({size},), got {tuple(x.shape)}"
            )
        return x.dim() == 1

    def _checked_state(self, state: Any, x: Tensor, unbatched: bool) -> Any:
        """The state for batched x (B, I): zeros when None, else checked and batched."""
        name, n = type(self).__name__, len(self._state_names)
        shape = (x.shape[0], self.hidden_size)
        if state is None:
            zeros = [x.new_zeros(shape) for _ in range(n)]
            return zeros[0] if n == 1 else tuple(zeros)
        parts = [state] if n == 1 else state
        if (n == 1 and not isinstance(state, Tensor)) or (
            n > 1 and (not isinstance(state, tuple | list) or len(state) != n)
        ):
            wanted = "a tensor h" if n == 1 else "a pair (h, c) of tensors"
            raise ValueError(f"{name} expected state to be {wanted}, got {type(state).__name__}")
        want = (self.hidden_size,) if unbatched else shape
        for part_name, part in zip(self._state_names, parts, strict=True):
            if not isinstance(part, Tensor) or tuple(part.shape) != want:
                got = tuple(part.shape) if isinstance(part, Tensor) else type(part).__name__
                raise ValueError(f"{name} expected {part_name} of shape {want}, got {got}")
            if part.dtype != x.dtype:
                raise ValueError(
                    f"{name} expected {part_name} of dtype {x.dtype} (like x), got {part.dtype}"
                )
        if unbatched:
            parts = [part.unsqueeze(0) for part in parts]
        return parts[0] if n == 1 else tuple(parts)


class RNNCell(_Cell):
    """Simple (Elman) RNN cell: ``h_t = tanh(U x_t + W h_{t-1} + b)``.

    Args:
        input_size: I, features of x.
        hidden_size: H, units of h.
        nonlinearity: ``"tanh"`` (default) or ``"relu"``.
        bias: whether to learn ``bias_ih`` and ``bias_hh``.
        device, dtype: where and in which precision to create the parameters.

    Parameters (as ``torch.nn.RNNCell``): ``weight_ih`` U (H, I), ``weight_hh`` W (H, H),
    ``bias_ih`` and ``bias_hh`` (H,), whose sum is b.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        nonlinearity: str = "tanh",
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        activations = {"tanh": torch.tanh, "relu": torch.relu}
        if nonlinearity not in activations:
            raise ValueError(
                f"RNNCell expected nonlinearity 'tanh' or 'relu', got {nonlinearity!r}"
            )
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity
        self._activation = activations[nonlinearity]

    def extra_repr(self) -> str:
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"

    @_checked
    def forward(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        """One step. x: (B, I); state: h_{t-1} (B, H), zeros if None. Returns h_t (B, H)."""
        return self._activation(self._affine(x, state))


class LSTMCell(_Cell):
    """Long short-term memory cell (Hochreiter & Schmidhuber 1997, with a forget gate).

    Args:
        input_size: I, features of x.
        hidden_size: H, units of h and of the cell c.
        bias: whether to learn ``bias_ih`` and ``bias_hh``.
        device, dtype: where and in which precision to create the parameters.

    Parameters (as ``torch.nn.LSTMCell``): ``weight_ih`` U (4H, I), ``weight_hh``
    W (4H, H), ``bias_ih`` and ``bias_hh`` (4H,). Rows come in blocks of H in the gate
    order i, f, g, o: rows ``0:H`` belong to the input gate, ``H:2H`` to the forget
    gate, ``2H:3H`` to the candidate g and ``3H:4H`` to the output gate.
    """

    _blocks = 4
    _state_names = ("h", "c")

    @_checked
    def forward(self, x: Tensor, state: LSTMState | None = None) -> LSTMState:
        """One step. x: (B, I); state: (h_{t-1}, c_{t-1}), each (B, H), zeros if None.

        Returns (h_t, c_t), each (B, H).
        """
        _, c_prev = state
        i, f, g, o = self.gates(x, state).values()
        c = f * c_prev + i * g
        h = o * torch.tanh(c)
        return h, c

    @_checked
    def gates(self, x: Tensor, state: LSTMState | None = None) -> dict[str, Tensor]:
        """Gate activations of one step, for forward and for plots.

        x: (B, I); state: (h_{t-1}, c_{t-1}), each (B, H), zeros if None.
        Returns {"i", "f", "g", "o"} in this order, each (B, H).
        """
        h_prev, c_prev = state
        a_i, a_f, a_g, a_o = self._affine(x, h_prev).chunk(4, dim=1)
        i = torch.sigmoid(a_i)
        f = torch.sigmoid(a_f)
        g = torch.tanh(a_g)
        o = torch.sigmoid(a_o)
        return {"i": i, "f": f, "g": g, "o": o}


class CoupledLSTMCell(LSTMCell):
    """Coupled input-forget gate LSTM (CIFG, Greff et al. 2016): the forget gate is 1 − i.

    The cell forgets exactly as much as it writes, which saves one gate's parameters.

    Args:
        input_size: I, features of x.
        hidden_size: H, units of h and of the cell c.
        bias: whether to learn ``bias_ih`` and ``bias_hh``.
        device, dtype: where and in which precision to create the parameters.

    Parameters: ``weight_ih`` U (3H, I), ``weight_hh`` W (3H, H), ``bias_ih`` and
    ``bias_hh`` (3H,), in blocks of H rows in the order i, g, o (the LSTM's layout
    without the f block). ``forward`` is the LSTM's.
    """

    _blocks = 3

    @_checked
    def gates(self, x: Tensor, state: LSTMState | None = None) -> dict[str, Tensor]:
        """Gate activations of one step; f is not learnt but tied to the input gate.

        x: (B, I); state: (h_{t-1}, c_{t-1}), each (B, H), zeros if None.
        Returns {"i", "f", "g", "o"} in this order, each (B, H), with f = 1 − i.
        """
        h_prev, c_prev = state
        a_i, a_g, a_o = self._affine(x, h_prev).chunk(3, dim=1)
        i = torch.sigmoid(a_i)
        f = 1 - i
        g = torch.tanh(a_g)
        o = torch.sigmoid(a_o)
        return {"i": i, "f": f, "g": g, "o": o}


class PeepholeLSTMCell(LSTMCell):
    """LSTM with peephole connections (Gers & Schmidhuber 2000).

    The input and forget gates see the old cell c_{t-1}, the output gate the new cell
    c_t, each through one weight per unit, so the gates can time events by the cell's
    content.

    Args:
        input_size: I, features of x.
        hidden_size: H, units of h and of the cell c.
        bias: whether to learn ``bias_ih`` and ``bias_hh``.
        device, dtype: where and in which precision to create the parameters.

    Parameters: those of ``LSTMCell`` (blocks i, f, g, o), plus the peephole weights
    ``weight_ci``, ``weight_cf`` and ``weight_co``, each (H,), drawn from the same
    uniform as the rest. ``forward`` is the LSTM's.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype)
        factory = {"device": device, "dtype": dtype}
        self.weight_ci = nn.Parameter(torch.empty(hidden_size, **factory))
        self.weight_cf = nn.Parameter(torch.empty(hidden_size, **factory))
        self.weight_co = nn.Parameter(torch.empty(hidden_size, **factory))
        # Draw everything again so the peephole weights get the same initialisation.
        self.reset_parameters()

    @_checked
    def gates(self, x: Tensor, state: LSTMState | None = None) -> dict[str, Tensor]:
        """Gate activations of one step, with the peepholes on the cell.

        x: (B, I); state: (h_{t-1}, c_{t-1}), each (B, H), zeros if None.
        Returns {"i", "f", "g", "o"} in this order, each (B, H).
        """
        h_prev, c_prev = state
        a_i, a_f, a_g, a_o = self._affine(x, h_prev).chunk(4, dim=1)
        i = torch.sigmoid(a_i + self.weight_ci * c_prev)
        f = torch.sigmoid(a_f + self.weight_cf * c_prev)
        g = torch.tanh(a_g)
        # o peeks at the new cell, so c_t is needed before forward forms it.
        c = f * c_prev + i * g
        o = torch.sigmoid(a_o + self.weight_co * c)
        return {"i": i, "f": f, "g": g, "o": o}


class GRUCell(_Cell):
    """Gated recurrent unit (Cho et al. 2014) in PyTorch's convention.

    ``h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}``: z near 1 keeps the old state. Texts that write
    ``(1 − z) ⊙ h_{t-1} + z ⊙ n`` describe the same model with z replaced by 1 − z.

    Args:
        input_size: I, features of x.
        hidden_size: H, units of h.
        bias: whether to learn ``bias_ih`` and ``bias_hh``.
        device, dtype: where and in which precision to create the parameters.

    Parameters (as ``torch.nn.GRUCell``): ``weight_ih`` U (3H, I), ``weight_hh``
    W (3H, H), ``bias_ih`` and ``bias_hh`` (3H,), in blocks of H rows in the order
    r, z, n. The two biases are not interchangeable: ``b_hn`` sits inside the reset
    gate's product.
    """

    _blocks = 3

    @_checked
    def forward(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        """One step. x: (B, I); state: h_{t-1} (B, H), zeros if None. Returns h_t (B, H)."""
        h_prev = state
        r, z, n = self.gates(x, h_prev).values()
        return (1 - z) * n + z * h_prev

    @_checked
    def gates(self, x: Tensor, state: Tensor | None = None) -> dict[str, Tensor]:
        """Gate activations of one step, for forward and for plots.

        x: (B, I); state: h_{t-1} (B, H), zeros if None.
        Returns {"r", "z", "n"} in this order, each (B, H).
        """
        # U x and W h stay apart because the reset gate scales only W_n h + b_hn.
        ux_r, ux_z, ux_n = F.linear(x, self.weight_ih, self.bias_ih).chunk(3, dim=1)
        wh_r, wh_z, wh_n = F.linear(state, self.weight_hh, self.bias_hh).chunk(3, dim=1)
        r = torch.sigmoid(ux_r + wh_r)
        z = torch.sigmoid(ux_z + wh_z)
        n = torch.tanh(ux_n + r * wh_n)
        return {"r": r, "z": z, "n": n}
