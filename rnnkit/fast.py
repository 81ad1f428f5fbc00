"""Whole-sequence LSTM and GRU layers: the same maths as the cell loop, arranged for speed.

``Recurrent(LSTMCell(...))`` calls the cell once per step, and autograd records a dozen
small operations per step, each with Python's overhead. The functions here compute the same
outputs, final state and gradients as that loop (and as ``torch.nn.LSTM`` / ``torch.nn.GRU``
with the same weights) following Appleyard et al. (2016):

1. Project every input at once: ``A_x = X U^T + b`` with X the (T·B, I) matrix of all
   steps. The input does not depend on the recurrence, so this is one large GEMM before
   the loop instead of T small ones.
2. Per step, one GEMM ``W h_{t-1}`` added to that step's slice of ``A_x``, then the gate
   nonlinearities applied in place on that slice of one preallocated buffer.
3. A backward pass derived by hand over the whole sequence: per step only the gradient of
   the pre-activations; the weight gradients are one GEMM each over all steps afterwards.

The backward of step 3 answers assignments 4 and 6 (the LSTM and GRU step backward), so
steps 2 and 3 live in ``rnnkit.answers`` (``fast_lstm``, ``fast_gru``), which students
receive once the assignment is revealed. Without it, ``runner`` returns None and
``Recurrent`` keeps its cell loop.
"""

import importlib
from collections.abc import Callable

from torch import Tensor

from rnnkit.cells import GRUCell, LSTMCell, LSTMState


def project_inputs(x: Tensor, weight_ih: Tensor, bias: Tensor | None) -> Tensor:
    """The input pre-activations of every step, ``A_x = X U^T + b``, as one GEMM.

    x: (T, B, I); weight_ih: U (G·H, I) for G gate blocks; bias: (G·H,) or None.
    Returns (T, B, G·H).
    """
    T, B, I = x.shape
    # reshape copies only when x is not contiguous (batch_first), once for all steps.
    x_rows = x.reshape(T * B, I)
    if bias is None:
        ax = x_rows @ weight_ih.t()
    else:
        ax = bias.addmm(x_rows, weight_ih.t())
    return ax.view(T, B, -1)


def lstm(cell: LSTMCell, x: Tensor, state: LSTMState | None = None) -> tuple[Tensor, LSTMState]:
    """An LSTM cell's weights run over a whole sequence, as ``Recurrent(cell)(x, state)``.

    cell: the ``rnnkit.LSTMCell`` whose parameters to use (gate blocks i, f, g, o).
    x: (T, B, I), time-major; state: (h_0, c_0), each (B, H), zeros if None.
    Returns outputs (T, B, H), every h_t, and the final state (h_T, c_T).
    Raises ImportError when ``rnnkit.answers.fast_lstm`` is not installed.
    """
    from rnnkit.answers.fast_lstm import FastLSTMFunction

    h0, c0 = _initial_state(cell, x, state)
    params = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    hs, c_last = FastLSTMFunction.apply(x, h0, c0, *params)
    return hs, (hs[-1], c_last)


def gru(cell: GRUCell, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """A GRU cell's weights run over a whole sequence, as ``Recurrent(cell)(x, state)``.

    cell: the ``rnnkit.GRUCell`` whose parameters to use (gate blocks r, z, n).
    x: (T, B, I), time-major; state: h_0 (B, H), zeros if None.
    Returns outputs (T, B, H), every h_t, and the final state h_T.
    Raises ImportError when ``rnnkit.answers.fast_gru`` is not installed.
    """
    from rnnkit.answers.fast_gru import FastGRUFunction

    h0 = _initial_state(cell, x, state)
    hs = FastGRUFunction.apply(x, h0, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    return hs, hs[-1]


Runner = Callable[..., tuple[Tensor, object]]
# cell class -> (the module of rnnkit.answers its backward needs, the function to run)
_RUNNERS: dict[type, tuple[str, Runner]] = {
    LSTMCell: ("fast_lstm", lstm),
    GRUCell: ("fast_gru", gru),
}


def runner(cell: object) -> Runner | None:
    """The whole-sequence function for this cell, or None to use the cell loop.

    cell: any cell. Only exactly ``rnnkit.LSTMCell`` and ``rnnkit.GRUCell`` have one (a
    subclass such as ``PeepholeLSTMCell`` changes the equations), and only when the
    module in ``rnnkit.answers`` that holds its backward pass can be imported.
    """
    entry = _RUNNERS.get(type(cell))
    if entry is None:
        return None
    module, run = entry
    try:
        importlib.import_module(f"rnnkit.answers.{module}")
    except ImportError:
        return None
    return run


def _initial_state(cell: LSTMCell | GRUCell, x: Tensor, state: object) -> object:
    """The cell's checked initial state for x (T, B, I), zeros if None, as the loop has it."""
    # The cell's own checks, so both paths reject bad input with the same message.
    cell._check_x(x[0])
    return cell._checked_state(state, x[0], unbatched=False)
