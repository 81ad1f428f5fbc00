"""Counting a^n b^n: how far past its training range an LSTM and a GRU keep counting.

    .venv/bin/python scripts/gru_counting.py                     # the full run, a few minutes
    .venv/bin/python scripts/gru_counting.py --reduced --out /tmp/counting.json   # seconds

The task is the language a^n b^n as Weiss, Goldberg & Yahav (2018) use it. A network reads
n a's and then b's, one symbol per step, and after every b says whether the string may end
there (the b's have matched the a's) or must go on. The first kind of step is the only one
whose answer depends on n, so a network that gets it right for every n must count. Both
networks have H units and a linear readout, and are trained with a binary cross-entropy on
those b-steps for n between 1 and ``Config.n_train``; each is tested on every n up to
``Config.n_test``, a string counting as right when every b-step is. What we record per run:
the fraction of strings right for each n, and the largest n up to which every string is
right (its *reach*; a network that memorised the training range has reach ``n_train``).
For the first seed we also record, on the string with n = ``Config.n_probe``, the state
of the unit whose value follows the count most closely: the LSTM's cell c_t and the GRU's
h_t.

The models are torch.nn's fused ``LSTM`` and ``GRU``; they compute exactly the equations of
``rnnkit.LSTMCell`` and ``rnnkit.GRUCell`` (``tests/test_cells.py`` holds them to it), but
run the time loop in compiled code. The JSON written to ``--out`` (by default
``results/gru_counting.json``, which chapter 6 plots) holds the settings and every run.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

RESULTS = Path(__file__).resolve().parents[1] / "results" / "gru_counting.json"
KINDS = ("LSTM", "GRU")


@dataclass(frozen=True)
class Config:
    hidden: int = 8
    n_train: int = 20
    n_test: int = 100
    n_probe: int = 80
    steps: int = 2000
    batch: int = 32
    lr: float = 0.01
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])


REDUCED = Config(hidden=4, n_train=5, n_test=12, n_probe=10, steps=20, batch=8, seeds=[0])


def anbn(ns: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Strings a^n b^n for a batch of n, padded to the longest.

    ns: (B,) positive ints.
    Returns x: (T, B, 2) one-hot symbols (a = channel 0, b = channel 1), T = 2 max(n);
    target: (T, B) 1.0 where the string may end after this step (its last b), else 0.0;
    mask: (T, B) 1.0 on the b-steps, the only steps that are scored.
    """
    t = torch.arange(2 * int(ns.max())).unsqueeze(1)  # (T, 1) against ns (B,)
    is_b = (t >= ns) & (t < 2 * ns)
    is_a = t < ns
    x = torch.stack([is_a, is_b], dim=-1).float()
    return x, (t == 2 * ns - 1).float(), is_b.float()


class Counter(nn.Module):
    """A one-layer LSTM or GRU with a linear readout of one logit per step."""

    def __init__(self, kind: str, hidden: int):
        super().__init__()
        self.rnn = (nn.LSTM if kind == "LSTM" else nn.GRU)(2, hidden)
        self.readout = nn.Linear(hidden, 1)

    def forward(self, x: Tensor) -> Tensor:
        """x: (T, B, 2) -> logits (T, B)."""
        return self.readout(self.rnn(x)[0])[..., 0]


def count_unit_trace(model: Counter, kind: str, n: int) -> list[float]:
    """The state (LSTM: cell c_t; GRU: h_t) of the unit that best follows the count on a^n b^n.

    The count after step t is the number of a's minus the number of b's read so far.
    """
    x, _, _ = anbn(torch.tensor([n]))
    H = model.rnn.hidden_size
    h, c = torch.zeros(1, H), torch.zeros(1, H)
    cell = nn.LSTMCell(2, H) if kind == "LSTM" else nn.GRUCell(2, H)
    cell.load_state_dict({k[:-3]: v for k, v in model.rnn.state_dict().items()})
    states = []
    with torch.no_grad():
        for x_t in x[:, 0]:
            if kind == "LSTM":
                h, c = cell(x_t[None], (h, c))
                states.append(c[0])
            else:
                h = cell(x_t[None], h)
                states.append(h[0])
    states = torch.stack(states)  # (2n, H)
    steps = torch.arange(1, 2 * n + 1, dtype=torch.float32)
    count = torch.where(steps <= n, steps, 2 * n - steps)
    centred = states - states.mean(0)
    corr = (centred * (count - count.mean())[:, None]).sum(0) / (
        centred.norm(dim=0) * (count - count.mean()).norm() + 1e-12
    )
    return [round(v, 4) for v in states[:, int(corr.abs().argmax())].tolist()]


def run(kind: str, seed: int, config: Config) -> dict:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = Counter(kind, config.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    for _ in tqdm(range(config.steps), desc=f"{kind} seed {seed}", leave=False):
        x, target, mask = anbn(torch.randint(1, config.n_train + 1, (config.batch,), generator=gen))
        loss = F.binary_cross_entropy_with_logits(model(x), target, weight=mask)
        opt.zero_grad()
        (loss * mask.numel() / mask.sum()).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    ns = torch.arange(1, config.n_test + 1)
    with torch.no_grad():
        x, target, mask = anbn(ns)
        wrong = ((model(x) > 0).float() != target) & mask.bool()
    right = (~wrong.any(dim=0)).tolist()
    reach = next((n for n, ok in zip(ns.tolist(), right, strict=True) if not ok), config.n_test + 1)
    record = {"kind": kind, "seed": seed, "right": right, "reach": reach - 1}
    if seed == config.seeds[0]:
        record["trace"] = count_unit_trace(model, kind, config.n_probe)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reduced", action="store_true", help="a tiny run for the tests")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    config = REDUCED if args.reduced else Config()
    torch.set_num_threads(1)
    start = time.time()
    runs = [run(kind, seed, config) for kind in KINDS for seed in config.seeds]
    result = {"config": asdict(config), "runs": runs, "seconds": round(time.time() - start, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for r in runs:
        print(f"{r['kind']:4s} seed {r['seed']}: every string right up to n = {r['reach']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
