"""Character language models of Python's standard-library source, for chapter 10.

    .venv/bin/python scripts/language_model.py            # the committed results (~25 min)
    .venv/bin/python scripts/language_model.py --quick    # a smoke test (seconds)

Data: :func:`rnnkit.tasks.python_source_corpus`, its first 90% to train on and the last
10% (modules the training part does not contain) held out. Every score is bits per
character on the held-out text.

- Baselines: the uniform guess (log2 K) and :class:`rnnkit.ngram.CharNGram` of orders 1
  (unigram) to 5, fit on the training text.
- Cell types: an RNN, a GRU and an LSTM at about the same number of parameters (H = 250,
  148 and 128 with a 32-dimensional embedding: about 98,000 each), each trained from 3
  seeds on contiguous batches with the state carried across chunks (truncated BPTT), and
  scored with the state carried through the held-out text.
- What carrying buys: the LSTM again from the same seeds, trained with the state reset to
  zeros at every chunk; every LSTM is scored both with the state carried and reset every
  ``seq_len`` characters.

Results go to ``results/language_model.json``; the LSTM of seed 0 (carried state) to
``rnnkit/data/lm_lstm.pt``, the model chapter 10 samples from. The training loop is
assignment 10's answer (``rnnkit.answers.ch10_language_models.train_char_lm``).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from rnnkit.answers.ch10_language_models import train_char_lm
from rnnkit.lm import mean_nll
from rnnkit.ngram import CharNGram
from rnnkit.tasks import python_source_corpus

ROOT = Path(__file__).resolve().parents[1]
HIDDEN = {"rnn": 250, "gru": 148, "lstm": 128}  # about 98,000 parameters each
EMBEDDING = 32


def bits(nats: float) -> float:
    return nats / math.log(2)


def run(cell: str, hidden: int, seed: int, carry: bool, cfg: dict, train, held_out) -> dict:
    start = time.perf_counter()
    model, losses = train_char_lm(
        train,
        cfg["K"],
        hidden,
        cfg["steps"],
        seed,
        cell,
        cfg["batch_size"],
        cfg["seq_len"],
        cfg["lr"],
        carry,
    )
    every = max(1, cfg["steps"] // 20)
    return {
        "cell": cell,
        "hidden_size": hidden,
        "seed": seed,
        "carry": carry,
        "parameters": sum(p.numel() for p in model.parameters()),
        "bpc": bits(mean_nll(model, held_out)),
        "bpc_reset": bits(mean_nll(model, held_out, seq_len=cfg["seq_len"], carry=False)),
        "train_bpc_curve": [
            bits(sum(losses[i : i + every]) / len(losses[i : i + every]))
            for i in range(0, len(losses), every)
        ],
        "seconds": time.perf_counter() - start,
    }, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few steps, one seed")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "language_model.json")
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "rnnkit" / "data" / "lm_lstm.pt")
    args = parser.parse_args()
    torch.set_num_threads(1)
    corpus = python_source_corpus()
    train_part, held_part = corpus.split(0.9)
    train, held_out = train_part.data, held_part.data
    cfg = {
        "K": len(corpus.vocab),
        "steps": args.steps,
        "batch_size": 32,
        "seq_len": 64,
        "lr": 3e-3,
        "embedding_size": EMBEDDING,
        "train_chars": len(train),
        "held_out_chars": len(held_out),
    }
    orders, seeds = (1, 2, 3, 4, 5), args.seeds
    if args.quick:
        cfg["steps"], seeds, orders = 5, seeds[:1], (1, 2)
        train, held_out = train[:20_000], held_out[:3_000]
    results = {"config": cfg, "baselines": {"uniform": math.log2(cfg["K"])}, "runs": []}
    for n in tqdm(orders, desc="n-grams"):
        model = CharNGram(n, cfg["K"]).fit(train.numpy())
        results["baselines"][f"{n}-gram"] = model.bits_per_char(held_out.numpy())
    # the LSTM first: its seed-0 model is the checkpoint the chapter samples from
    plan = [(c, HIDDEN[c], s, True) for c in ("lstm", "gru", "rnn") for s in seeds]
    plan += [("lstm", HIDDEN["lstm"], s, False) for s in seeds]
    for cell, hidden, seed, carry in tqdm(plan, desc="models"):
        record, model = run(cell, hidden, seed, carry, cfg, train, held_out)
        results["runs"].append(record)
        tqdm.write(
            f"{cell} seed {seed} carry {carry}: {record['bpc']:.3f} bits/char "
            f"({record['seconds']:.0f} s)"
        )
        if cell == "lstm" and carry and seed == seeds[0]:
            torch.save(
                {
                    "vocab": corpus.vocab,
                    "hidden_size": hidden,
                    "cell": cell,
                    "embedding_size": EMBEDDING,
                    "state_dict": model.state_dict(),
                },
                args.checkpoint,
            )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")  # after every run
    print(f"wrote {args.out} and {args.checkpoint}")


if __name__ == "__main__":
    main()
