"""Layers built from cells: unrolling in time, both directions, stacking.

A cell computes one step; a layer runs it over a sequence ``x`` of shape ``(T, B, I)``
(or ``(B, T, I)`` with ``batch_first=True``) and returns the outputs at every step,
``(T, B, H)``, with the state after the last step. The state is what the cell uses:
``h`` for RNN and GRU cells, ``(h, c)`` for the LSTM variants.

- ``Recurrent(cell)``: ``h_t = cell(x_t, h_{t-1})`` for t = 1..T.
- ``Bidirectional(fw_cell, bw_cell)``: one cell reads the sequence forwards, the other
  backwards, and the output at t is ``[h_t^fw, h_t^bw]`` of size 2H.
- ``Stacked(layers, dropout)``: a deep RNN; layer k + 1 reads layer k's outputs, with
  dropout between layers while training.
- ``Residual(layer)``: a skip connection around a layer, outputs ``layer(x) + x``, so a
  deep stack starts close to the identity and gradients reach the lower layers.

Padded batches: ``Recurrent`` and ``Bidirectional`` take ``lengths`` (B,), the real length
of each sequence. A sequence's state then stops changing after its last real step, its
outputs at padded steps are zero, and the backward direction starts at its real end
instead of reading the padding first, as ``torch.nn.utils.rnn.pack_padded_sequence``
arranges for torch.nn.

``Stacked.from_torch(torch.nn.LSTM(...))`` builds the same network from rnnkit cells with
the weights copied, so its outputs match torch.nn's.
"""

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit import fast as _fast
from rnnkit.cells import GRUCell, LSTMCell, RNNCell

# A cell's state (h or (h, c)), or a bidirectional layer's pair (fw_state, bw_state).
State = Any


def _hidden(state: State) -> Tensor:
    """The hidden output h of a cell's state, h or (h, c)."""
    return state[0] if isinstance(state, tuple) else state


def _where(keep: Tensor, new: State, old: State) -> State:
    """new where keep (B, 1) is True, old elsewhere, for a state h or (h, c)."""
    if isinstance(new, tuple):
        return tuple(torch.where(keep, n, o) for n, o in zip(new, old, strict=True))
    return torch.where(keep, new, old)


def _valid_steps(lengths: Tensor, T: int, B: int, device: torch.device) -> Tensor:
    """(T, B) bool, True where step t < lengths[b]; lengths: (B,) ints in [1, T]."""
    lengths = torch.as_tensor(lengths)
    if lengths.shape != (B,) or lengths.dtype == torch.bool or not _is_integer(lengths):
        raise ValueError(
            f"Recurrent expected lengths of shape ({B},) with integer values, got "
            f"{tuple(lengths.shape)} {lengths.dtype}"
        )
    if B and not 1 <= int(lengths.min()) <= int(lengths.max()) <= T:
        raise ValueError(
            f"Recurrent expected lengths in [1, T = {T}], got values from {int(lengths.min())} "
            f"to {int(lengths.max())}"
        )
    return torch.arange(T, device=device)[:, None] < lengths.to(device)[None, :]


def _is_integer(t: Tensor) -> bool:
    return not (t.is_floating_point() or t.is_complex())


def _reverse_within(x: Tensor, lengths: Tensor, time: int) -> Tensor:
    """x (T, B, ·) (time = 0) or (B, T, ·) (time = 1) with each sequence's first
    lengths[b] steps in reverse order and its padded steps left in place."""
    T = x.shape[time]
    steps = torch.arange(T, device=x.device)[:, None]
    ends = torch.as_tensor(lengths).to(x.device)[None, :]
    order = torch.where(steps < ends, ends - 1 - steps, steps)  # (T, B)
    order = order if time == 0 else order.T
    return x.gather(time, order[..., None].expand_as(x))


