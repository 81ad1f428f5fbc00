"""Train chapter 9's models: the copy DNC, a parameter-matched LSTM, and a DNC that must free.

    .venv/bin/python scripts/train_dnc.py            # everything, one thread (several minutes)
    .venv/bin/python scripts/train_dnc.py --quick --results-dir /tmp/r --data-dir /tmp/d
    .venv/bin/python scripts/train_dnc.py --only lstm --seeds 0 1 2

Three experiments, each on ``--seeds`` (0, 1, 2), results under ``--results-dir``:

copy (``dnc_copy.json``, and the checkpoint ``dnc_copy.pt`` of seed ``--checkpoint-seed``)
    The copy protocol of the chapter. Each step draws a length S uniformly from 1 …
    ``--max-len`` and a batch of ``rnnkit.tasks.copy_task`` sequences of that length; the
    loss is the cross-entropy over the S recall steps. Every 1000 steps, and at the end,
    the fraction of sequences copied exactly (every symbol right) at each length 1 … 16.
lstm (``dnc_lstm.json``)
    The same protocol for a ``torch.nn.LSTM`` with a linear read-out whose hidden size
    gives it as many parameters as the DNC (H = 72: 23 766 against 23 774), trained 4.5
    times as many steps; evaluated the same way (so also after the DNC's number of steps).
reverse (``dnc_reverse.json``, and the checkpoint ``dnc_reverse.pt`` of seed 0)
    A DNC with too small a memory for its input: each episode is ``--episodes`` copy
    tasks in a row, each of 1 … ``--reverse-max-len`` symbols to be recalled *in reverse
    order*, into ``--reverse-slots`` slots, fewer than an episode's symbols: it has to
    reuse slots, which it can do by freeing the slots it has read (free gates).
backward (``dnc_backward.json``, and the checkpoint ``dnc_backward.pt`` of seed 0)
    One copy of 1 … ``--backward-max-len`` symbols recalled in reverse order, with
    ``--slots`` slots, for ``--backward-steps`` steps: a model that reads backwards along
    the links.

The seed fixes the initial weights and the stream of batches, and a run is deterministic
on the CPU, so the seeds may also run as separate processes (``--seeds 0``, ``--seeds 1``,
...) whose "runs" lists join into the same files; the committed results were made so, on a
busy shared machine (``seconds`` in the JSON is wall time there, not a benchmark).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import rnnkit
from rnnkit.dnc import COPY_CHECKPOINT, DNC
from rnnkit.tasks import copy_task

DATA_DIR = COPY_CHECKPOINT.parent
RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"
EXPERIMENTS = ("copy", "lstm", "reverse", "backward")
#: Evaluation: this many fresh sequences per length, from this seed (plus the length).
EVAL_SEQUENCES, EVAL_SEED = 200, 2024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=EXPERIMENTS, default=list(EXPERIMENTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=2000, help="DNC steps on the copy task")
    parser.add_argument("--lstm-steps", type=int, default=9000, help="LSTM steps")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-len", type=int, default=8, help="longest sequence in training")
    parser.add_argument("--eval-max-len", type=int, default=16, help="longest one evaluated")
    parser.add_argument("--symbols", type=int, default=6, help="K, distinct symbols")
    parser.add_argument("--hidden", type=int, default=64, help="H, DNC controller units")
    parser.add_argument("--lstm-hidden", type=int, default=72, help="H of the LSTM baseline")
    parser.add_argument("--slots", type=int, default=16, help="N, memory slots")
    parser.add_argument("--word", type=int, default=8, help="D, numbers per slot")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--clip", type=float, default=10.0, help="gradient-norm clip")
    parser.add_argument("--checkpoint-seed", type=int, default=1)
    parser.add_argument("--reverse-steps", type=int, default=1200)
    parser.add_argument("--reverse-max-len", type=int, default=4)
    parser.add_argument("--episodes", type=int, default=3, help="copy tasks per sequence")
    parser.add_argument("--reverse-slots", type=int, default=6)
    parser.add_argument("--reverse-seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--backward-steps", type=int, default=1000)
    parser.add_argument("--backward-max-len", type=int, default=8)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--quick", action="store_true", help="tiny models, a few steps")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps = args.lstm_steps = args.reverse_steps = args.backward_steps = 4
        args.backward_max_len = 3
        args.batch_size, args.max_len, args.eval_max_len = 4, 3, 4
        args.symbols, args.hidden, args.lstm_hidden, args.slots, args.word = 3, 8, 8, 4, 2
        args.reverse_max_len, args.episodes, args.reverse_slots = 2, 2, 3
    return args


# ---------------------------------------------------------------------------------------
# Models and tasks
# ---------------------------------------------------------------------------------------


class LSTMBaseline(nn.Module):
    """torch.nn.LSTM (I -> H) and a linear read-out (H -> K), called like :class:`DNC`."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size)
        self.output = nn.Linear(hidden_size, output_size)

    def forward(self, x: Tensor) -> tuple[Tensor, None]:
        """x: (T, B, I).  Returns the logits (T, B, K) and None (no state kept)."""
        h, _ = self.lstm(x)
        return self.output(h), None


