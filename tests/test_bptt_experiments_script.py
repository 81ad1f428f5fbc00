"""scripts/bptt_experiments.py in its reduced setting, and the results it committed."""

import json
import math
from dataclasses import asdict
from pathlib import Path

import longruns
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
experiment = longruns.load("bptt_experiments")


@pytest.fixture(scope="module")
def reduced(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bptt") / "bptt.json"
    return longruns.run_to_json("bptt_experiments", out, "--reduced", "--quiet")


def test_reduced_run_records_every_condition_and_seed(reduced):
    config = experiment.REDUCED
    assert reduced["config"] == json.loads(json.dumps(asdict(config)))
    labels = [r["label"] for r in reduced["truncation"]]
    assert labels == [label for label, _, _ in experiment.ECHO_CONDITIONS]
    assert [r["clip"] for r in reduced["clipping"]] == [None, config.clip_tau]
    methods = [(r["window"], r["method"]) for r in reduced["teacher_forcing"]]
    assert methods == [(30, "teacher forcing"), (30, "scheduled sampling")]


def test_reduced_run_writes_curves_of_the_configured_lengths(reduced):
    config = experiment.REDUCED
    for r in reduced["truncation"]:
        assert len(r["loss"]) == config.echo_steps
        assert r["eval_steps"] == [0, 2, 4]
        assert len(r["accuracy"]) == 3 and all(0 <= a <= 1 for a in r["accuracy"])
        assert sorted(r["trace"], key=int) == [str(lag) for lag in config.echo_lags]
        assert all(0 <= v <= 1 for values in r["trace"].values() for v in values)
    for r in reduced["clipping"]:
        assert len(r["loss"]) == len(r["grad_norm"]) == config.clip_steps
    for r in reduced["teacher_forcing"]:
        assert len(r["free"]) == len(r["example"]) == config.tf_horizon
        assert len(r["one_step"]) == len(config.tf_sigmas)


def test_baselines_are_the_simple_predictors_worked_out_by_hand(reduced):
    b = reduced["baselines"]
    assert b["truncation_chance_loss"] == pytest.approx(math.log(2))
    # a unit sine wave: predicting 0 costs E[sin²] = 1/2 on average over phases
    assert len(b["teacher_forcing_zero_mse"]) > experiment.REDUCED.tf_horizon
    assert 0 < b["clipping_copy_last_mse"] < 0.5


def test_truncated_model_passes_no_gradient_into_the_chunk_before():
    torch.manual_seed(0)
    model = experiment.EchoNet(hidden=4, chunk=3)
    x = torch.randn(6, 2, 1, requires_grad=True)
    logits, _ = model(x)
    logits[3:].sum().backward()  # losses of the second chunk only
    assert torch.all(x.grad[:3] == 0) and torch.any(x.grad[3:] != 0)


def test_freezing_leaves_only_the_named_part_trainable():
    model = experiment.EchoNet(hidden=4, chunk=3)
    experiment.freeze(model, "readout")
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["out.weight", "out.bias"]
    experiment.freeze(model, "recurrent")
    assert all(n.startswith("rnn.") for n, p in model.named_parameters() if p.requires_grad)
    with pytest.raises(ValueError, match="'all', 'readout' or 'recurrent'"):
        experiment.freeze(model, "output")


def test_trace_share_is_one_for_a_state_that_copies_the_sign_and_zero_for_noise():
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 2, (50, 40, 1), generator=gen) * 2.0 - 1.0
    copy = torch.zeros(50, 40, 3)
    copy[2:] = x[:-2] * torch.tensor([1.0, -2.0, 0.5])  # h_t holds x_{t-2} in three units
    assert experiment.trace_share(copy, x, 2) == pytest.approx(1.0)
    noise = torch.randn(50, 40, 3, generator=gen)
    assert experiment.trace_share(noise, x, 2) < 0.01


def test_committed_results_are_the_default_experiment():
    results = json.loads((ROOT / "results" / "bptt_experiments.json").read_text())
    assert results["config"] == json.loads(json.dumps(asdict(experiment.Config())))
    seeds = len(experiment.Config().seeds)
    assert len(results["truncation"]) == len(experiment.ECHO_CONDITIONS) * seeds
    assert len(results["teacher_forcing"]) == 4 * seeds
    assert len(results["clipping"]) == 2 * len(experiment.Config().clip_seeds)
