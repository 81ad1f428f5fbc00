"""The adding problem against the remedies for long-term dependencies (chapter 3).

    .venv/bin/python scripts/long_term.py --jobs 3     # the full run, ~15 min of one core
    .venv/bin/python scripts/long_term.py --reduced --out /tmp/long_term.json   # seconds

The task is :func:`rnnkit.tasks.adding_problem` with minimal length ``Config.T``: the two
marked values lie at least T/2 steps before the end, and the target is
0.5 + (X1 + X2) / 4. Every contender reads the sequence and is scored at each sequence's
own last step. The baseline is the constant predictor 0.5, whose MSE
:func:`rnnkit.tasks.adding_baseline` works out exactly.

Contenders (``MODELS``), each trained once per seed with Adam, gradient-norm clipping at
``Config.clip`` and batches of ``Config.batch_size`` fresh sequences:

- the plain tanh RNN with torch's initialisation, at every learning rate of ``TANH_LRS``
  (the tuned baseline is the best of them, chosen on the test MSE at the end);
- the tanh RNN with an orthogonal W;  the IRNN (ReLU, W = I, zero biases; Le et al., 2015);
- a tanh RNN of leaky units (α = 0.05);  a tanh RNN with a skip connection d steps back;
- echo state networks: a fixed reservoir, only the linear readout fitted in closed form
  (ridge regression) on ``Config.esn_train`` sequences, for two spectral radii.

The JSON written to ``--out`` (by default ``results/long_term.json``, which chapter 3
plots) holds the settings, the baseline, and each run's test curves (MSE and fraction
solved within 0.04, every ``Config.eval_every`` steps) on one test set per seed that
training never touches.
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
from tqdm.auto import tqdm

import rnnkit
from rnnkit.longterm import LeakyRNN, identity_, random_orthogonal, reservoir, reservoir_states
from rnnkit.tasks import adding_baseline, adding_problem, adding_solved

RESULTS = Path(__file__).resolve().parents[1] / "results" / "long_term.json"
#: Offset between a run's training seed and the seed of its test set.
TEST_SEED = 10_000
#: The plain tanh RNN's learning-rate grid (Adam).
TANH_LRS = (1e-3, 3e-3, 1e-2)


@dataclass(frozen=True)
class ModelSpec:
    """One contender.

    name: label in plots and JSON;  kind: "rnn" (torch.nn.RNN), "leaky"
    (rnnkit.longterm.LeakyRNN) or "esn" (fixed reservoir, ridge readout);
    init: W's initialisation for "rnn": "default" (torch's), "orthogonal" or "identity";
    nonlinearity: "tanh" or "relu";  lr: Adam's learning rate;  hidden: H;
    alpha, delay: LeakyRNN's leak and skip distance;  rho, leak, ridge: the ESN's spectral
    radius, leak and ridge penalty λ.
    """

    name: str
    kind: str
    init: str = "default"
    nonlinearity: str = "tanh"
    lr: float = 1e-3
    hidden: int = 64
    alpha: float = 1.0
    delay: int | None = None
    rho: float = 0.9
    leak: float = 1.0
    ridge: float = 1e-4


MODELS = (
    *(ModelSpec(f"tanh RNN, lr {lr:g}", "rnn", lr=lr) for lr in TANH_LRS),
    ModelSpec("tanh RNN, orthogonal W", "rnn", init="orthogonal"),
    ModelSpec("IRNN (ReLU, W = I)", "rnn", init="identity", nonlinearity="relu"),
    ModelSpec("leaky tanh RNN, α = 0.05", "leaky", alpha=0.05),
    ModelSpec("tanh RNN, skip d = 10", "leaky", delay=10),
    ModelSpec("ESN, ρ = 0.9", "esn", hidden=300, rho=0.9),
    ModelSpec("ESN, ρ = 0.99, leak 0.5", "esn", hidden=300, rho=0.99, leak=0.5),
)


@dataclass(frozen=True)
class Config:
    """Settings of the experiment (every model, every seed).

    T: minimal sequence length;  steps: optimisation steps per trained run;
    batch_size: B;  clip: gradient-norm clip;  seeds: one run per seed and model;
    eval_every: steps between test evaluations;  test_size: test sequences;
    esn_train: training sequences for an ESN's readout.
    """

    T: int = 50
    steps: int = 2000
    batch_size: int = 32
    clip: float = 1.0
    seeds: tuple[int, ...] = (0, 1, 2)
    eval_every: int = 100
    test_size: int = 1000
    esn_train: int = 3000
    models: tuple[ModelSpec, ...] = field(default=MODELS)


#: The reduced setting CI runs: the same code, seconds instead of minutes.
REDUCED = Config(T=10, steps=20, seeds=(0,), eval_every=10, test_size=64, esn_train=200)


class AddingRNN(nn.Module):
    """A recurrent layer, then a linear readout of its state at each sequence's last step.

    spec: a ModelSpec of kind "rnn" or "leaky";  I = 2 inputs (value, marker).
    """

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        H = spec.hidden
        if spec.kind == "rnn":
            self.rnn = nn.RNN(2, H, nonlinearity=spec.nonlinearity)
            if spec.init == "orthogonal":
                with torch.no_grad():
                    self.rnn.weight_hh_l0.copy_(random_orthogonal(H, torch.default_generator))
            elif spec.init == "identity":
                identity_(self.rnn.weight_hh_l0)
                nn.init.zeros_(self.rnn.bias_ih_l0)
                nn.init.zeros_(self.rnn.bias_hh_l0)
            elif spec.init != "default":
                raise ValueError(f"init must be default, orthogonal or identity, got {spec.init!r}")
        elif spec.kind == "leaky":
            self.rnn = LeakyRNN(2, H, spec.alpha, spec.delay, spec.nonlinearity)
        else:
            raise ValueError(f"AddingRNN needs kind 'rnn' or 'leaky', got {spec.kind!r}")
        self.head = nn.Linear(H, 1)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """x: (T_max, B, 2);  lengths: (B,). Returns predictions (B,)."""
        hs = self.rnn(x)
        hs = hs[0] if isinstance(hs, tuple) else hs
        last = hs[lengths - 1, torch.arange(x.shape[1], device=x.device)]
        return self.head(last).squeeze(-1)


def _scores(pred: Tensor, y: Tensor) -> dict[str, float]:
    return {"mse": F.mse_loss(pred, y).item(), "solved": adding_solved(pred, y)}


def train_rnn(spec: ModelSpec, config: Config, seed: int, progress: bool) -> dict:
    """Train one recurrent contender; returns its test curves (steps, mse, solved)."""
    rnnkit.seed_everything(seed)
    model = AddingRNN(spec)
    gen = torch.Generator().manual_seed(seed)
    x_test, y_test, len_test = adding_problem(config.test_size, config.T, TEST_SEED + seed)

    def loss(model: AddingRNN, batch: tuple[Tensor, Tensor, Tensor]) -> Tensor:
        x, y, lengths = batch
        return F.mse_loss(model(x, lengths), y)

    history = rnnkit.fit(
        model,
        lambda step: adding_problem(config.batch_size, config.T, gen),
        loss,
        steps=config.steps,
        lr=spec.lr,
        clip=config.clip,
        device="cpu",
        progress=progress,
        eval_fn=lambda m: _scores(m(x_test, len_test), y_test),
        eval_every=config.eval_every,
    )
    return {"steps": history.eval_steps, **history.metrics}


def fit_esn(spec: ModelSpec, config: Config, seed: int) -> dict:
    """Fit an echo state network's readout in closed form; returns its test scores."""
    U, W = reservoir(spec.hidden, 2, spec.rho, seed)

    def features(n: int, data_seed: int) -> tuple[Tensor, Tensor]:
        x, y, lengths = adding_problem(n, config.T, data_seed)
        hs = reservoir_states(U, W, x, spec.leak)
        last = hs[lengths - 1, torch.arange(n)]
        return torch.cat([last, torch.ones(n, 1)], dim=1), y

    S, y = features(config.esn_train, seed)
    # Ridge regression, min ‖S w − y‖² + λ‖w‖², as least squares on S stacked over √λ I.
    penalty = spec.ridge**0.5 * torch.eye(S.shape[1], dtype=torch.float64)
    w = torch.linalg.lstsq(
        torch.cat([S.double(), penalty]), torch.cat([y.double(), torch.zeros(S.shape[1])])
    ).solution
    S_test, y_test = features(config.test_size, TEST_SEED + seed)
    scores = _scores((S_test.double() @ w).float(), y_test)
    return {"steps": [0], "mse": [scores["mse"]], "solved": [scores["solved"]]}


