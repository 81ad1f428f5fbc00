"""scripts/sequence_labelling.py in its reduced setting, and the shape of its committed results."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "sequence_labelling.py"


def _check(results: dict, seeds: int) -> None:
    digits = results["digits"]
    assert set(digits["accuracy"]) == {"logistic", "mlp", "rnn", "gru", "lstm"}
    assert all(len(v) == seeds and all(0 <= a <= 1 for a in v) for v in digits["accuracy"].values())
    assert all(
        len(runs) == seeds and all(len(p) == 8 for p in runs) for runs in digits["probe"].values()
    )
    assert len(digits["probe_pixels"]) == 8
    scores = results["tagging"]["scores"]
    assert set(scores) == {"lookup", "one_direction", "bidirectional"}
    for model, tests in scores.items():
        assert set(tests) == {"seen_places", "unseen_places"}
        for runs in tests.values():
            assert len(runs) == (1 if model == "lookup" else seeds)
            for run in runs:
                for precision, recall, f1 in run.values():
                    assert 0 <= min(precision, recall, f1) <= max(precision, recall, f1) <= 1


def test_reduced_run_writes_every_model_seed_and_test(tmp_path):
    out = tmp_path / "labelling.json"
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--reduced", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    _check(json.loads(out.read_text()), seeds=1)


def test_committed_results_have_three_seeds_and_the_lookup_never_finds_an_unseen_place():
    results = json.loads((ROOT / "results" / "sequence_labelling.json").read_text())
    _check(results, seeds=3)
    lookup = results["tagging"]["scores"]["lookup"]["unseen_places"][0]
    assert lookup["PLACE"] == [0.0, 0.0, 0.0]
