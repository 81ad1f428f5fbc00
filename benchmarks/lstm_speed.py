"""Time one forward + backward pass of rnnkit's LSTM against torch.nn.LSTM on the CPU.

rnnkit.LSTMCell unrolled by rnnkit.Recurrent runs one Python step per time step;
torch.nn.LSTM runs the whole sequence in compiled code. This script measures what the
readability costs. Run it as ``.venv/bin/python benchmarks/lstm_speed.py``.

The CPU is fixed on purpose (rather than rnnkit.get_device()): the comparison is about
the Python loop. torch's thread count stays at its default unless ``--threads`` is given
(on a busy machine, one thread avoids threads waiting on each other).
"""

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from rnnkit.cells import LSTMCell
from rnnkit.layers import Recurrent


def median_ms(step: Callable[[], None], repeats: int, warmup: int = 3) -> float:
    """Median wall time of ``step()`` in milliseconds, after a few untimed warm-up calls."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def forward_backward(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """One training step's work without the update: outputs, a scalar loss, its gradients.

    x: (T, B, I). The loss sums the outputs, so every step and unit gets a gradient.
    """

    def step() -> None:
        model.zero_grad(set_to_none=True)
        outputs, _ = model(x)
        outputs.sum().backward()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="T, time steps")
    parser.add_argument("--batch", type=int, default=32, help="B, batch size")
    parser.add_argument("--size", type=int, default=128, help="I = H, input and hidden size")
    parser.add_argument("--repeats", type=int, default=10, help="timed runs per model")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's own choice)"
    )
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    reference = nn.LSTM(args.size, args.size)
    ours = Recurrent(LSTMCell(args.size, args.size))
    ours.cell.load_state_dict({k.removesuffix("_l0"): v for k, v in reference.state_dict().items()})
    x = torch.randn(args.steps, args.batch, args.size)

    shape = f"T={args.steps}, B={args.batch}, I=H={args.size}"
    print(f"forward+backward, {shape}, CPU, {torch.get_num_threads()} threads")
    print(f"median of {args.repeats} runs:")
    ms_ours = median_ms(forward_backward(ours, x), args.repeats)
    ms_ref = median_ms(forward_backward(reference, x), args.repeats)
    print(f"  rnnkit.LSTMCell + Recurrent: {ms_ours:8.1f} ms")
    print(f"  torch.nn.LSTM:               {ms_ref:8.1f} ms")
    print(f"  ratio:                       {ms_ours / ms_ref:8.1f} x")


if __name__ == "__main__":
    main()
