"""Time forward + backward of rnnkit's LSTM and GRU against torch.nn, cell loop and fast path.

For each shape and each of LSTM and GRU this times one training step's work (outputs, a
scalar loss, its gradients) of three models with the same weights:

- the cell loop: ``rnnkit.Recurrent(cell, fast=False)``, one Python step per time step,
  differentiated by autograd;
- the fast path: ``rnnkit.Recurrent(cell)``, the whole sequence at once with the
  hand-derived backward of ``rnnkit.fast`` (needs ``rnnkit.answers``);
- ``torch.nn.LSTM`` / ``torch.nn.GRU``, compiled code.

The three are timed in turn within each round, so a busy machine slows all of them alike,
and the median over rounds is reported, with each one's ratio to torch.nn. Run it as
``.venv/bin/python benchmarks/lstm_speed.py`` (``--help`` lists the options); one thread
by default, because on a shared machine threads wait on each other.
"""

import argparse
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from rnnkit import fast
from rnnkit.cells import GRUCell, LSTMCell
from rnnkit.layers import Recurrent

SHAPES = [(50, 64), (100, 128), (200, 256), (400, 512)]  # (T, H), with I = H
QUICK_SHAPES = [(50, 64), (100, 128)]
MODELS = {"LSTM": (nn.LSTM, LSTMCell), "GRU": (nn.GRU, GRUCell)}
CONTENDERS = ("cell loop", "fast path", "torch.nn")


def training_step(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """One training step's work without the update: outputs, a scalar loss, its gradients.

    x: (T, B, I). The loss sums the outputs, so every step and unit gets a gradient.
    """

    def step() -> None:
        model.zero_grad(set_to_none=True)
        outputs, _ = model(x)
        outputs.sum().backward()

    return step


def contenders(kind: str, T: int, H: int, batch: int, device: str) -> dict[str, Callable]:
    """The three models of ``kind`` with the same weights, each as a training step on one x."""
    torch_class, cell_class = MODELS[kind]
    reference = torch_class(H, H).to(device)
    cell = cell_class(H, H).to(device)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in reference.state_dict().items()})
    x = torch.randn(T, batch, H, device=device)
    return {
        "cell loop": training_step(Recurrent(cell, fast=False), x),
        "fast path": training_step(Recurrent(cell), x),
        "torch.nn": training_step(reference, x),
    }


def median_ms(
    steps: dict[str, Callable], repeats: int, device: str
) -> tuple[dict[str, float], int]:
    """Median wall time in ms of each step, timed in turn in each round, and the rounds.

    One untimed round first, for allocations and lazy initialisation; its duration sets
    the number of rounds: at least ``repeats``, more for quick shapes (up to 3 s of rounds,
    at most 10 · repeats), whose timings a busy machine disturbs most. On CUDA the device
    is synchronised around each timing, since kernels run asynchronously.
    """

    def timed(step: Callable) -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    warmup = sum(timed(step) for step in steps.values())
    rounds = min(10 * repeats, max(repeats, math.ceil(3.0 / warmup)))
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            times[name].append(timed(step))
    return {name: 1000 * statistics.median(t) for name, t in times.items()}, rounds


def shape_list(text: str) -> list[tuple[int, int]]:
    """Parse "100x128,200x256" into [(100, 128), (200, 256)]: (T, H) pairs."""
    try:
        pairs = [tuple(int(n) for n in item.split("x")) for item in text.split(",")]
    except ValueError:
        pairs = []
    if not pairs or any(len(p) != 2 or min(p) < 1 for p in pairs):
        raise argparse.ArgumentTypeError(f"expected T x H pairs like 100x128,200x256, got {text!r}")
    return pairs


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what platform reports."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument(
        "--repeats", type=int, default=7, help="timed rounds per shape, at least (default 7)"
    )
    parser.add_argument("--batch", type=int, default=32, help="B, batch size")
    parser.add_argument("--quick", action="store_true", help=f"only the shapes {QUICK_SHAPES}")
    parser.add_argument(
        "--shapes", type=shape_list, help="T x H pairs to time instead, e.g. 100x128,200x256"
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device here")
    if fast.runner(LSTMCell(1, 1)) is None:
        parser.error("the fast path needs rnnkit.answers (the instructor's modules)")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    shapes = args.shapes or (QUICK_SHAPES if args.quick else SHAPES)

    where = torch.cuda.get_device_name() if args.device == "cuda" else cpu_name()
    print(f"forward+backward, B={args.batch}, I=H, float32, {args.device}: {where}")
    print(f"{torch.get_num_threads()} thread(s), torch {torch.__version__}")
    load_before = os.getloadavg()[0]
    print(f"medians over at least {args.repeats} rounds; the three models run in turn in each")
    results = []
    runs = [(kind, T, H) for kind in MODELS for T, H in shapes]
    for kind, T, H in tqdm(runs, desc="shapes", leave=False):
        steps = contenders(kind, T, H, args.batch, args.device)
        ms, rounds = median_ms(steps, args.repeats, args.device)
        results.append({"model": kind, "T": T, "H": H, "rounds": rounds, "ms": ms})
        name = f"torch.nn.{kind}"
        times = ", ".join(f"{c if c != 'torch.nn' else name} {ms[c]:.1f}" for c in CONTENDERS)
        tqdm.write(f"\n{kind}, T={T}, H={H}, median of {rounds} rounds, ms: {times}")
        tqdm.write(f"cell loop / {name}: {ms['cell loop'] / ms['torch.nn']:.2f}x")
        tqdm.write(f"fast path / {name}: {ms['fast path'] / ms['torch.nn']:.2f}x")
    # Other processes on the machine slow every contender, but not always alike.
    load = f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    print(f"\nload average (1 min) of the machine: {load}")
    if args.json is not None:
        meta = {
            "device": args.device,
            "processor": where,
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "batch": args.batch,
            "repeats": args.repeats,
            "load_average": load,
        }
        args.json.write_text(json.dumps({**meta, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
