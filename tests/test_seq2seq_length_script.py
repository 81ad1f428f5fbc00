"""scripts/seq2seq_length.py in its quick setting, and the results it committed."""

import json
from pathlib import Path

import longruns
import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["fixed context", "attention", "bidirectional + attention"]


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("seq2seq") / "length.json"
    return longruns.run_to_json("seq2seq_length", out, "--quick", "--quiet")


def _check_format(results: dict, seeds: list[int]) -> None:
    lengths = results["lengths"]
    assert lengths == list(range(1, 12))
    assert len(results["test_counts"]) == len(results["train_counts"]) == len(lengths)
    assert list(results["models"]) == MODELS
    for key in ("exact", "token"):
        assert len(results["baseline"][key]) == len(lengths)
    for m in results["models"].values():
        assert [r["seed"] for r in m["runs"]] == seeds
        for r in m["runs"]:
            assert len(r["exact"]) == len(r["token"]) == len(lengths)
            assert all(0 <= v <= 1 for v in r["exact"] + r["token"])
            for mode in ("free", "forced"):
                assert 0 <= r[mode]["p_error_after_error"] <= 1
                assert 0 <= r[mode]["p_error_after_right_prefix"] <= 1
                assert r[mode]["n_after_error"] + r[mode]["n_after_right_prefix"] > 0


def test_quick_run_records_every_model_seed_and_length(quick):
    _check_format(quick, [0, 1])


def test_test_sources_longer_than_training_ones_were_never_trained_on(quick):
    words = quick["config"]["train_words"]
    for n, seen in zip(quick["lengths"], quick["train_counts"], strict=True):
        assert (seen == 0) == (n > words)


def test_parameter_counts_are_matched_as_closely_as_whole_units_allow(quick):
    # With H = 8 one unit more or less moves the count by several percent.
    counts = [m["parameters"] for m in quick["models"].values()]
    assert max(counts) / min(counts) < 1.1


def test_committed_results_have_three_seeds_and_converged_on_short_numbers():
    results = json.loads((ROOT / "results" / "seq2seq_length.json").read_text())
    _check_format(results, [0, 1, 2])
    counts = [m["parameters"] for m in results["models"].values()]
    assert max(counts) / min(counts) < 1.02
    for m in results["models"].values():
        for r in m["runs"]:
            assert r["curve"][-1]["held_out_short_exact"] >= 0.95
