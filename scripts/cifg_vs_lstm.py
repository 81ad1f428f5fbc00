"""The coupled-gate LSTM (CIFG) against the LSTM on real text, with count-model baselines.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/cifg_vs_lstm.py --jobs 3   # ~6 min CPU
    .venv/bin/python scripts/cifg_vs_lstm.py --quick --out /tmp/cifg.json  # seconds

Character-level language models of the Python standard library's docstrings
(:func:`rnnkit.tasks.python_docs_corpus`, 200 KB): the first 90% trains, the last 10% is
held out and scored. Each model embeds the characters, runs one recurrent layer and
predicts the next character at every step; the contenders differ only in the cell:

- the LSTM with H units;
- the CIFG with the same H (3/4 of the LSTM's recurrent parameters);
- the CIFG with more units, so that its recurrent layer has about as many parameters.

Every contender trains once per seed; a seed fixes the initial weights *and* the batches,
so the contenders of one seed see the same windows in the same order and their scores can
be compared pair by pair. The baselines are smoothed character n-gram models
(:class:`rnnkit.ngram.CharNGram`) of every order from 1 (unigram) up, fit on the same
training text and scored on the same held-out text.

The CIFG runs through torch's fused LSTM kernel with its forget block tied to minus the
input block: σ(−a) = 1 − σ(a), so this computes exactly ``rnnkit.CoupledLSTMCell``
(``tests/test_cifg_script.py`` holds it to that with copied weights), several times
faster on a CPU than a loop over the cell. The JSON written to ``--out`` (by default
``results/cifg_vs_lstm.json``, which chapter 5 plots) holds the settings, the baselines
and each run's curves.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

import rnnkit
from rnnkit.ngram import CharNGram
from rnnkit.tasks import python_docs_corpus

RESULTS = Path(__file__).resolve().parents[1] / "results" / "cifg_vs_lstm.json"


@dataclass(frozen=True)
class ModelSpec:
    """One contender.  name: label in plots and JSON;  kind: "lstm" or "cifg";  hidden: H."""

    name: str
    kind: str
    hidden: int


#: A 113-unit CIFG layer has 3·113·(32 + 113 + 2) = 49,833 parameters, the 96-unit LSTM
#: 4·96·(32 + 96 + 2) = 49,920.
MODELS = (
    ModelSpec("LSTM", "lstm", 96),
    ModelSpec("CIFG", "cifg", 96),
    ModelSpec("CIFG, matched parameters", "cifg", 113),
)


@dataclass(frozen=True)
class Config:
    """Settings of one experiment (every model, every seed).

    embed: embedding size;  seq_len: T of a training window;  batch_size: B;
    steps: Adam steps per run;  lr: learning rate;  clip: gradient-norm clip;
    seeds: one run per seed and model;  eval_every: steps between held-out scores;
    train_fraction: share of the corpus that trains;  streams: parallel streams the
    held-out text is cut into for scoring;  ngram_orders: the count models' orders;
    ngram_discount: their discount d.
    """

    embed: int = 32
    seq_len: int = 64
    batch_size: int = 32
    steps: int = 1500
    lr: float = 3e-3
    clip: float = 1.0
    seeds: tuple[int, ...] = (0, 1, 2)
    eval_every: int = 250
    train_fraction: float = 0.9
    streams: int = 32
    ngram_orders: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    ngram_discount: float = 0.75
    models: tuple[ModelSpec, ...] = field(default=MODELS)


#: The reduced setting CI runs: the same code, seconds instead of minutes.
QUICK = Config(
    steps=40,
    seeds=(0,),
    eval_every=20,
    ngram_orders=(1, 2),
    models=(ModelSpec("LSTM", "lstm", 16), ModelSpec("CIFG", "cifg", 16)),
)


class FusedCIFG(nn.Module):
    """One CIFG layer over a whole sequence, by torch's fused LSTM with f's block = −i's.

    Parameters as ``rnnkit.CoupledLSTMCell``: ``weight_ih`` (3H, I), ``weight_hh``
    (3H, H), ``bias_ih`` and ``bias_hh`` (3H,), blocks i, g, o; initialised like it.
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(3 * hidden_size))
        bound = 1 / math.sqrt(hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """x: (T, B, I) -> hs: (T, B, H), from a zero state."""
        zeros = x.new_zeros(1, x.shape[1], self.hidden_size)
        weights = []
        for w in (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh):
            w_i, w_g, w_o = w.chunk(3)
            weights.append(torch.cat([w_i, -w_i, w_g, w_o]))  # σ(−a_i) = 1 − i
        hs, _, _ = torch.lstm(x, (zeros, zeros), weights, True, 1, 0.0, self.training, False, False)
        return hs


class CharModel(nn.Module):
    """Embedding -> one recurrent layer -> logits for the next character, at every step.

    kind: "lstm" or "cifg";  vocab: K;  hidden: H;  embed: embedding size.
    """

    def __init__(self, kind: str, vocab: int, hidden: int, embed: int) -> None:
        super().__init__()
        if kind not in ("lstm", "cifg"):
            raise ValueError(f"kind must be 'lstm' or 'cifg', got {kind!r}")
        self.embed = nn.Embedding(vocab, embed)
        self.rnn = nn.LSTM(embed, hidden) if kind == "lstm" else FusedCIFG(embed, hidden)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x: Tensor) -> Tensor:
        """x: (T, B) character ids -> (T, B, K) logits."""
        hs = self.rnn(self.embed(x))
        return self.head(hs[0] if isinstance(hs, tuple) else hs)


