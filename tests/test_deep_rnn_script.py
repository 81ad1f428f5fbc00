"""scripts/deep_rnn.py in its reduced setting, and the results it committed."""

import json
from dataclasses import asdict
from pathlib import Path

import longruns
import pytest

ROOT = Path(__file__).resolve().parents[1]
experiment = longruns.load("deep_rnn")

NAMES = [name for name, *_ in experiment.MODELS]


@pytest.fixture(scope="module")
def reduced(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("deep") / "deep.json"
    return longruns.run_to_json("deep_rnn", out, "--reduced", "--quiet")


def test_reduced_run_records_every_model_and_seed_at_every_evaluation(reduced):
    config = reduced["config"]
    assert (config["steps"], config["seeds"], config["held_out"]) == (4, [0], 16)
    assert [r["name"] for r in reduced["runs"]] == NAMES
    blanks = 16 * config["blanks"]
    for r in reduced["runs"]:
        assert len(r["loss"]) == 4 and all(v > 0 for v in r["loss"])
        assert r["eval_steps"] == [2, 4]
        # 16 windows of 3 blanks: every accuracy is a whole number of 48 blanks
        for v in r["accuracy"]:
            assert 0 <= v <= 1 and abs(v * blanks - round(v * blanks)) < 0.01


def test_reduced_run_counts_parameters_as_worked_out_by_hand(reduced):
    K = 34  # the course corpus's characters; the input has K + 1 symbols with the blank

    def layer(inputs, hidden):  # two directions of U, W and two biases
        return 2 * hidden * (inputs + hidden + 2)

    readout = 64 * K + K
    one = layer(K + 1, 32) + readout
    upper = layer(64, 32)
    wide = layer(K + 1, 69) + 138 * K + K
    expected = [one, one + upper, one + 2 * upper, one + 2 * upper, wide]
    assert [r["parameters"] for r in reduced["runs"]] == expected


def test_committed_results_are_the_default_experiment_and_beat_the_baseline():
    results = json.loads((ROOT / "results" / "deep_rnn.json").read_text())
    assert results["config"] == json.loads(json.dumps(asdict(experiment.Config())))
    seeds = results["config"]["seeds"]
    assert len(seeds) >= 3
    assert sorted((r["name"], r["seed"]) for r in results["runs"]) == sorted(
        (name, s) for name in NAMES for s in seeds
    )
    assert all(r["accuracy"][-1] > results["baseline"] + 0.1 for r in results["runs"])
