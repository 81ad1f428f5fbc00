"""scripts/gru_counting.py in its reduced setting, its task worked by hand, and its results."""

import json

import longruns
import pytest
import torch

experiment = longruns.load("gru_counting")


@pytest.fixture(scope="module")
def reduced(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("counting") / "counting.json"
    return longruns.run_to_json("gru_counting", out, "--reduced")


def test_anbn_scores_only_the_b_steps_and_lets_the_string_end_after_its_last_b():
    x, target, mask = experiment.anbn(torch.tensor([2, 1]))
    # "aabb" and "ab" padded to 4 steps; channel 0 is a, channel 1 is b
    assert x[:, 0].tolist() == [[1, 0], [1, 0], [0, 1], [0, 1]]
    assert x[:, 1].tolist() == [[1, 0], [0, 1], [0, 0], [0, 0]]
    assert target.T.tolist() == [[0, 0, 0, 1], [0, 1, 0, 0]]
    assert mask.T.tolist() == [[0, 0, 1, 1], [0, 1, 0, 0]]


def test_reduced_run_records_every_model_and_seed(reduced):
    config = reduced["config"]
    assert [(r["kind"], r["seed"]) for r in reduced["runs"]] == [
        (kind, seed) for kind in experiment.KINDS for seed in config["seeds"]
    ]
    for r in reduced["runs"]:
        assert len(r["right"]) == config["n_test"]
        assert len(r["trace"]) == 2 * config["n_probe"]


def _reach(right: list[bool]) -> int:
    return next((n for n, ok in enumerate(right) if not ok), len(right))


def test_reach_is_the_last_n_before_the_first_wrong_string(reduced):
    for r in reduced["runs"]:
        assert r["reach"] == _reach(r["right"])


def test_committed_results_come_from_the_full_setting():
    results = json.loads(experiment.RESULTS.read_text())
    config = experiment.Config()
    assert results["config"]["seeds"] == config.seeds
    assert results["config"]["steps"] == config.steps
    assert len(results["runs"]) == len(experiment.KINDS) * len(config.seeds)
    for r in results["runs"]:
        assert r["reach"] == _reach(r["right"])
