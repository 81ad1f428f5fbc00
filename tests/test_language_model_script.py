"""scripts/language_model.py in its reduced setting, and the committed results it wrote."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnnkit.lm import CharLM

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "language_model.py"


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> tuple[dict, Path]:
    folder = tmp_path_factory.mktemp("lm")
    out, checkpoint = folder / "lm.json", folder / "lm.pt"
    run = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--quick",
            "--out",
            str(out),
            "--checkpoint",
            str(checkpoint),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert run.returncode == 0, run.stderr
    assert f"wrote {out}" in run.stdout
    return json.loads(out.read_text()), checkpoint


def test_quick_run_scores_every_model_and_baseline(quick):
    results, _ = quick
    K = results["config"]["K"]
    assert results["baselines"]["uniform"] == pytest.approx(math.log2(K))
    assert set(results["baselines"]) == {"uniform", "1-gram", "2-gram"}
    plan = [(r["cell"], r["carry"]) for r in results["runs"]]
    assert plan == [("lstm", True), ("gru", True), ("rnn", True), ("lstm", False)]
    for run in results["runs"]:
        assert 0 < run["bpc"] < 8 and 0 < run["bpc_reset"] < 8
        assert 90_000 < run["parameters"] < 110_000  # matched sizes


def test_quick_checkpoint_loads_into_a_char_lm(quick):
    _, checkpoint = quick
    saved = torch.load(checkpoint, weights_only=True)
    model = CharLM(
        len(saved["vocab"]), saved["hidden_size"], saved["cell"], saved["embedding_size"]
    )
    model.load_state_dict(saved["state_dict"])


def test_committed_results_beat_every_baseline_with_every_cell():
    results = json.loads((ROOT / "results" / "language_model.json").read_text())
    best_baseline = min(results["baselines"].values())
    carried = [r for r in results["runs"] if r["carry"]]
    assert {r["cell"] for r in carried} == {"rnn", "gru", "lstm"}
    assert all(r["bpc"] < best_baseline for r in carried)
    assert (ROOT / "rnnkit" / "data" / "lm_lstm.pt").stat().st_size < 2_000_000
