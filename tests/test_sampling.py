"""Tests for rnnkit.sampling: schedules, feedback and teacher-forced / free-running unrolls."""

import pytest
import torch

from rnnkit.sampling import (
    exponential_schedule,
    generate,
    greedy_one_hot,
    inverse_sigmoid_schedule,
    linear_schedule,
    rollout,
    sampled_one_hot,
)


def _torch_rnn_step(rnn: torch.nn.RNN, readout: torch.nn.Linear):
    """A step function built from torch.nn modules, so the unrolls have an outside truth."""

    def step(x, h):
        out, h = rnn(x.unsqueeze(0), h)
        return readout(out[0]), h

    return step


def _model(seed: int = 0, inputs: int = 3, hidden: int = 5):
    torch.manual_seed(seed)
    rnn = torch.nn.RNN(inputs, hidden, dtype=torch.float64)
    readout = torch.nn.Linear(hidden, inputs, dtype=torch.float64)
    return rnn, readout


# --- schedules ----------------------------------------------------------------------------


def test_linear_schedule_matches_hand_values_and_stops_at_floor():
    assert linear_schedule(0, slope=0.05) == 1.0
    assert linear_schedule(10, slope=0.05) == pytest.approx(0.5, abs=1e-15)
    assert linear_schedule(10, slope=0.05, start=0.9) == pytest.approx(0.4, abs=1e-15)
    assert linear_schedule(100, slope=0.05, floor=0.2) == 0.2


def test_exponential_schedule_is_k_to_the_step():
    assert exponential_schedule(0, k=0.9) == 1.0
    assert exponential_schedule(3, k=0.5) == 0.125


def test_inverse_sigmoid_schedule_matches_hand_values():
    # k / (k + e^0) = 4 / 5 at step 0; 4 / (4 + e^2) = 0.351214 at step 8
    assert inverse_sigmoid_schedule(0, k=4.0) == pytest.approx(0.8, abs=1e-15)
    assert inverse_sigmoid_schedule(8, k=4.0) == pytest.approx(0.351214, abs=1e-6)


def test_inverse_sigmoid_schedule_reaches_zero_without_overflow():
    assert inverse_sigmoid_schedule(10**6, k=1.0) == 0.0


@pytest.mark.parametrize(
    "schedule",
    [
        lambda i: linear_schedule(i, slope=1e-3),
        lambda i: exponential_schedule(i, k=0.99),
        lambda i: inverse_sigmoid_schedule(i, k=50.0),
    ],
)
def test_schedules_decrease_from_at_most_one(schedule):
    values = [schedule(i) for i in range(0, 2000, 50)]
    assert values[0] <= 1.0
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))
    assert values[-1] < 0.2


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: linear_schedule(-1, slope=0.1), "step >= 0"),
        (lambda: linear_schedule(0, slope=0.0), "slope > 0"),
        (lambda: linear_schedule(0, slope=0.1, floor=0.5, start=0.4), "floor <= start"),
        (lambda: exponential_schedule(1, k=1.0), "0 < k < 1"),
        (lambda: inverse_sigmoid_schedule(1, k=0.5), "k >= 1"),
    ],
)
def test_schedules_reject_bad_arguments_with_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- feedback -----------------------------------------------------------------------------


def test_greedy_one_hot_marks_the_argmax():
    logits = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 0.5]])
    assert torch.equal(greedy_one_hot(logits), torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))


def test_sampled_one_hot_draws_classes_at_softmax_frequencies():
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1]])).expand(20000, 3)
    drawn = sampled_one_hot(logits, torch.Generator().manual_seed(0))
    assert torch.equal(drawn.sum(dim=1), torch.ones(20000))
    # binomial standard error of a frequency near 0.7 with n = 20000 is 0.0032: allow 4 of them
    assert torch.allclose(drawn.mean(dim=0), torch.tensor([0.7, 0.2, 0.1]), atol=0.013)


def test_feedback_rejects_logits_that_are_not_2d():
    with pytest.raises(ValueError, match=r"\(B, K\)"):
        greedy_one_hot(torch.zeros(3))


# --- rollout and generate ------------------------------------------------------------------


