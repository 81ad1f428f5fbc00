"""rnnkit.train: device choice, seeding, and the fit loop (learning, clipping, history)."""

import math
import random
from collections import namedtuple

import numpy as np
import pytest
import torch
from torch import nn

from rnnkit.tasks import sine_wave
from rnnkit.train import History, fit, get_device, seed_everything

# -------------------------------------------------------------------------- devices


def test_get_device_honours_the_environment_variable(monkeypatch):
    monkeypatch.setenv("RNNKIT_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    monkeypatch.setenv("RNNKIT_DEVICE", "meta")
    assert get_device() == torch.device("meta")


def test_get_device_defaults_to_cuda_when_available_else_cpu(monkeypatch):
    monkeypatch.delenv("RNNKIT_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert get_device() == torch.device(expected)
    monkeypatch.setenv("RNNKIT_DEVICE", "")
    assert get_device() == torch.device(expected)


@pytest.mark.parametrize("value", ["gpu", "cuda:x", "opengl"])
def test_get_device_names_a_value_torch_cannot_use(monkeypatch, value):
    monkeypatch.setenv("RNNKIT_DEVICE", value)
    with pytest.raises(ValueError, match=f"RNNKIT_DEVICE='{value}'"):
        get_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_get_device_refuses_cuda_on_a_machine_without_it(monkeypatch):
    monkeypatch.setenv("RNNKIT_DEVICE", "cuda")
    with pytest.raises(ValueError, match="'cuda'"):
        get_device()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fit_trains_on_cuda_when_asked(monkeypatch):
    monkeypatch.setenv("RNNKIT_DEVICE", "cuda")
    model = nn.Linear(2, 1)
    x = torch.randn(8, 2)
    fit(model, lambda step: x, lambda m, b: m(b).pow(2).mean(), steps=2, lr=0.1, progress=False)
    assert next(model.parameters()).device.type == "cuda"


# -------------------------------------------------------------------------- seeding


def _seeded_run(seed: int) -> list[float]:
    seed_everything(seed)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    # Draws from all three global generators, so each must be seeded.
    noise = np.random.normal(size=(16, 1)).astype(np.float32) + random.random()  # noqa: NPY002

    def batch(step):
        x = torch.randn(16, 3)
        return x, x.sum(1, keepdim=True) + torch.from_numpy(noise)

    def loss(m, b):
        return nn.functional.mse_loss(m(b[0]), b[1])

    return fit(model, batch, loss, steps=5, lr=0.01, device="cpu", progress=False).loss


def test_seed_everything_makes_two_runs_identical():
    assert _seeded_run(11) == _seeded_run(11)
    assert _seeded_run(11) != _seeded_run(12)


def test_seed_everything_rejects_a_negative_seed():
    with pytest.raises(ValueError, match="seed"):
        seed_everything(-1)


# ---------------------------------------------------------------------------- fit


def _mse(model, batch):
    x, y = batch
    return nn.functional.mse_loss(model(x), y)


def test_fit_solves_linear_regression():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=gen)
    y = x @ torch.tensor([[1.5], [-2.0], [0.5]]) + 0.3
    model = nn.Linear(3, 1)
    hist = fit(model, lambda step: (x, y), _mse, steps=300, lr=0.05, device="cpu", progress=False)
    assert isinstance(hist, History)
    assert len(hist.loss) == len(hist.grad_norm) == 300
    assert hist.loss[-1] < 1e-4 * hist.loss[0]
    assert torch.allclose(model.weight.detach(), torch.tensor([[1.5, -2.0, 0.5]]), atol=1e-2)


def test_fit_teaches_a_small_rnn_to_predict_a_sine_wave():
    torch.manual_seed(0)

    class Predictor(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(1, 16)
            self.out = nn.Linear(16, 1)

        def forward(self, x):
            return self.out(self.rnn(x)[0])

    hist = fit(
        Predictor(),
        lambda step: sine_wave(16, 40, seed=step),
        _mse,
        steps=150,
        lr=1e-2,
        clip=1.0,
        device="cpu",
        progress=False,
    )
    # Predicting s_{t+1} = s_t already gives about 0.02; the RNN must beat its start by far.
    assert np.mean(hist.loss[-10:]) < 0.1 * np.mean(hist.loss[:10])


class _Linear(nn.Module):
    """loss = c · w with a fixed c: the gradient is c whatever w is."""

    def __init__(self, n: int):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(n))


def test_fit_clips_the_gradient_and_records_the_norm_before_clipping():
    c = torch.full((10,), 100.0)
    model = _Linear(10)
    hist = fit(
        model,
        lambda step: c,
        lambda m, b: (m.w * b).sum(),
        steps=3,
        lr=0.1,
        optimizer="sgd",
        clip=1.0,
        device="cpu",
        progress=False,
    )
    pre_clip = 100.0 * math.sqrt(10)
    assert hist.grad_norm == pytest.approx([pre_clip] * 3, rel=1e-6)
    # The gradient left from the last step is the clipped one, and SGD used it.
    assert model.w.grad.norm().item() == pytest.approx(1.0, rel=1e-5)
    assert model.w.grad.norm().item() <= 1.0 + 1e-6
    expected_w = -3 * 0.1 * torch.full((10,), 1 / math.sqrt(10))
    assert torch.allclose(model.w.detach(), expected_w, rtol=1e-5)


def test_fit_without_clip_leaves_the_gradient_and_measures_it():
    c = torch.arange(1.0, 5.0)  # gradient norm sqrt(1 + 4 + 9 + 16) = sqrt(30)
    model = _Linear(4)
    hist = fit(
        model,
        lambda step: c,
        lambda m, b: (m.w * b).sum(),
        steps=2,
        lr=0.1,
        optimizer="sgd",
        device="cpu",
        progress=False,
    )
    assert hist.grad_norm == pytest.approx([math.sqrt(30)] * 2, rel=1e-6)
    assert torch.equal(model.w.grad, c)


def test_fit_accepts_an_iterable_of_batches_and_says_when_it_runs_out():
    model = _Linear(2)
    batches = [torch.ones(2), 2 * torch.ones(2)]
    hist = fit(
        model,
        batches,
        lambda m, b: (m.w * b).sum(),
        steps=2,
        lr=0.1,
        optimizer="sgd",
        device="cpu",
        progress=False,
    )
    assert hist.grad_norm == pytest.approx([math.sqrt(2), math.sqrt(8)], rel=1e-6)
    with pytest.raises(ValueError, match="ran out after 2 batches"):
        fit(
            model,
            iter(batches),
            lambda m, b: (m.w * b).sum(),
            steps=3,
            lr=0.1,
            device="cpu",
            progress=False,
        )


def test_fit_passes_nested_batches_to_the_loss_with_their_types():
    Pair = namedtuple("Pair", "x y")
    seen = []

    def loss(m, batch):
        seen.append(batch)
        return (m.w * batch["pair"].x).sum()

    batch = {"pair": Pair(torch.ones(2), torch.zeros(2)), "name": "toy"}
    fit(_Linear(2), lambda step: batch, loss, steps=1, lr=0.1, device="cpu", progress=False)
    assert isinstance(seen[0]["pair"], Pair) and seen[0]["name"] == "toy"
    assert torch.equal(seen[0]["pair"].y, torch.zeros(2))


def test_fit_evaluates_without_gradients_in_eval_mode_on_schedule():
    model = _Linear(2)
    states = []

    def eval_fn(m):
        states.append((m.training, torch.is_grad_enabled()))
        return {"w0": m.w[0].item(), "w1": m.w[1].item()}

    hist = fit(
        model,
        lambda step: torch.ones(2),
        lambda m, b: (m.w * b).sum(),
        steps=7,
        lr=0.5,
        optimizer="sgd",
        device="cpu",
        progress=False,
        eval_fn=eval_fn,
        eval_every=3,
    )
    assert hist.eval_steps == [3, 6, 7]
    assert hist.metrics["w0"] == pytest.approx([-1.5, -3.0, -3.5])
    assert states == [(False, False)] * 3
    assert model.training


def test_fit_stores_a_bare_eval_value_under_eval():
    hist = fit(
        _Linear(1),
        lambda step: torch.ones(1),
        lambda m, b: (m.w * b).sum(),
        steps=2,
        lr=0.1,
        device="cpu",
        progress=False,
        eval_fn=lambda m: 0.25,
    )
    assert hist.metrics == {"eval": [0.25]} and hist.eval_steps == [2]


def test_fit_shows_a_progress_bar_with_the_loss(capsys):
    fit(
        _Linear(1),
        lambda step: torch.ones(1),
        lambda m, b: (m.w * b).sum(),
        steps=3,
        lr=0.1,
        device="cpu",
        progress=True,
    )
    assert "loss=" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"steps": 0}, "steps"),
        ({"lr": 0.0}, "lr"),
        ({"optimizer": "adamw"}, "optimizer"),
        ({"clip": 0.0}, "clip"),
        ({"eval_every": 0}, "eval_every"),
    ],
)
def test_fit_rejects_bad_arguments(kwargs, word):
    args = {"steps": 1, "lr": 0.1, "device": "cpu", "progress": False} | kwargs
    with pytest.raises(ValueError, match=word):
        fit(_Linear(1), lambda step: torch.ones(1), lambda m, b: (m.w * b).sum(), **args)
