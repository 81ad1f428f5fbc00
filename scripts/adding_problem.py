"""The adding problem: an LSTM learns it, a tanh RNN with as many parameters does not.

    .venv/bin/python scripts/adding_problem.py --jobs 2    # the full run, ~1 h on 2 cores
    .venv/bin/python scripts/adding_problem.py --reduced --out /tmp/adding.json   # seconds
    .venv/bin/python scripts/adding_problem.py --only "tanh RNN, lr 0.001" --jobs 2
        # rerun one model and merge its runs into the existing --out file

The task is experiment 4 of Hochreiter & Schmidhuber (1997), as
:func:`rnnkit.tasks.adding_problem` builds it: two of at least T values are marked, one
among the first ten steps, and the target at the end is 0.5 + (X1 + X2) / 4. A sequence
counts as solved when the prediction is within 0.04 of the target. Every model is trained
once per seed; every ``Config.eval_every`` steps it is scored on the same fresh test set,
drawn from a generator that training never touches. The tanh RNN is given its best chance:
gradient clipping and Adam's learning rate chosen on a small grid (0.01, 0.003, 0.001; the
latter two on the first three seeds and for at most 3000 steps, so the grid is compared
at step 3000). The JSON written to ``--out`` (by default
``results/adding_problem.json``, which chapter 4 plots) holds the settings, the baseline of
always predicting 0.5, and each run's curves.

The models are torch.nn's fused ``LSTM`` and ``RNN``: they compute exactly the equations of
``rnnkit.LSTMCell`` and ``rnnkit.RNNCell`` (``tests/test_cells.py`` and
``tests/test_layers.py`` hold them to it with copied weights) but run the time loop in
compiled code, several times faster on a CPU.
``rnnkit.Stacked.from_torch`` turns a trained one into rnnkit cells for inspection.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import rnnkit
from rnnkit.tasks import adding_baseline, adding_problem, adding_solved

RESULTS = Path(__file__).resolve().parents[1] / "results" / "adding_problem.json"
#: Offset between a run's training seed and the seed of the test set, which no run trains on.
TEST_SEED = 10_000


@dataclass(frozen=True)
class ModelSpec:
    """One contender.

    name: label in plots and JSON;  kind: "lstm" or "rnn" (tanh);  hidden: H.
    forget_bias: the LSTM's initial b_f (ignored for the RNN).
    lr: Adam's learning rate for this model (None: the Config's).
    n_seeds: train on the first n_seeds of the Config's seeds only (None: all of them).
    steps: optimisation steps for this model (None: the Config's).
    """

    name: str
    kind: str
    hidden: int
    forget_bias: float = 0.0
    lr: float | None = None
    n_seeds: int | None = None
    steps: int | None = None


#: Same input, same readout; the RNN gets 64 units so that it has about as many
#: parameters as the 32-unit LSTM (4·32·(2 + 32 + 2) = 4608 against 64·(2 + 64 + 2) = 4352).
#: A forget bias of 5 starts f at σ(5) ≈ 0.993, which keeps half the cell path's gradient
#: over 100 steps. The RNN's learning rate is tuned on a grid: "tanh RNN" uses the Config's
#: 0.01 for the full run, the two others 0.003 and 0.001 for 3000 steps on three seeds (to
#: fit the run in half an hour); the grid is compared at step 3000.
MODELS = (
    ModelSpec("LSTM", "lstm", 32, forget_bias=5.0),
    ModelSpec("LSTM, forget bias 0", "lstm", 32, forget_bias=0.0),
    ModelSpec("tanh RNN", "rnn", 64),
    ModelSpec("tanh RNN, lr 0.003", "rnn", 64, lr=3e-3, n_seeds=3, steps=3000),
    ModelSpec("tanh RNN, lr 0.001", "rnn", 64, lr=1e-3, n_seeds=3, steps=3000),
)
#: The learning-rate grid of the tanh RNN (all clipped at the Config's clip).
RNN_GRID = ("tanh RNN", "tanh RNN, lr 0.003", "tanh RNN, lr 0.001")


@dataclass(frozen=True)
class Config:
    """Settings of one experiment (every model, every seed).

    T: minimal sequence length;  steps: optimisation steps per run;  batch_size: B;
    lr: Adam's learning rate (unless a model sets its own);  clip: gradient-norm clip;
    seeds: one run per seed and model (fewer where a model sets n_seeds);
    eval_every: steps between test evaluations;  test_size: test sequences.
    """

    T: int = 100
    steps: int = 10000
    batch_size: int = 32
    lr: float = 1e-2
    clip: float = 1.0
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    eval_every: int = 100
    test_size: int = 1000
    models: tuple[ModelSpec, ...] = field(default=MODELS)


#: The reduced setting CI runs: the same code, seconds instead of minutes.
REDUCED = Config(T=10, steps=20, seeds=(0,), eval_every=10, test_size=64)


class AddingModel(nn.Module):
    """A recurrent layer that reads the whole sequence, then a linear readout of its state
    after each sequence's own last step.

    kind: "lstm" or "rnn" (tanh);  hidden: H;  forget_bias: the LSTM's initial forget-gate
    bias b_f = bias_ih + bias_hh on the f block, rows H:2H (ignored for the RNN).
    """

    def __init__(self, kind: str, hidden: int, forget_bias: float = 0.0) -> None:
        super().__init__()
        if kind not in ("lstm", "rnn"):
            raise ValueError(f"kind must be 'lstm' or 'rnn', got {kind!r}")
        self.rnn = nn.LSTM(2, hidden) if kind == "lstm" else nn.RNN(2, hidden)
        self.head = nn.Linear(hidden, 1)
        if kind == "lstm":
            with torch.no_grad():
                # A bias above 0 starts f near 1: the cell keeps what it holds (chapter 4).
                self.rnn.bias_ih_l0[hidden : 2 * hidden] = forget_bias
                self.rnn.bias_hh_l0[hidden : 2 * hidden] = 0.0

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """x: (T_max, B, 2) from adding_problem;  lengths: (B,). Returns predictions (B,)."""
        hs, _ = self.rnn(x)
        last = hs[lengths - 1, torch.arange(x.shape[1], device=x.device)]
        return self.head(last).squeeze(-1)


def parameter_count(model: nn.Module) -> int:
    """Number of trainable numbers in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def train_one(spec: ModelSpec, config: Config, seed: int, progress: bool = False) -> dict:
    """Train one model on fresh batches and score it on the test set as it learns.

    spec: the model;  config: the settings;  seed: seeds the weights and the batches.
    progress: show fit's tqdm bar.
    Returns a dict with the model's settings, ``parameters``, the evaluation ``steps`` and,
    at each of them, the test ``solved`` fraction and ``mse``, plus ``model``, the trained
    module (drop it before saving to JSON).
    """
    device = rnnkit.get_device()
    rnnkit.seed_everything(seed)
    model = AddingModel(spec.kind, spec.hidden, spec.forget_bias)
    train_gen = torch.Generator().manual_seed(seed)
    x_test, y_test, len_test = adding_problem(config.test_size, config.T, TEST_SEED + seed)
    x_test, y_test, len_test = x_test.to(device), y_test.to(device), len_test.to(device)

    def loss(model: AddingModel, batch: tuple[Tensor, Tensor, Tensor]) -> Tensor:
        x, y, lengths = batch
        return F.mse_loss(model(x, lengths), y)

    def evaluate(model: AddingModel) -> dict[str, float]:
        pred = model(x_test, len_test)
        return {"solved": adding_solved(pred, y_test), "mse": F.mse_loss(pred, y_test).item()}

    history = rnnkit.fit(
        model,
        lambda step: adding_problem(config.batch_size, config.T, train_gen),
        loss,
        steps=min(config.steps, spec.steps or config.steps),
        lr=config.lr if spec.lr is None else spec.lr,
        clip=config.clip,
        device=device,
        progress=progress,
        eval_fn=evaluate,
        eval_every=config.eval_every,
    )
    return {
        **asdict(spec),
        "seed": seed,
        "parameters": parameter_count(model),
        "steps": history.eval_steps,
        "solved": history.metrics["solved"],
        "mse": history.metrics["mse"],
        "model": model,
    }


def _train_for_json(spec: ModelSpec, config: Config, seed: int, progress: bool) -> dict:
    """train_one without the module, with the curves rounded for a readable JSON file."""
    if rnnkit.get_device().type == "cpu":
        # The matrices are tiny: extra threads cost more in hand-offs than they save.
        torch.set_num_threads(1)
    result = train_one(spec, config, seed, progress=progress)
    del result["model"]
    result["solved"] = [round(v, 4) for v in result["solved"]]
    result["mse"] = [round(v, 7) for v in result["mse"]]
    print(f"{spec.name:>20}, seed {seed}: solved {result['solved'][-1]:.3f}", flush=True)
    return result


def run(config: Config, progress: bool = True, jobs: int = 1, only: tuple[str, ...] = ()) -> dict:
    """Every model for each of its seeds, ``jobs`` runs at a time in separate processes.

    only: names of the models to train (empty: all of them).
    Returns the JSON-ready results (no modules in it), runs in the order model, seed.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs}")
    names = [spec.name for spec in config.models]
    if unknown := set(only) - set(names):
        raise ValueError(f"--only takes model names from {names}, got {sorted(unknown)}")
    baseline_mse, baseline_solved = adding_baseline(config.T)
    start = time.perf_counter()
    # Progress bars from parallel processes would overwrite each other.
    work = [
        (spec, config, seed, progress and jobs == 1)
        for spec in config.models
        if not only or spec.name in only
        for seed in config.seeds[: spec.n_seeds]
    ]
    if jobs == 1:
        runs = [_train_for_json(*job) for job in work]
    else:
        with ProcessPoolExecutor(jobs) as pool:
            runs = list(pool.map(_train_for_json, *zip(*work, strict=True)))
    return {
        "config": asdict(config),
        "baseline": {"mse": baseline_mse, "solved": baseline_solved},
        "runs": runs,
        "seconds": round(time.perf_counter() - start, 1),
        "device": str(rnnkit.get_device()),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reduced", action="store_true", help="the seconds-long CI setting")
    parser.add_argument("--T", type=int, help="minimal sequence length")
    parser.add_argument("--steps", type=int, help="optimisation steps per run")
    parser.add_argument("--seeds", type=int, help="number of seeds (0, 1, ...)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (processes)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="train only this model (repeatable) and merge its runs into the --out file",
    )
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> Config:
    """The full or reduced settings, with any of T, steps and seeds overridden."""
    base = REDUCED if args.reduced else Config()
    changes = {"T": args.T, "steps": args.steps}
    changes = {key: value for key, value in changes.items() if value is not None}
    if args.seeds is not None:
        changes["seeds"] = tuple(range(args.seeds))
    return Config(**{**asdict(base), "models": base.models, **changes})


def merge(old: dict, new: dict) -> dict:
    """``new``'s runs in place of ``old``'s runs of the same models; settings from ``new``.

    The seconds add up; runs stay in the order of the models in ``new``'s config.
    """
    if old["config"]["T"] != new["config"]["T"] or old["device"] != new["device"]:
        raise ValueError("can only merge runs of the same T on the same device")
    retrained = {r["name"] for r in new["runs"]}
    runs = [r for r in old["runs"] if r["name"] not in retrained] + new["runs"]
    order = [m["name"] for m in new["config"]["models"]]
    runs.sort(key=lambda r: (order.index(r["name"]), r["seed"]))
    seconds = round(old["seconds"] + new["seconds"], 1)
    return {**new, "runs": runs, "seconds": seconds}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    only = tuple(args.only)
    results = run(config_from(args), progress=not args.quiet, jobs=args.jobs, only=only)
    if only and args.out.exists():
        results = merge(json.loads(args.out.read_text()), results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out} after {results['seconds']} s")


if __name__ == "__main__":
    main()
