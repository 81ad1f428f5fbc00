"""Training helpers: where to run, how to seed, and a small loop that fits a model.

The loop is generic on purpose. A chapter supplies three things -- a model, a way to
get the batch for step ``s``, and a loss -- and gets back a :class:`History`::

    hist = fit(model, lambda step: make_batch(step), loss, steps=500, lr=1e-2, clip=1.0)
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import trange

#: Environment variable that forces the device, e.g. ``RNNKIT_DEVICE=cpu``.
DEVICE_ENV = "RNNKIT_DEVICE"

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}


def get_device() -> torch.device:
    """The device to run on: ``$RNNKIT_DEVICE`` if set, else ``cuda`` if available, else
    ``cpu``. A value that torch cannot use here (a typo, or ``cuda`` on a machine
    without it) is a ``ValueError`` that names the value."""
    name = os.environ.get(DEVICE_ENV, "").strip()
    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
        # Parsing accepts e.g. "cuda:3" on any machine; a tiny allocation proves it exists.
        torch.zeros(1, device=device)
    except (RuntimeError, AssertionError) as err:
        raise ValueError(
            f"{DEVICE_ENV}={name!r} is not a device torch can use here "
            f"(expected e.g. 'cpu' or 'cuda'): {str(err).splitlines()[0]}"
        ) from None
    return device


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (torch's covers CUDA too).

    seed: a non-negative int.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    # The legacy global generator is the one np.random.* functions in notebooks use.
    np.random.seed(seed)  # noqa: NPY002
    torch.manual_seed(seed)


@dataclass
class History:
    """What :func:`fit` saw, one entry per optimisation step.

    loss: the training loss at each step.
    grad_norm: the gradients' total 2-norm at each step, measured before clipping.
    eval_steps: the steps (counted from 1) after which ``eval_fn`` ran.
    metrics: name -> one value per entry of ``eval_steps``.
    """

    loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)

    def record_eval(self, step: int, values: dict[str, float]) -> None:
        """Append one evaluation: step (from 1) and name -> value."""
        self.eval_steps.append(step)
        for name, value in values.items():
            self.metrics.setdefault(name, []).append(value)


def fit(
    model: torch.nn.Module,
    batches: Callable[[int], Any] | Iterable[Any],
    loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
    *,
    steps: int,
    lr: float,
    optimizer: str = "adam",
    clip: float | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
    eval_fn: Callable[[torch.nn.Module], float | dict[str, float]] | None = None,
    eval_every: int = 100,
) -> History:
    """Train ``model`` for ``steps`` optimisation steps and return what happened.

    Each step: take a batch, move its tensors to the device, compute
    ``loss_fn(model, batch)``, backpropagate, measure the gradient norm, clip it to
    ``clip`` if given, and take an optimiser step.

    model: the torch module to train; it is moved to ``device``.
    batches: either a function ``step -> batch`` (steps count from 0) or an iterable of
        batches. A batch is a tensor or a tuple/list/dict of them (other values pass
        through untouched).
    loss_fn: ``(model, batch) -> scalar loss tensor``.
    steps: number of optimisation steps;  lr: learning rate.
    optimizer: one of ``OPTIMIZERS`` ("adam", "sgd", "rmsprop"), default settings.
    clip: maximum total gradient 2-norm (``torch.nn.utils.clip_grad_norm_``), or None.
    device: where to train; None means :func:`get_device`.
    progress: show a tqdm bar with the current loss.
    eval_fn: ``model -> value or {name: value}``, run in eval mode without gradients
        every ``eval_every`` steps and after the last one; a bare value is stored
        under the name "eval".
    Returns a :class:`History`.
    """
    _check_fit_arguments(steps, lr, optimizer, clip, eval_every)
    device = get_device() if device is None else torch.device(device)
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = OPTIMIZERS[optimizer](params, lr=lr)
    next_batch = _batch_source(batches)
    history = History()

    bar = trange(steps, disable=not progress, desc="training")
    for step in bar:
        loss = loss_fn(model, _to_device(next_batch(step), device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        history.grad_norm.append(_measure_and_clip(params, clip))
        opt.step()
        history.loss.append(loss.item())
        bar.set_postfix(loss=f"{history.loss[-1]:.4f}", refresh=False)
        if eval_fn is not None and ((step + 1) % eval_every == 0 or step + 1 == steps):
            history.record_eval(step + 1, _evaluate(model, eval_fn))
    return history


def _check_fit_arguments(
    steps: int, lr: float, optimizer: str, clip: float | None, eval_every: int
) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be positive or None, got {clip!r}")
    if eval_every < 1:
        raise ValueError(f"eval_every must be a positive int, got {eval_every!r}")


def _measure_and_clip(params: list[torch.nn.Parameter], clip: float | None) -> float:
    """Total gradient 2-norm before clipping; clips in place when ``clip`` is given."""
    if clip is None:
        # Only measure: "clipping" to an infinite norm would scale by inf/inf = nan
        # when the gradients overflow, and exploding gradients are what we want to see.
        norm = torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
    else:
        norm = torch.nn.utils.clip_grad_norm_(params, clip)
    return norm.item()


def _batch_source(batches: Callable[[int], Any] | Iterable[Any]) -> Callable[[int], Any]:
    """Turn either form of ``batches`` into a function of the step."""
    if callable(batches):
        return batches
    iterator = iter(batches)

    def next_batch(step: int) -> Any:
        try:
            return next(iterator)
        except StopIteration:
            raise ValueError(
                f"batches ran out after {step} batches; give at least `steps` of them "
                "or a function step -> batch"
            ) from None

    return next_batch


def _to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor in a (nested) tuple, namedtuple, list or dict to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, tuple | list):
        items = [_to_device(item, device) for item in batch]
        # A namedtuple takes its fields as separate arguments.
        return type(batch)(*items) if hasattr(batch, "_fields") else type(batch)(items)
    if isinstance(batch, dict):
        return {key: _to_device(value, device) for key, value in batch.items()}
    return batch


def _evaluate(
    model: torch.nn.Module, eval_fn: Callable[[torch.nn.Module], float | dict[str, float]]
) -> dict[str, float]:
    model.eval()
    with torch.no_grad():
        result = eval_fn(model)
    model.train()
    if isinstance(result, dict):
        return {name: float(value) for name, value in result.items()}
    return {"eval": float(result)}
