"""scripts/train_dnc.py in its quick mode, and the results and checkpoints it shipped."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnnkit.dnc import COPY_CHECKPOINT, DNC
from rnnkit.tasks import copy_task

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "train_dnc.py"


def load_script():
    spec = importlib.util.spec_from_file_location("train_dnc", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("train_dnc")
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--quiet", "--seeds", "0", "1",
         "--results-dir", str(out / "results"), "--data-dir", str(out / "data")],
        capture_output=True,
        text=True,
        timeout=300,
        # On the CPU, so the reloaded model below reproduces the evaluation exactly.
        env={**os.environ, "RNNKIT_DEVICE": "cpu", "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return out


def test_quick_run_writes_one_record_per_seed_with_rates_per_length(quick_run):
    for name in ("dnc_copy", "dnc_lstm"):
        results = json.loads((quick_run / "results" / f"{name}.json").read_text())
        assert [run["seed"] for run in results["runs"]] == [0, 1]
        for run in results["runs"]:
            assert run["eval_steps"] == [4]
            assert all(torch.isfinite(torch.tensor(run["loss"])))
            for S in range(1, 5):  # --quick evaluates lengths 1 to 4
                exact, symbols = run["eval"][f"exact/{S}"][-1], run["eval"][f"symbols/{S}"][-1]
                # A sequence copied exactly has every symbol right.
                assert 0 <= exact <= symbols <= 1
                assert ("exact_write_off/1" in run["eval"]) == (name == "dnc_copy")
    for name in ("dnc_reverse", "dnc_backward"):
        reverse = json.loads((quick_run / "results" / f"{name}.json").read_text())
        expected = {"exact/random", "exact/longest", "symbols/longest"}
        assert set(reverse["runs"][0]["eval"]) == expected
    backward = json.loads((quick_run / "results" / "dnc_backward.json").read_text())
    assert backward["protocol"]["episodes"] == 1 and backward["protocol"]["reverse_max_len"] == 3


def test_quick_run_checkpoint_rebuilds_the_trained_model(quick_run):
    model, notes = DNC.from_checkpoint(quick_run / "data" / "dnc_copy.pt")
    assert notes["seed"] == 1 and len(notes["loss"]) == 4
    assert model.config == {"input_size": 4, "hidden_size": 8, "output_size": 3,
                            "memory_slots": 4, "word_size": 2, "read_heads": 1}  # fmt: skip
    results = json.loads((quick_run / "results" / "dnc_copy.json").read_text())
    expected = results["runs"][1]["eval"]["exact/3"][-1]
    script = load_script()
    with torch.no_grad():
        _, exact = script.scores(model, *copy_task(200, 3, 3, script.EVAL_SEED + 3))
    assert round(exact, 4) == expected
    reverse, notes = DNC.from_checkpoint(quick_run / "data" / "dnc_reverse.pt")
    assert reverse.N == notes["reverse_slots"] == 3
    backward, notes = DNC.from_checkpoint(quick_run / "data" / "dnc_backward.pt")
    assert backward.N == notes["reverse_slots"] == 4  # all of --slots


def test_lstm_baseline_has_as_many_parameters_as_the_dnc():
    script = load_script()
    args = script.parse_args([])
    K = args.symbols
    dnc = DNC(K + 1, args.hidden, K, memory_slots=args.slots, word_size=args.word)
    lstm = script.LSTMBaseline(K + 1, args.lstm_hidden, K)
    n_dnc, n_lstm = (sum(p.numel() for p in m.parameters()) for m in (dnc, lstm))
    assert abs(n_lstm - n_dnc) / n_dnc < 0.01, (n_lstm, n_dnc)


def test_reverse_copies_recall_each_part_backwards():
    script = load_script()
    x, y, mask = script.reverse_copies(2, [3, 1], 5, seed=0)
    assert x.shape == (7 + 3, 2, 6) and mask.sum() == 2 * (3 + 1)
    shown = x[:3].argmax(-1)
    torch.testing.assert_close(y[4:7], shown.flip(0))
    torch.testing.assert_close(y[9], x[7].argmax(-1))


def test_shipped_checkpoint_copies_sequences_it_was_trained_on():
    model, notes = DNC.from_checkpoint(COPY_CHECKPOINT)
    x, y, mask = copy_task(100, notes["max_len"], notes["symbols"], seed=2024)
    with torch.no_grad():
        logits, _ = model(x)
    accuracy = (logits.argmax(-1) == y)[mask].float().mean().item()
    assert accuracy >= 0.99, f"the shipped DNC copies only {accuracy:.3f} of the symbols"


def test_shipped_results_cover_three_seeds_and_every_length():
    for name, model in (("dnc_copy", "rnnkit.dnc.DNC"), ("dnc_lstm", "torch.nn.LSTM + Linear")):
        results = json.loads((ROOT / "results" / f"{name}.json").read_text())
        assert results["model"] == model
        assert len({run["seed"] for run in results["runs"]}) >= 3
        lengths = results["protocol"]["eval_max_len"]
        for run in results["runs"]:
            assert all(len(run["eval"][f"exact/{S}"]) == len(run["eval_steps"])
                       for S in range(1, lengths + 1))  # fmt: skip
