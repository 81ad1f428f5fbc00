"""Chapter 2's training experiments, several seeds each, against simple baselines.

    .venv/bin/python scripts/bptt_experiments.py --jobs 2        # the full run, ~10 min on 2 cores
    .venv/bin/python scripts/bptt_experiments.py --reduced --out /tmp/bptt.json   # seconds

Three experiments, each trained once per seed; the JSON written to ``--out`` (by default
``results/bptt_experiments.json``, which chapter 2 plots) holds the settings, the
baselines and every run's curves.

``truncation``  A stream of random signs x_t = ±1; the target at step t is the sign
    x_{t-d}, d = 6 steps back. A tanh RNN is trained by truncated BPTT with chunks of k
    steps: k = 16 (longer than the delay), and k = 4 three ways: every weight trained, only
    the readout V, b_y (the recurrent layer frozen at its initial weights), only the
    recurrent layer U, W, b (the readout frozen). At every evaluation the test accuracy and,
    for each lag, the share of the state's variance that the sign ``lag`` steps back
    explains (how strong its trace in h_t is). Baseline: chance, ln 2 nats and 50%.

``clipping``    Next-step prediction of sine waves with plain SGD from a recurrent matrix
    scaled to spectral radius 2, without clipping and with clipping by the global norm at
    τ = 1. Baseline: predicting that the next value equals the current one.

``teacher_forcing``  Continue a sine wave after a 10-step prompt. Models are trained with
    teacher forcing or scheduled sampling on windows of 30 steps (shorter than the 70 that
    are scored) and of 70 steps (as long as what is scored), so that an error inside the
    trained length is told apart from an error beyond it. Scored on one fixed test set:
    the one-step error given the truth (clean and with noisy inputs) and the free-running
    error at every step after the prompt. Baselines: the one-step error of repeating the
    current value, and the free-running error of predicting 0 (a wave's mean).

The models are torch.nn's ``RNN`` and ``RNNCell``: they compute exactly the equations of
``rnnkit.RNNCell`` (``tests/test_cells.py`` holds it to them with copied weights) with the
time loop in compiled code, several times faster on a CPU.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import rnnkit
from rnnkit import sampling, tasks

RESULTS = Path(__file__).resolve().parents[1] / "results" / "bptt_experiments.json"
#: Seed of every test set; training batches are drawn from seeds 0, 1, 2, ... (one per step).
TEST_SEED = 10**6


@dataclass(frozen=True)
class Config:
    """Settings of all three experiments.

    seeds: one run per seed and condition (the clipping runs use ``clip_seeds``).
    echo_*: the truncation experiment: delay d, stream length, hidden units, steps, batch,
        Adam's learning rate, steps between evaluations, test streams, lags whose trace is measured.
    clip_*: the clipping experiment: seeds, steps, SGD learning rate, initial spectral
        radius of W, threshold τ, sequence length, batch.
    tf_*: the teacher-forcing experiment: training window lengths, steps, prompt and
        free-running horizon, test waves, input-noise levels, range of ω.
    """

    seeds: tuple[int, ...] = (0, 1, 2)
    echo_delay: int = 6
    echo_stream: int = 48
    echo_hidden: int = 32
    echo_steps: int = 400
    echo_batch: int = 32
    echo_lr: float = 1e-2
    echo_eval_every: int = 40
    echo_test: int = 500
    echo_lags: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    clip_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    clip_steps: int = 1500
    clip_lr: float = 0.1
    clip_rho: float = 2.0
    clip_tau: float = 1.0
    clip_T: int = 50
    clip_batch: int = 32
    tf_windows: tuple[int, ...] = (30, 70)
    tf_steps: int = 400
    tf_prompt: int = 10
    tf_horizon: int = 60
    tf_test: int = 500
    tf_sigmas: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2)
    tf_omega: tuple[float, float] = (0.2, 0.35)


#: The reduced setting CI runs: the same code, seconds instead of minutes.
REDUCED = Config(
    seeds=(0,),
    echo_steps=4,
    echo_eval_every=2,
    echo_test=40,
    clip_seeds=(0,),
    clip_steps=4,
    tf_windows=(30,),
    tf_steps=4,
    tf_horizon=12,
    tf_test=16,
)

#: The truncation experiment's conditions: label, chunk length k, which weights train.
ECHO_CONDITIONS = (
    ("k = 16, every weight", 16, "all"),
    ("k = 4, every weight", 4, "all"),
    ("k = 4, readout only", 4, "readout"),
    ("k = 4, recurrent layer only", 4, "recurrent"),
)


# ------------------------------------------------------------------ truncated BPTT


def echo_batch(batch_size: int, stream: int, delay: int, seed: int) -> tuple[Tensor, Tensor]:
    """Random signs and the sign ``delay`` steps back as the target class.

    Returns x: (T, B, 1) of ±1 and targets: (T, B), 0 for −1 and 1 for +1, with
    ``tasks.IGNORE_INDEX`` on the first ``delay`` steps, which have no target.
    """
    gen = torch.Generator().manual_seed(seed)
    bits = torch.randint(0, 2, (stream, batch_size), generator=gen)
    targets = torch.full((stream, batch_size), tasks.IGNORE_INDEX)
    targets[delay:] = bits[:-delay]
    return (2.0 * bits - 1.0).unsqueeze(-1), targets


class EchoNet(nn.Module):
    """A tanh RNN read by a linear layer into two classes, trained in chunks of ``chunk`` steps.

    hidden: H;  chunk: k, the length of the pieces the backward pass is cut into.
    """

    def __init__(self, hidden: int, chunk: int) -> None:
        super().__init__()
        self.rnn = nn.RNN(1, hidden)
        self.out = nn.Linear(hidden, 2)
        self.chunk = chunk

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x: (T, B, 1). Returns logits (T, B, 2) and the hidden states (T, B, H)."""
        state, states = None, []
        for piece in x.split(self.chunk):
            hs, state = self.rnn(piece, state)
            state = state.detach()  # the truncation: no gradient into the chunk before
            states.append(hs)
        hs = torch.cat(states)
        return self.out(hs), hs


