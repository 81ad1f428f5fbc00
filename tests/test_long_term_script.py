"""scripts/long_term.py in its reduced setting, and the results it committed."""

import json
from dataclasses import asdict
from pathlib import Path

import longruns
import pytest
import torch

from rnnkit.tasks import adding_baseline, adding_problem

ROOT = Path(__file__).resolve().parents[1]
experiment = longruns.load("long_term")


@pytest.fixture(scope="module")
def reduced(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("long_term") / "long_term.json"
    return longruns.run_to_json("long_term", out, "--reduced", "--quiet")


def test_reduced_run_records_every_model_and_seed(reduced):
    config = reduced["config"]
    assert (config["T"], config["steps"], config["seeds"]) == (10, 20, [0])
    assert [r["name"] for r in reduced["runs"]] == [m.name for m in experiment.MODELS]
    for r in reduced["runs"]:
        trained = r["kind"] != "esn"
        assert r["steps"] == ([10, 20] if trained else [0])
        assert len(r["mse"]) == len(r["solved"]) == len(r["steps"])
        # 64 test sequences: every fraction solved is a whole number of them
        assert all(round(v * 64, 2).is_integer() and 0 <= v <= 1 for v in r["solved"])
        assert all(v > 0 for v in r["mse"])


def test_reduced_run_writes_the_baseline_and_the_learning_rate_grid(reduced):
    mse, solved = adding_baseline(10)
    assert reduced["baseline"] == {"mse": mse, "solved": solved}
    assert reduced["tanh_lrs"] == list(experiment.TANH_LRS)
    tanh = [r["lr"] for r in reduced["runs"] if r["name"].startswith("tanh RNN, lr")]
    assert tanh == list(experiment.TANH_LRS)


def test_irnn_starts_with_identity_recurrence_and_zero_biases():
    spec = next(m for m in experiment.MODELS if m.init == "identity")
    model = experiment.AddingRNN(spec)
    assert torch.equal(model.rnn.weight_hh_l0.detach(), torch.eye(spec.hidden))
    assert not model.rnn.bias_ih_l0.any() and not model.rnn.bias_hh_l0.any()
    assert model.rnn.nonlinearity == "relu"


def test_orthogonal_init_gives_an_orthogonal_recurrent_matrix():
    spec = next(m for m in experiment.MODELS if m.init == "orthogonal")
    W = experiment.AddingRNN(spec).rnn.weight_hh_l0.detach()
    assert torch.allclose(W @ W.T, torch.eye(spec.hidden), atol=1e-5)


@pytest.mark.parametrize("name", ["leaky", "skip", "IRNN"])
def test_model_reads_each_sequence_at_its_own_last_step(name):
    torch.manual_seed(0)
    spec = next(m for m in experiment.MODELS if name in m.name)
    model = experiment.AddingRNN(spec)
    x, _, lengths = adding_problem(8, 20, seed=0)
    noisy = x.clone()
    padding = torch.arange(x.shape[0]).unsqueeze(1) >= lengths
    noisy[padding] = torch.randn(int(padding.sum()), 2)
    assert padding.any()
    with torch.no_grad():
        assert torch.equal(model(x, lengths), model(noisy, lengths))


def test_esn_readout_beats_the_constant_on_a_short_adding_problem():
    # T = 10: both marks lie among the first steps, within a reservoir's reach.
    spec = next(m for m in experiment.MODELS if m.kind == "esn" and m.leak < 1)
    config = experiment.Config(T=10, test_size=500, esn_train=2000)
    result = experiment.fit_esn(spec, config, seed=0)
    assert result["mse"][0] < 0.5 * adding_baseline(10)[0]


def test_committed_results_are_the_default_experiment():
    results = json.loads((ROOT / "results" / "long_term.json").read_text())
    assert results["config"] == json.loads(json.dumps(asdict(experiment.Config())))
    names = {m.name for m in experiment.MODELS}
    seeds = experiment.Config().seeds
    assert sorted((r["name"], r["seed"]) for r in results["runs"]) == sorted(
        (name, seed) for name in names for seed in seeds
    )
    assert results["baseline"]["mse"] == adding_baseline(experiment.Config().T)[0]