def parameter_count(module: nn.Module) -> int:
    """Number of trainable numbers in ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def as_streams(data: Tensor, streams: int) -> tuple[Tensor, Tensor]:
    """Cut a text (N,) into ``streams`` equal pieces read side by side from their starts.

    Returns x, y: (N // streams − 1, streams) with y the character after x.
    """
    length = len(data) // streams
    pieces = data[: length * streams].view(streams, length).T
    return pieces[:-1].contiguous(), pieces[1:].contiguous()


def bits_per_char(model: CharModel, x: Tensor, y: Tensor) -> float:
    """Mean cross-entropy of ``model`` on (x, y), in bits per character."""
    with torch.no_grad():
        logits = model(x)
        return F.cross_entropy(logits.flatten(0, 1), y.flatten()).item() / math.log(2)


def ngram_baselines(config: Config, train: Tensor, held_out: Tensor, vocab: int) -> dict:
    """Held-out bits per character of a count model of each order in the config.

    The held-out text is cut into the same streams as for the recurrent models, and each
    stream is scored from its start, so both kinds of model predict the same characters
    from the same context.
    """
    x, y = as_streams(held_out, config.streams)
    pieces = torch.cat([x[:1], y]).T.numpy()  # (streams, length)
    scores = {}
    for order in config.ngram_orders:
        model = CharNGram(order, vocab, config.ngram_discount).fit(train.numpy())
        scores[str(order)] = float(np.mean([model.bits_per_char(p) for p in pieces]))
    return scores


def train_one(spec: ModelSpec, config: Config, seed: int, corpus, progress: bool) -> dict:
    """Train one contender and score it on held-out text as it learns.

    Returns the settings, the parameter counts, the evaluation ``steps`` with the held-out
    and training-text bits per character at each, and the mean training loss between them.
    """
    torch.set_num_threads(1)
    train_text, held_out = corpus.split(config.train_fraction)
    valid_x, valid_y = as_streams(held_out.data, config.streams)
    # a slice of the training text as long as the held-out text, to see overfitting
    fit_x, fit_y = as_streams(train_text.data[: len(held_out.data)], config.streams)
    rnnkit.seed_everything(seed)
    model = CharModel(spec.kind, len(corpus.vocab), spec.hidden, config.embed)

    def loss(model: CharModel, batch: tuple[Tensor, Tensor]) -> Tensor:
        x, y = batch
        return F.cross_entropy(model(x).flatten(0, 1), y.flatten())

    def evaluate(model: CharModel) -> dict[str, float]:
        return {
            "held_out": bits_per_char(model, valid_x, valid_y),
            "train_text": bits_per_char(model, fit_x, fit_y),
        }

    history = rnnkit.fit(
        model,
        train_text.batches(config.seq_len, config.batch_size, seed),
        loss,
        steps=config.steps,
        lr=config.lr,
        clip=config.clip,
        device="cpu",
        progress=progress,
        eval_fn=evaluate,
        eval_every=config.eval_every,
    )
    steps = history.eval_steps
    losses = np.array(history.loss) / math.log(2)
    edges = list(zip([0, *steps[:-1]], steps, strict=True))
    return {
        **asdict(spec),
        "seed": seed,
        "parameters": parameter_count(model),
        "recurrent_parameters": parameter_count(model.rnn),
        "steps": steps,
        "held_out": history.metrics["held_out"],
        "train_text": history.metrics["train_text"],
        "train_loss": [float(losses[a:b].mean()) for a, b in edges],
    }


def paired_differences(runs: list[dict], first: str, second: str) -> dict:
    """Per-seed final held-out bits/char of ``first`` minus ``second``, mean and standard
    error (None with one seed)."""
    final = {(r["name"], r["seed"]): r["held_out"][-1] for r in runs}
    seeds = sorted({r["seed"] for r in runs})
    diff = [final[first, s] - final[second, s] for s in seeds]
    se = float(np.std(diff, ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else None
    return {"seeds": seeds, "difference": diff, "mean": float(np.mean(diff)), "se": se}


def run(config: Config, progress: bool = True, jobs: int = 1) -> dict:
    """Every model and seed of ``config``, the baselines and the paired differences.

    jobs: runs trained at the same time, each in its own process on one thread.
    """
    torch.set_num_threads(1)
    corpus = python_docs_corpus()
    train_text, held_out = corpus.split(config.train_fraction)
    start = time.time()
    baselines = ngram_baselines(config, train_text.data, held_out.data, len(corpus.vocab))
    todo = [(spec, config, seed, corpus) for seed in config.seeds for spec in config.models]
    if jobs == 1:
        runs = [train_one(*job, progress=progress) for job in tqdm(todo, disable=not progress)]
    else:
        with ProcessPoolExecutor(jobs) as pool:
            futures = [pool.submit(train_one, *job, progress=False) for job in todo]
            runs = [f.result() for f in tqdm(futures, desc="runs", disable=not progress)]
    names = [m.name for m in config.models]
    return {
        "config": asdict(config),
        "vocab": len(corpus.vocab),
        "characters": {"train": len(train_text), "held_out": len(held_out)},
        "ngram": baselines,
        "uniform": math.log2(len(corpus.vocab)),
        "runs": runs,
        "paired": {f"{names[0]} - {n}": paired_differences(runs, names[0], n) for n in names[1:]},
        "seconds": round(time.time() - start),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the seconds-long CI setting")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at the same time")
    args = parser.parse_args()
    results = run(QUICK if args.quick else Config(), progress=not args.quiet, jobs=args.jobs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    for name, pair in results["paired"].items():
        se = "" if pair["se"] is None else f" ± {pair['se']:.4f}"
        print(f"{name}: {pair['mean']:+.4f}{se} bits/char (mean ± SE over seeds)")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