def freeze(model: EchoNet, train: str) -> None:
    """Leave only the readout ("readout"), only the recurrent layer ("recurrent") or every
    weight ("all") trainable."""
    if train not in ("all", "readout", "recurrent"):
        raise ValueError(f"train must be 'all', 'readout' or 'recurrent', got {train!r}")
    for p in model.rnn.parameters():
        p.requires_grad_(train != "readout")
    for p in model.out.parameters():
        p.requires_grad_(train != "recurrent")


def trace_share(hs: Tensor, x: Tensor, lag: int) -> float:
    """The share of the state's variance that the sign ``lag`` steps back explains.

    Regress every unit of h_t on x_{t-lag} over all steps and streams; return the explained
    variance summed over units, divided by the total variance of h_t (0: no trace of that
    sign in the state; 1: the state is nothing but that sign). hs: (T, B, H);  x: (T, B, 1).
    """
    h = hs[lag:].flatten(0, 1).double()
    s = x[:-lag, :, 0].flatten().double()
    h, s = h - h.mean(0), s - s.mean()
    slope = (h * s[:, None]).mean(0) / (s * s).mean()
    return ((slope**2).sum() * (s * s).mean() / (h * h).mean(0).sum()).item()


def truncation_run(label: str, chunk: int, train: str, config: Config, seed: int) -> dict:
    """Train one EchoNet; record its loss per step and, every ``echo_eval_every`` steps, its
    test accuracy and the trace share of every lag in ``echo_lags``."""
    c = config
    device = rnnkit.get_device()
    rnnkit.seed_everything(seed)
    model = EchoNet(c.echo_hidden, chunk)
    freeze(model, train)
    x_test, y_test = echo_batch(c.echo_test, c.echo_stream, c.echo_delay, TEST_SEED)
    x_test, y_test = x_test.to(device), y_test.to(device)

    def evaluate(model: EchoNet) -> dict[str, float]:
        logits, hs = model(x_test)
        right = logits[c.echo_delay :].argmax(-1) == y_test[c.echo_delay :]
        traces = {f"trace_{lag}": trace_share(hs, x_test, lag) for lag in c.echo_lags}
        return {"accuracy": right.float().mean().item(), **traces}

    def loss_fn(model: EchoNet, batch: tuple[Tensor, Tensor]) -> Tensor:
        x, targets = batch
        logits, _ = model(x)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten())

    model.to(device).eval()
    with torch.no_grad():
        start = evaluate(model)
    history = rnnkit.fit(
        model,
        lambda step: echo_batch(c.echo_batch, c.echo_stream, c.echo_delay, seed * 10**5 + step),
        loss_fn,
        steps=c.echo_steps,
        lr=c.echo_lr,
        device=device,
        progress=False,
        eval_fn=evaluate,
        eval_every=c.echo_eval_every,
    )
    evals = {name: [start[name], *values] for name, values in history.metrics.items()}
    return {
        "label": label,
        "chunk": chunk,
        "train": train,
        "seed": seed,
        "loss": history.loss,
        "eval_steps": [0, *history.eval_steps],
        "accuracy": evals["accuracy"],
        "trace": {str(lag): evals[f"trace_{lag}"] for lag in c.echo_lags},
    }


