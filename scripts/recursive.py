"""Recursive network vs a left-to-right GRU on the sign of arithmetic expressions.

Both models train on expressions of depth 1 to TRAIN_DEPTH and are tested on fresh
expressions of every depth up to TEST_DEPTH, deeper ones included, against the majority
class of the training labels and a bag-of-characters MLP, which cannot see order. The
recursive net and the GRU have about the same number of parameters. Several seeds;
results/recursive.json holds the accuracy per model, seed and depth, which
book/ch12_recursive.ipynb plots.

    python scripts/recursive.py            # the full run (about 8 min on one CPU core)
    python scripts/recursive.py --quick    # a few seconds, for the test; writes only with --out
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from rnnkit.train import seed_everything
from rnnkit.trees import (
    CHARS,
    RecursiveNet,
    SequenceClassifier,
    encode,
    label,
    parameter_count,
    random_expression,
    tokenize,
)

OUT = Path(__file__).resolve().parents[1] / "results" / "recursive.json"
FULL = dict(
    seeds=[0, 1, 2],
    n_train=5000,
    n_test=400,
    train_depth=4,
    test_depth=8,
    epochs=25,
    tree_hidden=32,
    gru_hidden=48,
    bag_hidden=64,
    batch_size=50,
    lr=0.005,
    ops="+-",
    p_neg=0.15,
)
KINDS = ("tree", "gru", "bag")
QUICK = FULL | dict(seeds=[0], n_train=200, n_test=20, test_depth=5, epochs=2)


def dataset(n: int, depths: list[int], seed: int, ops: str, p_neg: float) -> list[str]:
    """n expressions, their depths drawn uniformly from depths."""
    rng = np.random.default_rng(seed)
    return [random_expression(int(rng.choice(depths)), rng, ops, p_neg) for _ in range(n)]


def labels(exprs: list[str]) -> torch.Tensor:
    """The class of each expression: 1 if its value is positive."""
    return torch.tensor([label(e) for e in exprs])


class BagOfTokens(nn.Module):
    """The order-blind baseline: how often each character occurs, through a small MLP."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(len(CHARS), hidden_size), nn.Tanh(), nn.Linear(hidden_size, 2)
        )

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        counts = nn.functional.one_hot(tokens, len(CHARS)).sum(0).float()  # (B, |CHARS|)
        counts[:, 0] = 0  # padding is not a character
        return self.mlp(counts)


def make_model(kind: str, cfg: dict) -> nn.Module:
    if kind == "tree":
        return RecursiveNet(cfg["tree_hidden"])
    if kind == "gru":
        return SequenceClassifier(cfg["gru_hidden"])
    return BagOfTokens(cfg["bag_hidden"])


def logits(model: nn.Module, exprs: list[str]) -> torch.Tensor:
    if isinstance(model, RecursiveNet):
        return model(encode(exprs))
    return model(*tokenize(exprs))


def train(kind: str, train_exprs: list[str], seed: int, cfg: dict) -> nn.Module:
    """Adam on the cross-entropy of the sign, minibatches in a seeded order."""
    seed_everything(seed)
    model = make_model(kind, cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    y = labels(train_exprs)
    rng = np.random.default_rng(seed)
    B = cfg["batch_size"]
    for _ in tqdm(range(cfg["epochs"]), desc=f"{kind} seed {seed}", leave=False):
        order = rng.permutation(len(train_exprs))
        for i in range(0, len(order), B):
            idx = order[i : i + B]
            loss = nn.functional.cross_entropy(logits(model, [train_exprs[j] for j in idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model


@torch.no_grad()
def accuracy(model: nn.Module, exprs: list[str]) -> float:
    return float((logits(model, exprs).argmax(1) == labels(exprs)).float().mean())


def run(cfg: dict) -> dict:
    torch.set_num_threads(1)
    depths = list(range(1, cfg["test_depth"] + 1))
    out = {
        "config": cfg,
        "depths": depths,
        "accuracy": {k: {} for k in (*KINDS, "majority")},
        "params": {k: parameter_count(make_model(k, cfg)) for k in KINDS},
    }
    for seed in cfg["seeds"]:
        train_exprs = dataset(
            cfg["n_train"], list(range(1, cfg["train_depth"] + 1)), seed, cfg["ops"], cfg["p_neg"]
        )
        tests = {
            d: dataset(cfg["n_test"], [d], 1000 * (seed + 1) + d, cfg["ops"], cfg["p_neg"])
            for d in depths
        }
        majority = int(torch.bincount(labels(train_exprs), minlength=2).argmax())
        out["accuracy"]["majority"][seed] = [
            float((labels(tests[d]) == majority).float().mean()) for d in depths
        ]
        for kind in KINDS:
            t0 = time.time()
            model = train(kind, train_exprs, seed, cfg)
            out["accuracy"][kind][seed] = [accuracy(model, tests[d]) for d in depths]
            print(kind, seed, f"{time.time() - t0:.0f}s", np.round(out["accuracy"][kind][seed], 2))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny run, for the test")
    parser.add_argument(
        "--out", type=Path, help=f"where to write (default {OUT}; --quick: nowhere)"
    )
    args = parser.parse_args()
    result = run(QUICK if args.quick else FULL)
    out = args.out or (None if args.quick else OUT)
    if out is not None:
        out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {out}")