def test_rollout_with_teacher_prob_one_equals_torch_rnn_over_the_inputs():
    rnn, readout = _model()
    inputs = torch.randn(7, 4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    h0 = torch.zeros(1, 4, 5, dtype=torch.float64)
    outputs, h_last = rollout(
        _torch_rnn_step(rnn, readout), inputs, h0, teacher_prob=1.0, feedback=lambda y: y
    )
    expected_states, expected_last = rnn(inputs, h0)
    torch.testing.assert_close(outputs, readout(expected_states), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_last, expected_last, rtol=1e-12, atol=1e-12)


def test_rollout_with_teacher_prob_zero_feeds_back_its_own_outputs():
    rnn, readout = _model()
    step = _torch_rnn_step(rnn, readout)
    inputs = torch.randn(6, 2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    h0 = torch.zeros(1, 2, 5, dtype=torch.float64)
    outputs, _ = rollout(step, inputs, h0, teacher_prob=0.0, feedback=torch.tanh)
    # the same free run written out by hand: only inputs[0] is ever read
    expected, h, x = [], h0, inputs[0]
    for _ in range(6):
        y, h = step(x, h)
        expected.append(y)
        x = torch.tanh(y)
    torch.testing.assert_close(outputs, torch.stack(expected), rtol=1e-12, atol=1e-12)


def test_rollout_free_running_agrees_with_generate_after_a_one_element_prompt():
    rnn, readout = _model(seed=3)
    step = _torch_rnn_step(rnn, readout)
    inputs = torch.randn(5, 2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    h0 = torch.zeros(1, 2, 5, dtype=torch.float64)
    with torch.no_grad():
        free, _ = rollout(step, inputs, h0, teacher_prob=0.0, feedback=torch.sin)
        continued, _ = generate(step, inputs[:1], h0, steps=5, feedback=torch.sin)
    torch.testing.assert_close(free, continued, rtol=0.0, atol=0.0)


def _recording_step(seen):
    """Outputs -1 everywhere and records its inputs: fed-back and true inputs differ."""

    def step(x, state):
        seen.append(x)
        return -torch.ones_like(x), state

    return step


def test_rollout_picks_the_true_input_with_the_given_probability_per_example():
    seen = []
    inputs = torch.ones(11, 4000, 1)
    rollout(
        _recording_step(seen),
        inputs,
        None,
        teacher_prob=0.3,
        feedback=lambda y: y,
        generator=torch.Generator().manual_seed(5),
    )
    chosen_true = torch.stack(seen[1:]) > 0  # (10, 4000, 1)
    # 40000 coin flips: standard error of the frequency is 0.0023; allow 4 of them
    assert abs(chosen_true.float().mean().item() - 0.3) < 0.01
    # each example flips its own coin: rows of one step are not all the same
    assert 0 < chosen_true[0].sum() < 4000


def test_rollout_coin_flips_are_reproducible_with_a_seeded_generator():
    def run():
        seen = []
        rollout(
            _recording_step(seen),
            torch.ones(5, 8, 1),
            None,
            teacher_prob=0.5,
            feedback=lambda y: y,
            generator=torch.Generator().manual_seed(6),
        )
        return torch.stack(seen)

    assert torch.equal(run(), run())


def test_rollout_passes_no_gradient_through_fed_back_outputs():
    weight = torch.tensor(2.0, requires_grad=True)
    seen = []

    def step(x, state):
        seen.append(x)
        return weight * x, state

    outputs, _ = rollout(step, torch.ones(3, 1, 1), None, teacher_prob=0.0, feedback=lambda y: y)
    assert not seen[1].requires_grad
    # with detached feedback y_t = w * y_{t-1} treats y_{t-1} as a constant: dL/dw = sum_t y_{t-1}
    outputs.sum().backward()
    assert weight.grad.item() == pytest.approx(1.0 + 2.0 + 4.0)


def test_generate_continues_a_linear_recurrence_worked_by_hand():
    def double(x, state):
        return 2.0 * x, state

    outputs, _ = generate(double, torch.tensor([[[1.0]]]), None, steps=4, feedback=lambda y: y)
    assert outputs.flatten().tolist() == [2.0, 4.0, 8.0, 16.0]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: rollout(None, torch.ones(3, 2), None, teacher_prob=1.0, feedback=None),
            r"\(T, B, I\)",
        ),
        (
            lambda: rollout(None, torch.ones(3, 2, 1), None, teacher_prob=1.5, feedback=None),
            "teacher_prob",
        ),
        (lambda: generate(None, torch.ones(0, 2, 1), None, steps=2, feedback=None), r"\(P, B, I\)"),
        (lambda: generate(None, torch.ones(1, 2, 1), None, steps=0, feedback=None), "steps >= 1"),
    ],
)
def test_unrolls_reject_bad_arguments_with_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_rollout_rejects_feedback_of_the_wrong_shape():
    with pytest.raises(ValueError, match="feedback must return"):
        rollout(
            lambda x, s: (x, s),
            torch.ones(2, 3, 1),
            None,
            teacher_prob=0.5,
            feedback=lambda y: y.repeat(1, 2),
        )