# ------------------------------------------------------------------ clipping


class SineRegressor(nn.Module):
    """A tanh RNN whose W starts as a random orthogonal matrix times ``rho``, and a linear
    readout: x (T, B, 1) -> one prediction per step (T, B, 1)."""

    def __init__(self, hidden: int, rho: float) -> None:
        super().__init__()
        self.rnn = nn.RNN(1, hidden)
        self.out = nn.Linear(hidden, 1)
        with torch.no_grad():
            q, _ = torch.linalg.qr(torch.randn(hidden, hidden))
            self.rnn.weight_hh_l0.copy_(rho * q)  # every eigenvalue has modulus rho

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.rnn(x)[0])


def clipping_run(clip: float | None, config: Config, seed: int) -> dict:
    """Train one SineRegressor with SGD, clipped at ``clip`` or not; record the loss and the
    gradient norm before clipping at every step (up to the first non-finite loss, where an
    overflowed run stops), and the test MSE at the end (None when the run overflowed)."""
    c = config
    device = rnnkit.get_device()
    rnnkit.seed_everything(seed)
    model = SineRegressor(32, c.clip_rho)
    x_test, y_test = tasks.sine_wave(c.tf_test, c.clip_T, seed=TEST_SEED)

    def mse(model: SineRegressor, batch: tuple[Tensor, Tensor]) -> Tensor:
        x, target = batch
        return F.mse_loss(model(x), target)

    loss, grad_norm = [], []
    # Plain SGD keeps no state between steps, so training in pieces is the same as training
    # at once; a run whose loss has overflowed stops there (its loss stays NaN).
    while len(loss) < c.clip_steps and all(math.isfinite(v) for v in loss[-1:]):
        done = len(loss)
        piece = rnnkit.fit(
            model,
            lambda step, done=done: tasks.sine_wave(
                c.clip_batch, c.clip_T, seed=seed * 10**5 + done + step
            ),
            mse,
            steps=min(100, c.clip_steps - done),
            lr=c.clip_lr,
            optimizer="sgd",
            clip=clip,
            device=device,
            progress=False,
        )
        loss += piece.loss
        grad_norm += piece.grad_norm
    with torch.no_grad():
        test = mse(model.eval(), (x_test.to(device), y_test.to(device))).item()
    return {
        "clip": clip,
        "seed": seed,
        "loss": [v if math.isfinite(v) else None for v in loss],
        "grad_norm": [v if math.isfinite(v) else None for v in grad_norm],
        "test_mse": test if math.isfinite(test) else None,
    }


# ------------------------------------------------------------------ teacher forcing


class NextValue(nn.Module):
    """One step of a next-value predictor: read x_t (B, 1), update h, predict x_{t+1} (B, 1)."""

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.cell = nn.RNNCell(1, hidden)
        self.out = nn.Linear(hidden, 1)

    def step(self, x: Tensor, h: Tensor | None) -> tuple[Tensor, Tensor]:
        h = self.cell(x, h)
        return self.out(h), h


def same_value(y: Tensor) -> Tensor:
    """A predicted value is fed back as it is."""
    return y


def teacher_prob(method: str, step: int, steps: int) -> float:
    """Probability of feeding the true value: 1 for teacher forcing; for scheduled sampling
    falling linearly from 1 to 0.5 over the first 70% of the steps, then 0.5."""
    if method == "teacher forcing":
        return 1.0
    return sampling.linear_schedule(step, slope=0.5 / (0.7 * steps), floor=0.5)


def tf_test_set(config: Config) -> tuple[Tensor, Tensor]:
    """The waves every teacher-forcing model is scored on: (P + horizon, B, 1) twice."""
    c = config
    return tasks.sine_wave(c.tf_test, c.tf_prompt + c.tf_horizon, TEST_SEED, omega=c.tf_omega)


