"""Deep bidirectional RNNs on the cloze task: 1, 2 and 3 layers, skips, and a wide layer.

    .venv/bin/python scripts/deep_rnn.py            # the full run, ~15 min on one core
    .venv/bin/python scripts/deep_rnn.py --reduced --out /tmp/deep.json   # seconds

Chapter 7's setting: windows of 24 characters of the course corpus with 3 of them blanked
(:mod:`rnnkit.cloze`), a tagger that answers at every step from a stack of bidirectional
tanh layers with 32 units per direction, Adam with learning rate 0.02, gradients clipped
to norm 1. Every model is trained once per seed; every ``Config.eval_every`` steps it is
scored on the same 256 held-out windows (768 blanks) cut from the last 10 % of the corpus.
"1 layer, wide" has one bidirectional layer with as many parameters as the 3-layer stacks,
to tell depth from size. The JSON written to ``--out`` (by default
``results/deep_rnn.json``, which chapter 7 plots) holds the settings, the baseline of
always answering the most frequent character, and each run's curves.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

import rnnkit
from rnnkit import cloze, tasks

RESULTS = Path(__file__).resolve().parents[1] / "results" / "deep_rnn.json"
#: (name, layers, skips, units per direction)
MODELS = (
    ("1 layer", 1, False, 32),
    ("2 layers", 2, False, 32),
    ("3 layers", 3, False, 32),
    ("3 layers + skips", 3, True, 32),
    ("1 layer, wide", 1, False, 69),
)


@dataclass(frozen=True)
class Config:
    """T: window length;  blanks: blanked characters per window;  batch_size: B;
    steps: Adam steps per run;  lr, clip: Adam's learning rate, gradient-norm clip;
    seeds: one run per seed and model;  eval_every: steps between held-out scores;
    held_out: held-out windows."""

    T: int = 24
    blanks: int = 3
    batch_size: int = 128
    steps: int = 400
    lr: float = 0.02
    clip: float = 1.0
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    eval_every: int = 50
    held_out: int = 256


#: The reduced setting CI runs: the same code, seconds instead of minutes.
REDUCED = Config(batch_size=16, steps=4, seeds=(0,), eval_every=2, held_out=16)
#: The seed of the held-out windows, which no run trains on.
HELD_OUT_SEED = 99


def bidirectional_layer(inputs: int, hidden: int) -> rnnkit.Bidirectional:
    """Two tanh chains of ``hidden`` units each reading ``inputs`` features."""
    return rnnkit.Bidirectional(rnnkit.RNNCell(inputs, hidden), rnnkit.RNNCell(inputs, hidden))


def deep_tagger(n_symbols: int, layers: int, skips: bool, hidden: int) -> cloze.ClozeTagger:
    """A cloze tagger over ``layers`` bidirectional layers; ``skips`` adds each upper
    layer's input to its output (``rnnkit.Residual``)."""
    stack: list[torch.nn.Module] = [bidirectional_layer(n_symbols + 1, hidden)]
    for _ in range(layers - 1):
        layer = bidirectional_layer(2 * hidden, hidden)
        stack.append(rnnkit.Residual(layer) if skips else layer)
    return cloze.ClozeTagger(rnnkit.Stacked(stack), n_symbols, 2 * hidden)


def run(config: Config, progress: bool = True) -> dict:
    """Train every model with every seed; returns the JSON-ready results."""
    torch.set_num_threads(1)  # tiny models: one thread beats several that wait
    device = rnnkit.get_device()
    corpus = tasks.char_corpus()
    train_text, val_text = corpus.split(0.9)
    K = len(corpus.vocab)
    x_val, y_val = next(
        cloze.cloze_batches(val_text, config.T, config.held_out, config.blanks, HELD_OUT_SEED)
    )
    x_val, y_val = x_val.to(device), y_val.to(device)
    frequent = torch.bincount(train_text.data, minlength=K).argmax().to(device)
    baseline = (y_val[y_val >= 0] == frequent).float().mean().item()
    runs = []
    for seed in config.seeds:
        for name, layers, skips, hidden in MODELS:
            rnnkit.seed_everything(seed)
            model = deep_tagger(K, layers, skips, hidden)
            hist = rnnkit.fit(
                model,
                cloze.cloze_batches(train_text, config.T, config.batch_size, config.blanks, seed),
                cloze.cloze_loss,
                steps=config.steps,
                lr=config.lr,
                clip=config.clip,
                device=device,
                progress=progress,
                eval_fn=lambda m: cloze.cloze_accuracy(m(x_val), y_val),
                eval_every=config.eval_every,
            )
            runs.append(
                {
                    "name": name,
                    "seed": seed,
                    "parameters": sum(p.numel() for p in model.parameters()),
                    "loss": [round(v, 4) for v in hist.loss],
                    "eval_steps": list(hist.eval_steps),
                    "accuracy": [round(v, 4) for v in hist.metrics["eval"]],
                }
            )
    return {"config": asdict(config), "baseline": round(baseline, 4), "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reduced", action="store_true", help="the seconds-long CI setting")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args()
    results = run(REDUCED if args.reduced else Config(), progress=not args.quiet)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
