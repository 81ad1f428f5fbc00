"""scripts/recursive.py in its quick setting, and the results the chapter plots."""

import json

import longruns
import pytest

from rnnkit.trees import label, tree_depth

experiment = longruns.load("recursive")


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("recursive") / "recursive.json"
    return longruns.run_to_json("recursive", out, "--quick", timeout=120)


def test_quick_run_records_every_model_seed_and_depth(quick):
    depths = list(range(1, experiment.QUICK["test_depth"] + 1))
    assert quick["depths"] == depths
    for kind in (*experiment.KINDS, "majority"):
        assert sorted(quick["accuracy"][kind]) == [str(s) for s in experiment.QUICK["seeds"]]
        for accs in quick["accuracy"][kind].values():
            assert len(accs) == len(depths) and all(0 <= a <= 1 for a in accs)


def test_datasets_have_the_depths_asked_for_and_labels_are_signs():
    exprs = experiment.dataset(30, [2, 5], seed=0, ops="+-", p_neg=0.2)
    assert {tree_depth(e) for e in exprs} <= {2, 5}
    assert experiment.labels(exprs).tolist() == [int(eval(e) > 0) for e in exprs]
    assert experiment.labels(["7 - 3 - 9", "7 - (3 - 9)"]).tolist() == [0, 1]
    assert label("0") == 0


def test_recursive_net_and_gru_have_about_the_same_number_of_parameters():
    n = {
        k: experiment.parameter_count(experiment.make_model(k, experiment.FULL))
        for k in ("tree", "gru")
    }
    assert abs(n["tree"] - n["gru"]) / n["gru"] < 0.15


def test_committed_results_come_from_the_full_setting():
    results = json.loads(experiment.OUT.read_text())
    assert results["config"] == experiment.FULL
    assert results["depths"] == list(range(1, experiment.FULL["test_depth"] + 1))
    for kind in (*experiment.KINDS, "majority"):
        assert sorted(results["accuracy"][kind]) == [str(s) for s in experiment.FULL["seeds"]]