def teacher_forcing_run(method: str, window: int, config: Config, seed: int) -> dict:
    """Train one NextValue model on windows of ``window`` steps and score it on the test set.

    Returns its one-step MSE given the truth for each noise level in ``tf_sigmas`` (after the
    prompt) and its free-running MSE at each of the ``tf_horizon`` steps after the prompt.
    """
    c = config
    device = rnnkit.get_device()
    rnnkit.seed_everything(seed)
    coins = torch.Generator().manual_seed(seed)

    def batch(step: int) -> tuple[Tensor, Tensor, float]:
        x, y = tasks.sine_wave(64, window, seed=seed * 10**5 + step, omega=c.tf_omega)
        return x, y, teacher_prob(method, step, c.tf_steps)

    def loss_fn(model: NextValue, batch: tuple[Tensor, Tensor, float]) -> Tensor:
        x, target, p = batch
        out, _ = sampling.rollout(
            model.step, x, None, teacher_prob=p, feedback=same_value, generator=coins
        )
        return F.mse_loss(out, target)

    model = NextValue()
    rnnkit.fit(
        model, batch, loss_fn, steps=c.tf_steps, lr=1e-2, clip=1.0, device=device, progress=False
    )
    model.eval()
    x, target = (v.to(device) for v in tf_test_set(c))
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(TEST_SEED)).to(device)
    one_step = []
    with torch.no_grad():
        for sigma in c.tf_sigmas:
            noisy = x.clone()
            noisy[c.tf_prompt :] += sigma * noise[c.tf_prompt :]  # the prompt stays clean
            out, _ = sampling.rollout(
                model.step, noisy, None, teacher_prob=1.0, feedback=same_value
            )
            one_step.append(F.mse_loss(out[c.tf_prompt :], target[c.tf_prompt :]).item())
        free, _ = sampling.generate(
            model.step, x[: c.tf_prompt], None, steps=c.tf_horizon, feedback=same_value
        )
        # the prediction after the prompt is for target[P - 1], the value after the prompt
        truth = target[c.tf_prompt - 1 : c.tf_prompt - 1 + c.tf_horizon]
        free_error = ((free - truth) ** 2).mean(dim=(1, 2))
    return {
        "method": method,
        "window": window,
        "seed": seed,
        "one_step": one_step,
        "free": free_error.cpu().tolist(),
        "example": free[:, 0, 0].cpu().tolist(),
    }


def baselines(config: Config) -> dict:
    """The simple predictors every run is compared with, on the experiments' test sets."""
    c = config
    x_clip, y_clip = tasks.sine_wave(c.tf_test, c.clip_T, seed=TEST_SEED)
    x, target = tf_test_set(c)
    truth = target[c.tf_prompt - 1 :]
    return {
        "truncation_chance_loss": math.log(2),
        "truncation_chance_accuracy": 0.5,
        "clipping_copy_last_mse": F.mse_loss(x_clip, y_clip).item(),
        "teacher_forcing_copy_last_mse": F.mse_loss(x[c.tf_prompt :], target[c.tf_prompt :]).item(),
        "teacher_forcing_zero_mse": (truth**2).mean(dim=(1, 2)).tolist(),
    }


def _one(job: tuple[str, tuple], config: Config) -> dict:
    name, args = job
    torch.set_num_threads(1)  # tiny networks: a second thread only adds overhead
    runner = {"truncation": truncation_run, "clipping": clipping_run}.get(name, teacher_forcing_run)
    return runner(*args[:-1], config, args[-1])


def run(config: Config, jobs: int = 1, progress: bool = True) -> dict:
    """Every experiment, every condition and seed, in one JSON-ready dict; ``jobs`` processes."""
    from tqdm.auto import tqdm

    todo = [
        ("truncation", (label, k, train, seed))
        for label, k, train in ECHO_CONDITIONS
        for seed in config.seeds
    ]
    todo += [
        ("clipping", (clip, seed)) for clip in (None, config.clip_tau) for seed in config.clip_seeds
    ]
    todo += [
        ("teacher_forcing", (method, window, seed))
        for window in config.tf_windows
        for method in ("teacher forcing", "scheduled sampling")
        for seed in config.seeds
    ]
    results: dict = {"config": asdict(config), "baselines": baselines(config)}
    results.update({name: [] for name in ("truncation", "clipping", "teacher_forcing")})
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        done = pool.map(_one, todo, [config] * len(todo))
        for (name, _), record in tqdm(
            zip(todo, done, strict=True), total=len(todo), desc="runs", disable=not progress
        ):
            results[name].append(record)
    results["minutes"] = round((time.perf_counter() - start) / 60, 1)
    results["device"] = str(rnnkit.get_device())
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reduced", action="store_true", help="the seconds-long CI setting")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at the same time")
    args = parser.parse_args()
    results = run(REDUCED if args.reduced else Config(), jobs=args.jobs, progress=not args.quiet)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
