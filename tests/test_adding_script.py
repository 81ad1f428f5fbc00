"""scripts/adding_problem.py in its reduced setting, and the results it committed."""

import json
from dataclasses import asdict
from pathlib import Path

import longruns
import pytest
import torch

from rnnkit.tasks import adding_baseline, adding_problem

ROOT = Path(__file__).resolve().parents[1]
experiment = longruns.load("adding_problem")


@pytest.fixture(scope="module")
def reduced(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("adding") / "adding.json"
    return longruns.run_to_json("adding_problem", out, "--reduced", "--quiet")


def test_reduced_run_records_every_model_and_seed_at_every_evaluation(reduced):
    config = reduced["config"]
    assert (config["T"], config["steps"], config["seeds"]) == (10, 20, [0])
    assert [r["name"] for r in reduced["runs"]] == [m.name for m in experiment.MODELS]
    for r in reduced["runs"]:
        assert r["steps"] == [10, 20]
        assert len(r["solved"]) == len(r["mse"]) == 2
        # 64 test sequences: every fraction solved is a whole number of them
        assert all(round(v * 64, 2).is_integer() and 0 <= v <= 1 for v in r["solved"])
        assert all(v > 0 for v in r["mse"])


def test_reduced_run_counts_parameters_as_worked_out_by_hand(reduced):
    # LSTM: 4 blocks of 32 units, each with 2 input, 32 recurrent weights and 2 biases,
    # plus a 32 -> 1 readout; RNN: 64 units with 2 + 64 + 2 each, plus a 64 -> 1 readout.
    lstm = 4 * 32 * (2 + 32 + 2) + 33
    rnn = 64 * (2 + 64 + 2) + 65
    assert [r["parameters"] for r in reduced["runs"]] == [lstm, lstm, rnn, rnn, rnn]


def test_reduced_run_writes_the_baseline_of_its_length(reduced):
    mse, solved = adding_baseline(10)
    assert reduced["baseline"] == {"mse": mse, "solved": solved}


def test_model_reads_each_sequence_at_its_own_last_step():
    torch.manual_seed(0)
    model = experiment.AddingModel("lstm", 8, forget_bias=5.0)
    x, _, lengths = adding_problem(16, 20, seed=0)
    noisy = x.clone()
    padding = torch.arange(x.shape[0]).unsqueeze(1) >= lengths  # (T_max, B)
    noisy[padding] = torch.randn(int(padding.sum()), 2)
    assert padding.any()
    with torch.no_grad():
        assert torch.equal(model(x, lengths), model(noisy, lengths))
        hs, _ = model.rnn(x)
        by_hand = model.head(torch.stack([hs[n - 1, b] for b, n in enumerate(lengths)]))
    assert torch.allclose(model(x, lengths), by_hand.squeeze(-1))


def test_forget_bias_is_the_sum_of_both_torch_biases_on_the_forget_block():
    model = experiment.AddingModel("lstm", 8, forget_bias=5.0)
    b = model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0
    assert torch.equal(b[8:16], torch.full((8,), 5.0))
    assert not torch.equal(b[:8], torch.zeros(8))  # the other blocks keep torch's init


def test_unknown_model_kind_is_a_value_error():
    with pytest.raises(ValueError, match="'lstm' or 'rnn'"):
        experiment.AddingModel("gru", 8)


def test_models_run_their_own_learning_rate_seeds_and_steps(tmp_path):
    models = (
        experiment.ModelSpec("all", "rnn", 4),
        experiment.ModelSpec("short", "rnn", 4, lr=0.5, n_seeds=2, steps=2),
    )
    config = experiment.Config(
        T=10, steps=4, seeds=(0, 1, 2), eval_every=2, test_size=8, models=models
    )
    results = experiment.run(config, progress=False)
    assert [(r["name"], r["seed"], r["steps"]) for r in results["runs"]] == [
        ("all", 0, [2, 4]),
        ("all", 1, [2, 4]),
        ("all", 2, [2, 4]),
        ("short", 0, [2]),
        ("short", 1, [2]),
    ]
    # a learning rate of 0.5 moves the weights further than 0.01 in the same two steps
    slow = experiment.ModelSpec("slow", "rnn", 4, lr=0.01, steps=2)
    fast = experiment.ModelSpec("fast", "rnn", 4, lr=0.5, steps=2)
    one = experiment.Config(T=10, steps=2, seeds=(0,), eval_every=2, test_size=8)
    moved = {}
    for spec in (slow, fast):
        torch.manual_seed(0)
        start = experiment.AddingModel("rnn", 4).state_dict()
        end = experiment.train_one(spec, one, seed=0)["model"].cpu().state_dict()
        moved[spec.name] = sum((end[k] - start[k]).abs().sum().item() for k in start)
    assert moved["fast"] > 10 * moved["slow"]


def test_only_reruns_the_named_models_and_merges_them_into_the_results(tmp_path):
    out = tmp_path / "adding.json"
    experiment.main(["--reduced", "--quiet", "--out", str(out)])
    before = json.loads(out.read_text())
    experiment.main(["--reduced", "--quiet", "--out", str(out), "--only", "tanh RNN"])
    after = json.loads(out.read_text())
    assert [r["name"] for r in after["runs"]] == [r["name"] for r in before["runs"]]
    kept = [r for r in after["runs"] if r["name"] != "tanh RNN"]
    assert kept == [r for r in before["runs"] if r["name"] != "tanh RNN"]
    assert after["seconds"] >= before["seconds"]  # the new run adds its time to the old
    with pytest.raises(ValueError, match="model names"):
        experiment.run(experiment.REDUCED, progress=False, only=("GRU",))


def test_committed_results_are_the_default_experiment_and_show_the_finding():
    results = json.loads((ROOT / "results" / "adding_problem.json").read_text())
    assert results["config"] == json.loads(json.dumps(asdict(experiment.Config())))
    final = {}
    for r in results["runs"]:
        final.setdefault(r["name"], []).append(r["solved"][-1])
    assert {name: len(v) for name, v in final.items()} == {
        "LSTM": 5,
        "LSTM, forget bias 0": 5,
        "tanh RNN": 5,
        "tanh RNN, lr 0.003": 3,
        "tanh RNN, lr 0.001": 3,
    }
    baseline = results["baseline"]["solved"]
    assert all(v >= 0.95 for v in final["LSTM"]), final["LSTM"]
    for name in experiment.RNN_GRID:
        assert all(v < baseline + 0.05 for v in final[name]), (name, final[name])
