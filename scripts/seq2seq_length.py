"""Sequence to sequence on sources longer than any seen in training, three encoders, seeds.

    .venv/bin/python scripts/seq2seq_length.py            # the full run (see --help)
    .venv/bin/python scripts/seq2seq_length.py --quick --out /tmp/s2s.json   # seconds

The task is chapter 8's: a number written in English words goes in, its digits come out
(:func:`rnnkit.tasks.number_to_words`, here up to 999 999, sources of 1 to 11 words plus
``<eos>``). Training draws only numbers of at most ``Config.train_words`` words (a word
length uniformly, then a number of that length), keeping a fifth of them aside; the test
set holds, for every source length of 1 to 11 words, up to ``Config.test_per_length``
numbers never trained on: held-out short ones and every longer one. Three models with the
same decoder size and, as near as whole units allow, the same number of parameters:

- ``fixed context``: the decoder sees the source only through the encoder's last state;
- ``attention``: bilinear attention over a one-directional GRU encoder;
- ``bidirectional + attention``: the same attention over a bidirectional encoder
  (Bahdanau et al., 2015), each direction with about half the units.

Each trains with teacher forcing and Adam, the learning rate falling along a cosine to
zero, long enough that the held-out short numbers stop improving (``curve`` records
that). Then greedy decoding translates the test set and the JSON records, per model and
seed and per source length, the exact-match rate and the fraction of target tokens right
(position by position, digits and ``<eos>``), and how errors follow errors: P(error at
step t+1 | error at t) and P(error at t+1 | every step up to t right), under teacher
forcing and running free. The baseline is a count model with no recurrence: at every
output position, the digit most often there in training among targets of sources with the
same number of words.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

import rnnkit
from rnnkit import tasks
from rnnkit.seq2seq import Decoder, DotProductAttention, Encoder, Seq2Seq, greedy_decode

RESULTS = Path(__file__).resolve().parents[1] / "results" / "seq2seq_length.json"
MODELS = ("fixed context", "attention", "bidirectional + attention")
MAX_WORDS = 11  # the longest source, 999 999 in words
DATA_SEED = 1234  # the split into training and test numbers, the same for every run


@dataclass
class Config:
    """Everything a run depends on."""

    train_words: int = 7
    hidden: int = 32
    embed: int = 32
    steps: int = 2000
    batch_size: int = 128
    lr: float = 0.01
    eval_every: int = 500
    test_per_length: int = 400
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])


QUICK = Config(
    hidden=8, embed=8, steps=20, batch_size=32, eval_every=10, test_per_length=20, seeds=[0, 1]
)


def split(config: Config) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """Training and test numbers by source length in words (without <eos>)."""
    by_words: dict[int, list[int]] = {n: [] for n in range(1, MAX_WORDS + 1)}
    for k in range(tasks.MAX_NUMBER + 1):
        by_words[len(tasks.number_to_words(k).split())].append(k)
    gen = torch.Generator().manual_seed(DATA_SEED)
    train, test = {}, {}
    for n, numbers in by_words.items():
        order = [numbers[i] for i in torch.randperm(len(numbers), generator=gen).tolist()]
        kept = len(order) // 5 if n <= config.train_words else len(order)
        test[n] = order[: min(kept, config.test_per_length)]
        if n <= config.train_words:
            train[n] = order[len(order) // 5 :]
    return train, test


def pairs(numbers: list[int]) -> list[tuple[str, str]]:
    return [(tasks.number_to_words(k), str(k)) for k in numbers]


def make_model(kind: str, config: Config, hidden: int) -> Seq2Seq:
    """One of MODELS; ``hidden`` is the decoder's H, or each encoder direction's units."""
    source_vocab, target_vocab = tasks.translation_vocabs()
    H = config.hidden
    if kind == "fixed context":
        encoder = Encoder(len(source_vocab), config.embed, hidden)
        decoder = Decoder(len(target_vocab), config.embed // 2, hidden, hidden)
    else:
        bidirectional = kind.startswith("bidirectional")
        encoder = Encoder(len(source_vocab), config.embed, hidden, 0, bidirectional)
        H_enc = encoder.output_size
        attention = DotProductAttention(H, H_enc)
        decoder = Decoder(len(target_vocab), config.embed // 2, H, H_enc, attention)
    return Seq2Seq(encoder, decoder, target_vocab.BOS, target_vocab.EOS, target_vocab.PAD)


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def matched_sizes(config: Config) -> dict[str, int]:
    """The size for each model whose parameter count is closest to the attention model's."""
    target = count(make_model("attention", config, config.hidden))
    H = config.hidden
    return {
        "fixed context": min(
            range(H, 2 * H), key=lambda h: abs(count(make_model(MODELS[0], config, h)) - target)
        ),
        "attention": H,
        "bidirectional + attention": min(
            range(H // 4, H + 1),
            key=lambda h: abs(count(make_model(MODELS[2], config, h)) - target),
        ),
    }


def train(
    model: Seq2Seq,
    train_set: dict[int, list[int]],
    check: list[int],
    config: Config,
    seed: int,
    label: str,
) -> list[dict]:
    """Teacher forcing, Adam with a cosine schedule; returns held-out exact match over steps."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / config.steps))
    )
    lengths = list(train_set)
    curve = []
    for step in tqdm(range(1, config.steps + 1), desc=label, leave=False, mininterval=5):
        words = torch.randint(len(lengths), (config.batch_size,), generator=gen).tolist()
        picks = [
            train_set[lengths[w]][
                int(torch.randint(len(train_set[lengths[w]]), (1,), generator=gen))
            ]
            for w in words
        ]
        src, src_lengths, tgt, _ = tasks.translation_batch(pairs(picks))
        model.train()
        logits, _ = model(src, src_lengths, tgt[:-1])
        loss = F.cross_entropy(logits.flatten(0, 1), tgt[1:].flatten(), ignore_index=0)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        schedule.step()
        if step % config.eval_every == 0 or step == config.steps:
            exact = float(evaluate(model, check)["exact"].float().mean())
            curve.append(
                {
                    "step": step,
                    "loss": round(loss.item(), 5),
                    "held_out_short_exact": round(exact, 4),
                }
            )
    return curve


@torch.no_grad()
def evaluate(model: Seq2Seq, numbers: list[int]) -> dict[str, torch.Tensor]:
    """Greedy and teacher-forced errors on ``numbers``: per example and per target step."""
    model.eval()
    src, src_lengths, tgt, tgt_lengths = tasks.translation_batch(pairs(numbers))
    targets = tgt[1:]
    real = torch.arange(len(targets))[:, None] < (tgt_lengths - 1)[None]  # (T, B) digits, eos
    free, _, _ = greedy_decode(model, src, src_lengths, max_len=len(targets) + 1)
    free = F.pad(free, (0, 0, 0, max(0, len(targets) - len(free))))[: len(targets)]
    forced = model(src, src_lengths, tgt[:-1])[0].argmax(-1)
    free_wrong, forced_wrong = (free != targets) & real, (forced != targets) & real
    decoded = [tasks.translation_vocabs()[1].decode(free[:, b]) for b in range(len(numbers))]
    exact = torch.tensor(["".join(d) == str(k) for d, k in zip(decoded, numbers, strict=True)])
    return {"exact": exact, "real": real, "free_wrong": free_wrong, "forced_wrong": forced_wrong}


def compounding(wrong: torch.Tensor, real: torch.Tensor) -> dict[str, float | int]:
    """P(wrong at t+1 | wrong at t) and P(wrong at t+1 | right at every step up to t)."""
    both = real[:-1] & real[1:]
    after_wrong = wrong[:-1] & both
    prefix_right = (wrong.cumsum(0) == 0)[:-1] & both
    return {
        "n_after_error": int(after_wrong.sum()),
        "p_error_after_error": float(
            (wrong[1:] & after_wrong).sum() / after_wrong.sum().clamp(min=1)
        ),
        "n_after_right_prefix": int(prefix_right.sum()),
        "p_error_after_right_prefix": float(
            (wrong[1:] & prefix_right).sum() / prefix_right.sum().clamp(min=1)
        ),
    }


def count_baseline(
    train_set: dict[int, list[int]], test: dict[int, list[int]]
) -> dict[str, list[float]]:
    """Per position, the commonest training digit for sources of the same length (for
    sources longer than any in training, of the longest training length)."""
    exact, tokens = [], []
    for n, numbers in test.items():
        seen = train_set.get(n) or train_set[max(train_set)]
        columns = [
            Counter(s[t] if t < len(s) else "$" for s in map(str, seen)).most_common(1)[0][0]
            for t in range(7)
        ]
        guess = "".join(columns).split("$")[0]
        exact.append(sum(guess == str(k) for k in numbers) / len(numbers))
        padded = [(guess + "$", str(k) + "$") for k in numbers]
        right = sum(a == b for g, t in padded for a, b in zip(g, t, strict=False))
        tokens.append(right / sum(len(str(k)) + 1 for k in numbers))
    return {"exact": exact, "token": tokens}


def run(config: Config, out: Path, quiet: bool = False) -> dict:
    train_set, test = split(config)
    sizes = matched_sizes(config)
    check = [k for n in range(1, config.train_words + 1) for k in test[n][:50]]
    lengths = [n for n in test if test[n]]
    results: dict = {
        "config": asdict(config),
        "lengths": lengths,
        "test_counts": [len(test[n]) for n in lengths],
        "train_counts": [len(train_set.get(n, [])) for n in lengths],
        "baseline": count_baseline(train_set, {n: test[n] for n in lengths}),
        "models": {},
    }
    start = time.time()
    for kind in MODELS:
        runs = []
        for seed in config.seeds:
            torch.manual_seed(seed)
            model = make_model(kind, config, sizes[kind])
            curve = train(model, train_set, check, config, seed, f"{kind}, seed {seed}")
            every = evaluate(model, [k for n in lengths for k in test[n]])
            ends = torch.tensor([len(test[n]) for n in lengths]).cumsum(0).tolist()
            exact, token = [], []
            for first, last in zip([0, *ends[:-1]], ends, strict=True):
                exact.append(round(float(every["exact"][first:last].float().mean()), 4))
                real, wrong = every["real"][:, first:last], every["free_wrong"][:, first:last]
                token.append(round(1 - float(wrong.sum() / real.sum()), 4))
            runs.append(
                {
                    "seed": seed,
                    "curve": curve,
                    "exact": exact,
                    "token": token,
                    "free": compounding(every["free_wrong"], every["real"]),
                    "forced": compounding(every["forced_wrong"], every["real"]),
                }
            )
            if not quiet:
                print(
                    f"{kind:>26}, seed {seed}: exact by length {exact}",
                    f"({time.time() - start:.0f} s)",
                )
        results["models"][kind] = {"size": sizes[kind], "parameters": count(model), "runs": runs}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {out}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tiny run that takes seconds")
    parser.add_argument("--steps", type=int, help="training steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", help="training seeds")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    config = QUICK if args.quick else Config()
    if args.steps:
        config.steps = args.steps
    if args.seeds:
        config.seeds = args.seeds
    torch.set_num_threads(1)  # tiny models: a second thread costs more than it saves
    rnnkit.seed_everything(0)
    run(config, args.out, args.quiet)


if __name__ == "__main__":
    main()
