"""Teacher forcing, free running and scheduled sampling for next-step prediction.

A model trained to predict the next element of a sequence needs the previous element as
its input. During training that element can come from the data (*teacher forcing*); when
the model generates on its own it must come from the model's previous prediction (*free
running*). The two disagree: a teacher-forced model never saw its own mistakes as input,
so at test time they compound (exposure bias). Scheduled sampling (Bengio et al., 2015)
trains in between: at every step and for every example a coin with probability ``p`` of
heads picks the true element, otherwise the model's own prediction, and ``p`` is decayed
from 1 towards 0 by one of the schedules below.

Models are given as a step function ``step(x, state) -> (y, state)`` with ``x`` of shape
``(B, I)`` and ``y`` of shape ``(B, K)``, and a ``feedback`` function that turns an output
``y`` into the next input ``x`` (the identity for real-valued series, a one-hot of the
predicted class for characters).
"""

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

State = Any
StepFn = Callable[[Tensor, State], tuple[Tensor, State]]
Feedback = Callable[[Tensor], Tensor]


# --- schedules: probability of feeding the true element at training step i -----------------


def linear_schedule(step: int, *, slope: float, start: float = 1.0, floor: float = 0.0) -> float:
    """Linear decay ``max(floor, start - slope * step)`` (Bengio et al., 2015).

    step: training step (mini-batch count) i >= 0
    slope: decrease per step c > 0;  start: value at step 0, k;  floor: lowest value, epsilon
    Returns the teacher-forcing probability in [floor, start].
    """
    _check_step(step)
    if not 0.0 <= floor <= start <= 1.0 or slope <= 0.0:
        raise ValueError(
            f"expected 0 <= floor <= start <= 1 and slope > 0, "
            f"got floor={floor}, start={start}, slope={slope}"
        )
    return max(floor, start - slope * step)


def exponential_schedule(step: int, *, k: float) -> float:
    """Exponential decay ``k ** step`` with 0 < k < 1 (Bengio et al., 2015).

    step: training step i >= 0;  k: decay per step
    Returns the teacher-forcing probability in (0, 1].
    """
    _check_step(step)
    if not 0.0 < k < 1.0:
        raise ValueError(f"expected 0 < k < 1 for an exponential schedule, got k={k}")
    return k**step


def inverse_sigmoid_schedule(step: int, *, k: float) -> float:
    """Inverse-sigmoid decay ``k / (k + exp(step / k))`` with k >= 1 (Bengio et al., 2015).

    step: training step i >= 0;  k: sets how long the probability stays near its start
    Returns the teacher-forcing probability in (0, k / (k + 1)].
    """
    _check_step(step)
    if k < 1.0:
        raise ValueError(f"expected k >= 1 for an inverse-sigmoid schedule, got k={k}")
    # exp overflows for step / k > ~709; the probability is 0 to double precision by then
    exponent = step / k
    return 0.0 if exponent > 700.0 else k / (k + math.exp(exponent))


def _check_step(step: int) -> None:
    if step < 0:
        raise ValueError(f"expected a training step >= 0, got {step}")


# --- feedback: the model's output turned into its next input ----------------------------------


def greedy_one_hot(logits: Tensor) -> Tensor:
    """One-hot of the most likely class: the free-running input for a character model.

    logits: (B, K) unnormalised scores
    Returns (B, K) float tensor with a single 1 per row.
    """
    _check_2d("logits", logits)
    return torch.nn.functional.one_hot(logits.argmax(dim=1), logits.shape[1]).to(logits.dtype)