class Recurrent(nn.Module):
    """Unroll a cell over time.

    Args:
        cell: a cell such as ``rnnkit.LSTMCell``, called as ``cell(x_t, state)``.
        batch_first: take and return sequences as (B, T, ·) instead of (T, B, ·).
        fast: for exactly ``rnnkit.LSTMCell`` or ``rnnkit.GRUCell``, compute the whole
            sequence at once with ``rnnkit.fast`` (same numbers, faster) when its backward
            pass is installed; ``False`` always runs the cell step by step. The fast path
            has no masking: a call with ``lengths`` always runs the cell loop.
    """

    def __init__(self, cell: nn.Module, batch_first: bool = False, fast: bool = True) -> None:
        super().__init__()
        self.cell = cell
        self.batch_first = batch_first
        self.fast = fast

    def forward(
        self, x: Tensor, state: State = None, lengths: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """Run the cell over every step of x.

        x: (T, B, I), or (B, T, I) if batch_first; state: the cell's initial state
        (h (B, H) or (h, c)), zeros if None; lengths: (B,) ints in [1, T], the real
        length of each sequence of a padded batch, or None if all have T steps.
        Returns outputs (T, B, H) (or (B, T, H)), zero at padded steps, and the state
        after each sequence's last real step.
        """
        xs = self._time_major(x)
        if lengths is not None:
            return self._masked(xs, state, _valid_steps(lengths, *xs.shape[:2], xs.device))
        run = _fast.runner(self.cell) if self.fast else None
        if run is not None:
            outputs, state = run(self.cell, xs, state)
            return (outputs.transpose(0, 1).contiguous() if self.batch_first else outputs), state
        outputs = []
        for x_t in xs.unbind(0):
            state = self.cell(x_t, state)
            outputs.append(_hidden(state))
        return self._stack(outputs), state

    def _masked(self, xs: Tensor, state: State, valid: Tensor) -> tuple[Tensor, State]:
        """The cell loop over xs (T, B, I) where valid (T, B) is False at padded steps."""
        outputs = []
        for x_t, valid_t in zip(xs.unbind(0), valid[:, :, None], strict=True):
            new = self.cell(x_t, state)
            # Every sequence has a real first step, so state is a tensor from t = 2 on.
            state = new if state is None else _where(valid_t, new, state)
            outputs.append(torch.where(valid_t, _hidden(new), 0.0))
        return self._stack(outputs), state

    def trace(self, x: Tensor, state: State = None) -> dict[str, Tensor]:
        """The cell's gate activations at every step, for plots.

        x: (T, B, I), or (B, T, I) if batch_first; state: initial state, zeros if None.
        Returns a dict from gate name (e.g. "i", "f", "g", "o") to (T, B, H) (or (B, T, H)).
        The cell must have a ``gates(x, state)`` method (the gated rnnkit cells do).
        """
        if not hasattr(self.cell, "gates"):
            raise ValueError(
                f"trace expected a cell with a gates method, got {type(self.cell).__name__}"
            )
        steps = []
        for x_t in self._time_major(x).unbind(0):
            # forward returns only the state, so the gates are asked for separately.
            steps.append(self.cell.gates(x_t, state))
            state = self.cell(x_t, state)
        return {name: self._stack([step[name] for step in steps]) for name in steps[0]}

    def _time_major(self, x: Tensor) -> Tensor:
        """Check x and return it as (T, B, I)."""
        order = "(B, T, I)" if self.batch_first else "(T, B, I)"
        size = getattr(self.cell, "input_size", None)
        if not isinstance(x, Tensor) or x.dim() != 3 or size not in (None, x.shape[-1]):
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            want = order if size is None else order.replace("I", str(size))
            raise ValueError(f"Recurrent expected x of shape {want}, got {got}")
        x = x.transpose(0, 1) if self.batch_first else x
        if x.shape[0] == 0:
            raise ValueError("Recurrent expected at least one time step, got T = 0")
        return x

    def _stack(self, steps: list[Tensor]) -> Tensor:
        """Stack per-step (B, H) tensors along time, in the layer's layout."""
        return torch.stack(steps, dim=1 if self.batch_first else 0)


class Bidirectional(nn.Module):
    """Two cells over one sequence, one forwards and one backwards in time.

    Args:
        fw_cell: reads x_1, ..., x_T.
        bw_cell: reads x_T, ..., x_1.
        batch_first: take and return sequences as (B, T, ·) instead of (T, B, ·).

    The output at step t is ``[h_t^fw, h_t^bw]``, forward half first, as in torch.nn.
    The backward cell's final state is the one after it has read x_1. With ``lengths``,
    the backward cell reads each sequence from its own last real step x_{T_b} down to
    x_1; without them it starts at step T, and in a padded batch it would read the
    padding before the sequence.
    """

    def __init__(self, fw_cell: nn.Module, bw_cell: nn.Module, batch_first: bool = False) -> None:
        super().__init__()
        self.fw = Recurrent(fw_cell, batch_first)
        self.bw = Recurrent(bw_cell, batch_first)
        self.batch_first = batch_first

    def forward(
        self, x: Tensor, state: State = None, lengths: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """Run both directions.

        x: (T, B, I), or (B, T, I) if batch_first; state: the pair (fw_state, bw_state)
        of initial cell states, or None for zeros in both; lengths: (B,) ints in [1, T],
        the real length of each sequence of a padded batch, or None if all have T steps.
        Returns outputs (T, B, 2H) (or (B, T, 2H)), zero at padded steps, and the pair
        (fw_state, bw_state) of final states: forward after x_{T_b}, backward after x_1.
        """
        if state is None:
            state = (None, None)
        elif not isinstance(state, tuple | list) or len(state) != 2:
            raise ValueError(
                f"Bidirectional expected state (fw_state, bw_state), got {type(state).__name__}"
            )
        time = 1 if self.batch_first else 0
        out_fw, final_fw = self.fw(x, state[0], lengths)
        if lengths is None:
            out_bw, final_bw = self.bw(x.flip(time), state[1])
            return torch.cat([out_fw, out_bw.flip(time)], dim=-1), (final_fw, final_bw)
        # Reverse each sequence within its own length; the padding stays where it is.
        out_bw, final_bw = self.bw(_reverse_within(x, lengths, time), state[1], lengths)
        out_bw = _reverse_within(out_bw, lengths, time)
        return torch.cat([out_fw, out_bw], dim=-1), (final_fw, final_bw)


_TORCH_CELLS = {nn.RNN: RNNCell, nn.LSTM: LSTMCell, nn.GRU: GRUCell}


class Stacked(nn.Module):
    """A deep RNN: each layer reads the outputs of the one below.

    Args:
        layers: the layers from bottom to top, e.g. ``Recurrent`` or ``Bidirectional``;
            each is called as ``layer(x, state)`` and returns (outputs, final_state).
        dropout: probability of zeroing an element of a layer's outputs before the next
            layer reads them, in training mode only; never after the top layer.
    """

    def __init__(self, layers: list[nn.Module], dropout: float = 0.0) -> None:
        super().__init__()
        if len(layers) == 0:
            raise ValueError("Stacked expected at least one layer, got an empty list")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"Stacked expected dropout in [0, 1), got {dropout}")
        self.layers = nn.ModuleList(layers)
        self.dropout = dropout

    def forward(self, x: Tensor, states: list[State] | None = None) -> tuple[Tensor, list[State]]:
        """Run the layers bottom to top.

        x: (T, B, I), or (B, T, I) for batch_first layers; states: one initial state per
        layer (each may be None), or None for zeros everywhere.
        Returns the top layer's outputs (T, B, H_top) (or (B, T, H_top)) and the list of
        every layer's final state, bottom first.
        """
        if states is None:
            states = [None] * len(self.layers)
        if len(states) != len(self.layers):
            raise ValueError(
                f"Stacked expected {len(self.layers)} initial states, got {len(states)}"
            )
        finals = []
        for k, (layer, state) in enumerate(zip(self.layers, states, strict=True)):
            if k > 0 and self.training and self.dropout > 0:
                x = F.dropout(x, self.dropout, training=True)
            x, final = layer(x, state)
            finals.append(final)
        return x, finals

    @classmethod
    def from_torch(cls, rnn: nn.RNN | nn.LSTM | nn.GRU) -> "Stacked":
        """The same network as a torch.nn RNN, LSTM or GRU, with its weights copied.

        rnn: any ``num_layers``, ``bidirectional``, ``bias``, ``batch_first`` and
        ``dropout``; an LSTM must have ``proj_size=0``. The result is in the same
        training/eval mode, with parameters of the same dtype and device.
        """
        kind = next((cell for t, cell in _TORCH_CELLS.items() if isinstance(rnn, t)), None)
        if kind is None:
            raise ValueError(f"from_torch expected nn.RNN, nn.LSTM or nn.GRU, got {type(rnn)}")
        if getattr(rnn, "proj_size", 0):
            raise ValueError(f"from_torch expected an LSTM with proj_size=0, got {rnn.proj_size}")
        directions = 2 if rnn.bidirectional else 1
        layers = []
        for k in range(rnn.num_layers):
            size = rnn.input_size if k == 0 else directions * rnn.hidden_size
            cells = [
                _cell_from_torch(rnn, kind, k, suffix, size)
                for suffix in ("", "_reverse")[:directions]
            ]
            if rnn.bidirectional:
                layers.append(Bidirectional(*cells, batch_first=rnn.batch_first))
            else:
                layers.append(Recurrent(cells[0], batch_first=rnn.batch_first))
        return cls(layers, dropout=rnn.dropout).train(rnn.training)

    def to_torch_state(self, states: list[State]) -> Tensor | tuple[Tensor, Tensor]:
        """Final states in torch.nn's layout.

        states: one final state per layer, as ``forward`` returns them.
        Returns h_n of shape (L·D, B, H) (D = 2 for bidirectional layers), or the pair
        (h_n, c_n) for LSTM cells, rows ordered layer by layer, forward direction first.
        """
        cell_states = []
        for layer, state in zip(self.layers, states, strict=True):
            cell_states.extend(state if isinstance(layer, Bidirectional) else [state])
        if isinstance(cell_states[0], tuple):
            return tuple(torch.stack(part) for part in zip(*cell_states, strict=True))
        return torch.stack(cell_states)

    def from_torch_state(self, hx: Tensor | tuple[Tensor, Tensor]) -> list[State]:
        """Initial states given in torch.nn's layout, split into one per layer.

        hx: h_0 of shape (L·D, B, H), or the pair (h_0, c_0) for LSTM cells.
        Returns the list ``forward`` takes as ``states``.
        """
        rows = sum(2 if isinstance(layer, Bidirectional) else 1 for layer in self.layers)
        first = hx[0] if isinstance(hx, tuple) else hx
        if first.dim() != 3 or first.shape[0] != rows:
            raise ValueError(
                f"from_torch_state expected h_0 of shape ({rows}, B, H), got {tuple(first.shape)}"
            )

        def cell_state(row: int) -> State:
            return tuple(part[row] for part in hx) if isinstance(hx, tuple) else hx[row]

        states, row = [], 0
        for layer in self.layers:
            if isinstance(layer, Bidirectional):
                states.append((cell_state(row), cell_state(row + 1)))
                row += 2
            else:
                states.append(cell_state(row))
                row += 1
        return states


class Residual(nn.Module):
    """A skip connection around a layer: the outputs are ``layer(x) + x``.

    Args:
        layer: any layer called as ``layer(x, state)`` that returns (outputs, final_state)
            with outputs of the same shape as x, e.g. ``Recurrent`` with H = I or
            ``Bidirectional`` with 2H = I.
    """

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: Tensor, state: State = None) -> tuple[Tensor, State]:
        """x: (T, B, I) (or (B, T, I) for a batch_first layer); state: the layer's.

        Returns (outputs + x, final_state) with outputs of x's shape.
        """
        outputs, final = self.layer(x, state)
        if outputs.shape != x.shape:
            raise ValueError(
                f"Residual expected the layer to keep the shape {tuple(x.shape)} of its "
                f"input, got outputs of shape {tuple(outputs.shape)}"
            )
        return outputs + x, final


def _cell_from_torch(
    rnn: nn.RNNBase, kind: type[nn.Module], layer: int, suffix: str, input_size: int
) -> nn.Module:
    """One rnnkit cell holding a copy of the weights of ``rnn``'s layer and direction."""
    ref = rnn.weight_ih_l0
    options = {"bias": rnn.bias, "device": ref.device, "dtype": ref.dtype}
    if kind is RNNCell:
        options["nonlinearity"] = rnn.nonlinearity
    cell = kind(input_size, rnn.hidden_size, **options)
    with torch.no_grad():
        for name, param in cell.named_parameters():
            param.copy_(getattr(rnn, f"{name}_l{layer}{suffix}"))
    return cell
