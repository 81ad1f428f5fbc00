"""scripts/train_dnc.py in a reduced setting, and the checkpoint it shipped."""

import os
import subprocess
import sys
from pathlib import Path

import torch

from rnnkit.dnc import COPY_CHECKPOINT, DNC
from rnnkit.tasks import copy_task

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_dnc.py"


def test_reduced_run_writes_a_checkpoint_that_rebuilds_the_model(tmp_path):
    out = tmp_path / "dnc.pt"
    args = ["--steps", "3", "--batch-size", "4", "--max-len", "3", "--symbols", "3",
            "--hidden", "8", "--slots", "4", "--word", "2", "--seed", "5", "--quiet"]  # fmt: skip
    run = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        # On the CPU, so the reloaded model below reproduces the evaluation exactly.
        env={**os.environ, "RNNKIT_DEVICE": "cpu"},
    )
    assert run.returncode == 0, run.stderr
    assert "3 steps" in run.stdout
    model, notes = DNC.from_checkpoint(out)
    assert model.config == {"input_size": 4, "hidden_size": 8, "output_size": 3,
                            "memory_slots": 4, "word_size": 2, "read_heads": 1}  # fmt: skip
    assert len(notes["loss"]) == 3 and all(torch.isfinite(torch.tensor(notes["loss"])))
    assert notes["max_len"] == 3 and notes["seed"] == 5
    # The saved weights are the trained ones: the loaded model reproduces the last eval.
    x, y, mask = copy_task(64, 3, 3, 12345)
    with torch.no_grad():
        accuracy = (model(x)[0].argmax(-1) == y)[mask].float().mean().item()
    assert accuracy == notes["eval_accuracy"][-1]


def test_shipped_checkpoint_copies_sequences_it_was_trained_on():
    model, notes = DNC.from_checkpoint(COPY_CHECKPOINT)
    x, y, mask = copy_task(100, notes["max_len"], notes["symbols"], seed=2024)
    with torch.no_grad():
        logits, _ = model(x)
    accuracy = (logits.argmax(-1) == y)[mask].float().mean().item()
    assert accuracy >= 0.99, f"the shipped DNC copies only {accuracy:.3f} of the symbols"
