"""The chapter-1 excitatory–inhibitory loop against hand-worked numbers and derivatives."""

import numpy as np
import pytest

from rnnkit.circuits import LoopWeights, loop_step, rest_jacobian, simulate_loop


def test_one_step_matches_the_formula_worked_by_hand():
    w = LoopWeights(ee=1.0, ei=2.0, ie=0.5, ii=0.0, leak=0.5)
    s = np.array([0.4, 0.1])
    # a_E = 1.0*0.4 - 2.0*0.1 + 0.3 = 0.5, a_I = 0.5*0.4 = 0.2
    expected = 0.5 * s + 0.5 * np.array([np.tanh(0.5), np.tanh(0.2)])
    np.testing.assert_allclose(loop_step(s, 0.3, w), expected, rtol=0, atol=1e-15)


def test_rates_never_go_negative_under_strong_inhibition():
    w = LoopWeights(ee=0.0, ei=10.0, ie=5.0, leak=1.0)
    rates = simulate_loop(np.r_[np.ones(5), -np.ones(20)], w)
    assert (rates >= 0).all()


def test_simulation_is_the_step_applied_in_a_loop():
    w = LoopWeights()
    drive = np.sin(np.arange(30) / 3.0) + 0.5
    s, expected = np.zeros(2), []
    for x in drive:
        s = loop_step(s, x, w)
        expected.append(s)
    np.testing.assert_array_equal(simulate_loop(drive, w), np.array(expected))


def test_rest_jacobian_matches_finite_differences_just_above_rest():
    w = LoopWeights()
    eps = 1e-7
    base = np.array([1e-6, 0.0])  # both pre-activations positive, as just after a push
    numeric = np.column_stack(
        [(loop_step(base + eps * e, 0.0, w) - loop_step(base, 0.0, w)) / eps for e in np.eye(2)]
    )
    np.testing.assert_allclose(numeric, rest_jacobian(w), atol=1e-5)


def test_inhibition_lets_activity_return_to_rest_and_without_it_activity_latches():
    drive = np.r_[np.zeros(10), 0.8 * np.ones(50), np.zeros(80)]
    with_inhibition = simulate_loop(drive, LoopWeights())
    without = simulate_loop(drive, LoopWeights(ei=0.0))
    assert with_inhibition[-1, 0] < 1e-3
    assert without[-1, 0] > 0.5
    assert np.abs(np.linalg.eigvals(rest_jacobian(LoopWeights()))).max() < 1
    assert np.abs(np.linalg.eigvals(rest_jacobian(LoopWeights(ei=0.0)))).max() > 1


@pytest.mark.parametrize(
    ("drive", "kwargs", "message"),
    [
        (np.zeros((3, 2)), {}, r"shape \(T,\)"),
        (np.zeros(3), {"s0": np.zeros(3)}, r"s0 must have shape \(2,\)"),
    ],
)
def test_bad_input_names_what_was_expected(drive, kwargs, message):
    with pytest.raises(ValueError, match=message):
        simulate_loop(drive, LoopWeights(), **kwargs)


def test_leak_outside_its_range_is_refused():
    with pytest.raises(ValueError, match=r"leak must be in \(0, 1\]"):
        simulate_loop(np.zeros(3), LoopWeights(leak=0.0))
