"""scripts/cifg_vs_lstm.py in its quick setting, its CIFG layer, and the results it committed."""

import json
import math
from dataclasses import asdict
from pathlib import Path

import longruns
import pytest
import torch

import rnnkit

ROOT = Path(__file__).resolve().parents[1]
experiment = longruns.load("cifg_vs_lstm")


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("cifg") / "cifg.json"
    return longruns.run_to_json("cifg_vs_lstm", out, "--quick", "--quiet")


def test_quick_run_records_every_model_and_seed_at_every_evaluation(quick):
    assert quick["config"] == json.loads(json.dumps(asdict(experiment.QUICK)))
    assert [(r["name"], r["seed"]) for r in quick["runs"]] == [("LSTM", 0), ("CIFG", 0)]
    for r in quick["runs"]:
        assert r["steps"] == [20, 40]
        assert len(r["held_out"]) == len(r["train_text"]) == len(r["train_loss"]) == 2


def test_quick_run_losses_fall_below_a_uniform_guess(quick):
    assert quick["uniform"] == pytest.approx(math.log2(96))
    for r in quick["runs"]:
        assert r["train_loss"][1] < r["train_loss"][0]
        assert r["held_out"][1] < r["held_out"][0] < quick["uniform"] + 0.5
        assert r["held_out"][1] < quick["uniform"]


def test_quick_run_baselines_improve_from_unigram_to_bigram(quick):
    assert set(quick["ngram"]) == {"1", "2"}
    assert quick["ngram"]["2"] < quick["ngram"]["1"] < quick["uniform"]


def test_quick_run_pairs_each_seed_and_counts_parameters_by_hand(quick):
    pair = quick["paired"]["LSTM - CIFG"]
    final = {r["name"]: r["held_out"][-1] for r in quick["runs"]}
    assert pair["difference"] == [final["LSTM"] - final["CIFG"]]
    assert pair["se"] is None  # one seed has no standard error
    # embedding 32, H = 16: the LSTM has 4 blocks of 16 rows of 32 + 16 + 2, the CIFG 3
    recurrent = {r["name"]: r["recurrent_parameters"] for r in quick["runs"]}
    assert recurrent == {"LSTM": 4 * 16 * 50, "CIFG": 3 * 16 * 50}


def test_fused_cifg_is_rnnkit_coupled_cell_with_copied_weights():
    torch.manual_seed(0)
    fused = experiment.FusedCIFG(3, 5).double()
    layer = rnnkit.Recurrent(rnnkit.CoupledLSTMCell(3, 5, dtype=torch.float64))
    layer.cell.load_state_dict(fused.state_dict())
    x = torch.randn(7, 2, 3, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(fused(x), layer(x)[0], atol=1e-12)


def test_matched_cifg_has_as_many_recurrent_parameters_as_the_lstm_within_a_percent():
    lstm, _, matched = (
        experiment.parameter_count(experiment.CharModel(m.kind, 96, m.hidden, 32).rnn)
        for m in experiment.MODELS
    )
    assert abs(matched - lstm) / lstm < 0.01


def test_streams_read_the_text_side_by_side_from_their_starts():
    x, y = experiment.as_streams(torch.arange(11), 2)  # pieces 0..4 and 5..9; 10 is dropped
    assert torch.equal(x.T, torch.tensor([[0, 1, 2, 3], [5, 6, 7, 8]]))
    assert torch.equal(y, x + 1)


def test_unknown_model_kind_is_a_value_error():
    with pytest.raises(ValueError, match="'lstm' or 'cifg'"):
        experiment.CharModel("gru", 10, 4, 4)


def test_committed_results_are_the_default_experiment_with_three_seeds_or_more():
    results = json.loads((ROOT / "results" / "cifg_vs_lstm.json").read_text())
    assert results["config"] == json.loads(json.dumps(asdict(experiment.Config())))
    assert len(results["config"]["seeds"]) >= 3
    names = [m.name for m in experiment.MODELS]
    assert set(results["paired"]) == {f"{names[0]} - {n}" for n in names[1:]}
    best_count_model = min(results["ngram"].values())
    for r in results["runs"]:
        assert r["held_out"][-1] < best_count_model, (r["name"], r["seed"])