def sampled_one_hot(logits: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One-hot of a class drawn from softmax(logits), as scheduled sampling does.

    logits: (B, K) unnormalised scores;  generator: torch.Generator for reproducible draws
    Returns (B, K) float tensor with a single 1 per row.
    """
    _check_2d("logits", logits)
    probs = torch.softmax(logits, dim=1)
    if generator is not None:
        probs = probs.to(generator.device)
    drawn = torch.multinomial(probs, 1, generator=generator).squeeze(1).to(logits.device)
    return torch.nn.functional.one_hot(drawn, logits.shape[1]).to(logits.dtype)


# --- unrolling -----------------------------------------------------------------------------


def rollout(
    step: StepFn,
    inputs: Tensor,
    state: State,
    *,
    teacher_prob: float,
    feedback: Feedback,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, State]:
    """Unroll ``step`` over a sequence, feeding true or own previous elements.

    step: the model, ``step(x, state) -> (y, state)`` with x (B, I) and y (B, K)
    inputs: (T, B, I) the teacher-forced inputs; inputs[0] is always fed, inputs[t] for
        t >= 1 is the true element the model predicted at step t - 1
    state: initial state, passed to the first call of ``step`` unchanged
    teacher_prob: probability p of feeding inputs[t] rather than feedback(y_{t-1}); drawn
        independently per example and step. 1 is teacher forcing, 0 is free running.
    feedback: maps an output y (B, K) to an input (B, I)
    generator: torch.Generator for reproducible coin flips
    Returns outputs (T, B, K) and the final state. Fed-back outputs are detached, as in
    Bengio et al. (2015): no gradient flows through the model's own choice of input.
    """
    if inputs.ndim != 3 or inputs.shape[0] == 0:
        raise ValueError(
            f"expected inputs of shape (T, B, I) with T >= 1, got {tuple(inputs.shape)}"
        )
    if not 0.0 <= teacher_prob <= 1.0:
        raise ValueError(f"expected 0 <= teacher_prob <= 1, got {teacher_prob}")
    outputs = []
    x = inputs[0]
    for t in range(inputs.shape[0]):
        y, state = step(x, state)
        outputs.append(y)
        if t + 1 < inputs.shape[0]:
            x = _next_input(inputs[t + 1], feedback(y.detach()), teacher_prob, generator)
    return torch.stack(outputs), state


def _next_input(
    true_x: Tensor, own_x: Tensor, teacher_prob: float, generator: torch.Generator | None
) -> Tensor:
    if own_x.shape != true_x.shape:
        raise ValueError(
            f"feedback must return inputs shaped like inputs[t] {tuple(true_x.shape)}, "
            f"got {tuple(own_x.shape)}"
        )
    # skip the coin at the two ends so p = 0 and p = 1 use no random numbers at all
    if teacher_prob == 1.0:
        return true_x
    if teacher_prob == 0.0:
        return own_x
    device = generator.device if generator is not None else true_x.device
    coin = torch.rand(true_x.shape[0], generator=generator, device=device) < teacher_prob
    return torch.where(coin.to(true_x.device).unsqueeze(1), true_x, own_x)


def generate(
    step: StepFn, prompt: Tensor, state: State, *, steps: int, feedback: Feedback
) -> tuple[Tensor, State]:
    """Read a prompt with teacher forcing, then continue free running.

    step: the model, ``step(x, state) -> (y, state)`` with x (B, I) and y (B, K)
    prompt: (P, B, I) true elements, P >= 1
    state: initial state;  steps: how many elements to predict after the prompt, >= 1
    feedback: maps an output y (B, K) to the next input (B, I)
    Returns the predictions (steps, B, K) for the elements following the prompt, and the
    final state. Call it under ``torch.no_grad()`` when no gradient is wanted.
    """
    if prompt.ndim != 3 or prompt.shape[0] == 0:
        raise ValueError(
            f"expected a prompt of shape (P, B, I) with P >= 1, got {tuple(prompt.shape)}"
        )
    if steps < 1:
        raise ValueError(f"expected steps >= 1, got {steps}")
    for x in prompt:
        y, state = step(x, state)
    outputs = [y]
    for _ in range(steps - 1):
        y, state = step(feedback(y), state)
        outputs.append(y)
    return torch.stack(outputs), state


def _check_2d(name: str, value: Tensor) -> None:
    if value.ndim != 2:
        raise ValueError(f"expected {name} of shape (B, K), got {tuple(value.shape)}")