def run_one(spec: ModelSpec, config: Config, seed: int, progress: bool = False) -> dict:
    """One contender, one seed: its settings and test curves, rounded for the JSON."""
    torch.set_num_threads(1)  # tiny matrices: threads cost more than they save
    if spec.kind == "esn":
        curves = fit_esn(spec, config, seed)
    else:
        curves = train_rnn(spec, config, seed, progress)
    return {
        **asdict(spec),
        "seed": seed,
        "steps": curves["steps"],
        "mse": [round(v, 6) for v in curves["mse"]],
        "solved": [round(v, 4) for v in curves["solved"]],
    }


def _run_and_report(spec: ModelSpec, config: Config, seed: int) -> dict:
    result = run_one(spec, config, seed)
    print(f"{spec.name:>26}, seed {seed}: test MSE {result['mse'][-1]:.4f}", flush=True)
    return result


def run(config: Config, progress: bool = True, jobs: int = 1) -> dict:
    """Every model for every seed, ``jobs`` runs at a time in separate processes.

    Returns the JSON-ready results, runs in the order model, seed.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs}")
    baseline_mse, baseline_solved = adding_baseline(config.T)
    start = time.perf_counter()
    work = [(spec, seed) for spec in config.models for seed in config.seeds]
    if jobs == 1:
        bar = tqdm(work, desc="runs", disable=not progress)
        runs = [_run_and_report(spec, config, seed) for spec, seed in bar]
    else:
        with ProcessPoolExecutor(jobs) as pool:
            specs, seeds = zip(*work, strict=True)
            runs = list(pool.map(_run_and_report, specs, [config] * len(work), seeds))
    return {
        "config": asdict(config),
        "tanh_lrs": list(TANH_LRS),
        "baseline": {"mse": baseline_mse, "solved": baseline_solved},
        "runs": runs,
        "seconds": round(time.perf_counter() - start, 1),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reduced", action="store_true", help="the seconds-long CI setting")
    parser.add_argument("--T", type=int, help="minimal sequence length")
    parser.add_argument("--steps", type=int, help="optimisation steps per run")
    parser.add_argument("--seeds", type=int, help="number of seeds (0, 1, ...)")
    parser.add_argument("--only", help="train only the models whose name contains this")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (processes)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> Config:
    """The full or reduced settings, with T, steps, seeds or the models overridden."""
    base = REDUCED if args.reduced else Config()
    changes = {key: getattr(args, key) for key in ("T", "steps") if getattr(args, key)}
    if args.seeds is not None:
        changes["seeds"] = tuple(range(args.seeds))
    models = tuple(m for m in base.models if args.only is None or args.only in m.name)
    return Config(**{**asdict(base), **changes, "models": models})


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    results = run(config_from(args), progress=not args.quiet, jobs=args.jobs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out} after {results['seconds']} s")


if __name__ == "__main__":
    main()