def reverse_copies(
    batch_size: int, lengths: list[int], n_symbols: int, seed: int | torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    """Copy tasks in a row, each recalled backwards.

    Each part is ``rnnkit.tasks.copy_task(batch_size, S, n_symbols)`` for S in ``lengths``
    (2S + 1 steps) with its S targets reversed; the parts are joined in time.
    Returns x: (T, B, K+1);  y: (T, B);  mask: (T, B), T = Σ (2S + 1).
    """
    gen = torch.Generator().manual_seed(seed) if isinstance(seed, int) else seed
    xs, ys, masks = [], [], []
    for S in lengths:
        x, y, mask = copy_task(batch_size, S, n_symbols, gen)
        y[S + 1 :] = y[S + 1 :].flip(0)
        xs.append(x), ys.append(y), masks.append(mask)
    return torch.cat(xs), torch.cat(ys), torch.cat(masks)


def sequence_loss(model: nn.Module, batch: tuple[Tensor, Tensor]) -> Tensor:
    """Cross-entropy over the recall steps (the others hold IGNORE_INDEX)."""
    x, y = batch
    logits, _ = model(x)
    return F.cross_entropy(logits.flatten(0, 1), y.flatten())


@torch.no_grad()
def scores(
    model: nn.Module, x: Tensor, y: Tensor, mask: Tensor, write_off_from: int | None = None
) -> tuple[float, float]:
    """(fraction of recalled symbols right, fraction of sequences with all of them right).

    write_off_from: for a DNC, the step from which its write gate is held at 0.
    """
    device = next(model.parameters()).device
    if write_off_from is None:
        logits, _ = model(x.to(device))
    else:
        clamp = {"write_gate": 0.0}
        logits = model.trace(x.to(device), clamp=clamp, clamp_from=write_off_from)["logits"]
    right = (logits.argmax(-1).cpu() == y) | ~mask
    return right[mask].float().mean().item(), right.all(dim=0).float().mean().item()


def copy_scores(model: nn.Module, max_len: int, n_symbols: int) -> dict[str, float]:
    """{"exact/S": ..., "symbols/S": ...} for each length S = 1 … max_len; for a DNC also
    "exact_write_off/S", with the write gate held at 0 from the first recall step."""
    out = {}
    for S in range(1, max_len + 1):
        batch = copy_task(EVAL_SEQUENCES, S, n_symbols, EVAL_SEED + S)
        symbols, exact = scores(model, *batch)
        out[f"exact/{S}"], out[f"symbols/{S}"] = round(exact, 4), round(symbols, 4)
        if isinstance(model, DNC):
            out[f"exact_write_off/{S}"] = round(scores(model, *batch, write_off_from=S + 1)[1], 4)
    return out


def reverse_scores(model: nn.Module, args: argparse.Namespace) -> dict[str, float]:
    """Exact recall of whole episodes: random part lengths, and every part of the longest."""
    gen = torch.Generator().manual_seed(EVAL_SEED)
    random = [random_lengths(args.reverse_max_len, args.episodes, gen) for _ in range(20)]
    exact_random = sum(
        scores(model, *reverse_copies(EVAL_SEQUENCES // 20, lengths, args.symbols, gen))[1]
        for lengths in random
    )
    longest = [args.reverse_max_len] * args.episodes
    symbols, exact = scores(model, *reverse_copies(EVAL_SEQUENCES, longest, args.symbols, gen))
    return {
        "exact/random": round(exact_random / len(random), 4),
        "exact/longest": round(exact, 4),
        "symbols/longest": round(symbols, 4),
    }


def random_lengths(max_len: int, count: int, gen: torch.Generator) -> list[int]:
    """``count`` lengths drawn uniformly from 1 … max_len."""
    return torch.randint(1, max_len + 1, (count,), generator=gen).tolist()


# ---------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------


def train(
    model: nn.Module,
    batch: Callable[[int], tuple[Tensor, Tensor]],
    evaluate: Callable[[nn.Module], dict[str, float]],
    steps: int,
    args: argparse.Namespace,
    label: str,
) -> dict:
    """Adam as ``args`` say; returns the run's record (loss by 50-step window, evals)."""
    start = time.perf_counter()
    history = rnnkit.fit(
        model,
        batch,
        sequence_loss,
        steps=steps,
        lr=args.lr,
        clip=args.clip,
        device=rnnkit.get_device(),
        progress=not args.quiet,
        eval_fn=evaluate,
        eval_every=1000,
    )
    seconds = time.perf_counter() - start
    window = min(50, steps)
    loss = torch.tensor(history.loss)
    loss = loss[: len(loss) // window * window].reshape(-1, window).mean(1)
    if not args.quiet:
        print(f"{label}: {steps} steps in {seconds:.0f} s, last eval {history.metrics}")
    return {
        "loss_window": window,
        "loss": [round(v, 5) for v in loss.tolist()],
        "eval_steps": history.eval_steps,
        "eval": history.metrics,
        "seconds": round(seconds, 1),
        "history": history,
    }


def copy_batches(args: argparse.Namespace, seed: int) -> Callable[[int], tuple[Tensor, Tensor]]:
    """The copy protocol's batch for each step: one length from 1 … max_len per batch."""
    gen = torch.Generator().manual_seed(seed)

    def batch(step: int) -> tuple[Tensor, Tensor]:
        length = int(torch.randint(1, args.max_len + 1, (1,), generator=gen))
        x, y, _ = copy_task(args.batch_size, length, args.symbols, gen)
        return x, y

    return batch


def run_copy(args: argparse.Namespace, seed: int, lstm: bool) -> tuple[nn.Module, dict]:
    """One seed of the copy protocol, for the DNC or the LSTM baseline."""
    rnnkit.seed_everything(seed)
    K = args.symbols
    if lstm:
        model: nn.Module = LSTMBaseline(K + 1, args.lstm_hidden, K)
    else:
        model = DNC(K + 1, args.hidden, K, memory_slots=args.slots, word_size=args.word)
    steps = args.lstm_steps if lstm else args.steps
    record = train(
        model,
        copy_batches(args, seed),
        lambda m: copy_scores(m, args.eval_max_len, K),
        steps,
        args,
        f"{'LSTM' if lstm else 'DNC'} copy, seed {seed}",
    )
    return model, {"seed": seed, **record}


def run_reverse(args: argparse.Namespace, seed: int) -> tuple[DNC, dict]:
    """One seed of the reverse copies with a small memory."""
    rnnkit.seed_everything(seed)
    K = args.symbols
    model = DNC(K + 1, args.hidden, K, memory_slots=args.reverse_slots, word_size=args.word)
    gen = torch.Generator().manual_seed(seed)

    def batch(step: int) -> tuple[Tensor, Tensor]:
        lengths = random_lengths(args.reverse_max_len, args.episodes, gen)
        x, y, _ = reverse_copies(args.batch_size, lengths, K, gen)
        return x, y

    record = train(
        model,
        batch,
        lambda m: reverse_scores(m, args),
        args.reverse_steps,
        args,
        f"DNC reverse, seed {seed}",
    )
    return model, {"seed": seed, **record}


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------


def write_json(path: Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")


def protocol(args: argparse.Namespace, *names: str) -> dict:
    return {name: getattr(args, name) for name in names}


def save_checkpoint(model: DNC, record: dict, settings: dict, path: Path) -> None:
    """The model and how it was trained, as ``DNC.from_checkpoint`` reads it."""
    history = record["history"]
    path.parent.mkdir(parents=True, exist_ok=True)
    notes = {**settings, "seed": record["seed"], "seconds": record["seconds"]}
    torch.save(model.checkpoint(**notes, loss=[round(v, 5) for v in history.loss]), path)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if rnnkit.get_device().type == "cpu":
        # The matrices are tiny: extra threads cost more in hand-offs than they save.
        torch.set_num_threads(1)
    common = ("batch_size", "max_len", "eval_max_len", "symbols", "lr", "clip")
    evaluation = {"sequences": EVAL_SEQUENCES, "seed": EVAL_SEED}

    if "copy" in args.only or "lstm" in args.only:
        for lstm in (False, True):
            if ("lstm" if lstm else "copy") not in args.only:
                continue
            runs = []
            for seed in args.seeds:
                model, record = run_copy(args, seed, lstm)
                if not lstm and seed == args.checkpoint_seed:
                    settings = protocol(args, "steps", *common, "hidden", "slots", "word")
                    save_checkpoint(model, record, settings, args.data_dir / COPY_CHECKPOINT.name)
                record.pop("history")
                runs.append(record)
            sizes = ("lstm_steps", "lstm_hidden") if lstm else ("steps", "hidden", "slots", "word")
            write_json(
                args.results_dir / f"dnc_{'lstm' if lstm else 'copy'}.json",
                {
                    "model": "torch.nn.LSTM + Linear" if lstm else "rnnkit.dnc.DNC",
                    "parameters": sum(p.numel() for p in model.parameters()),
                    "protocol": protocol(args, *common, *sizes),
                    "evaluation": evaluation,
                    "runs": runs,
                },
            )

    if "reverse" in args.only:
        reverse_experiment(args, "reverse")
    if "backward" in args.only:
        one_copy = {"reverse_steps": args.backward_steps, "reverse_max_len": args.backward_max_len}
        one_copy |= {"episodes": 1, "reverse_slots": args.slots}
        reverse_experiment(argparse.Namespace(**{**vars(args), **one_copy}), "backward")


def reverse_experiment(args: argparse.Namespace, name: str) -> None:
    """Train the reverse copies on ``--reverse-seeds``; write dnc_<name>.json and .pt."""
    runs = []
    names = ("reverse_steps", "reverse_max_len", "episodes", "reverse_slots", "hidden")
    settings = protocol(args, *names, "word", "batch_size", "symbols", "lr", "clip")
    for seed in args.reverse_seeds:
        model, record = run_reverse(args, seed)
        if seed == args.reverse_seeds[0]:
            save_checkpoint(model, record, settings, args.data_dir / f"dnc_{name}.pt")
        record.pop("history")
        runs.append(record)
    write_json(
        args.results_dir / f"dnc_{name}.json",
        {
            "model": "rnnkit.dnc.DNC",
            "protocol": settings,
            "evaluation": {"sequences": EVAL_SEQUENCES, "seed": EVAL_SEED},
        }
        | {"runs": runs},
    )


if __name__ == "__main__":
    main()
