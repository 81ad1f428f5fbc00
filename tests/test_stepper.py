"""The stepper-motor simulation against runs worked out by hand."""

import numpy as np
import pytest

from rnnkit.stepper import (
    closed_loop,
    motor_tick,
    open_loop,
    overload_profile,
    simulate,
)

PULL_OUT = 1.0  # N·m; the profiles below use 0.5 (fine) and 2.0 (overload)


def run(kind, target, steps_per_tick, tau):
    make = {"open": open_loop, "closed": closed_loop}[kind]
    return simulate(make(target, steps_per_tick), tau, PULL_OUT, target)


def test_without_overload_both_controllers_reach_target_in_same_ticks():
    tau = overload_profile(20, 0.5, 2.0, start=0, duration=0)
    open_, closed = run("open", 10, 1, tau), run("closed", 10, 1, tau)
    assert open_.ticks_to_target == closed.ticks_to_target == 10
    np.testing.assert_array_equal(open_.position, closed.position)
    np.testing.assert_array_equal(open_.position[:10], np.arange(1, 11))
    assert open_.lost.sum() == closed.lost.sum() == 0


@pytest.mark.parametrize("k", [1, 2, 4])
def test_overload_of_k_ticks_leaves_open_loop_k_steps_short(k):
    tau = overload_profile(20, 0.5, 2.0, start=3, duration=k)
    trace = run("open", 10, 1, tau)
    # one step per tick, every tick of the window loses its step, and nobody replans
    assert trace.lost.sum() == k
    assert trace.final_position == 10 - k
    assert trace.ticks_to_target is None
    # the rotor holds still exactly during the window
    np.testing.assert_array_equal(trace.position[2 : 3 + k], np.full(k + 1, 3))


@pytest.mark.parametrize("k", [1, 2, 4])
def test_overload_of_k_ticks_delays_closed_loop_by_k_ticks(k):
    tau = overload_profile(20, 0.5, 2.0, start=3, duration=k)
    trace = run("closed", 10, 1, tau)
    assert trace.lost.sum() == k
    assert trace.ticks_to_target == 10 + k
    assert trace.final_position == 10
    # once there, it stops commanding
    assert trace.commanded[10 + k :].sum() == 0


def test_partial_last_step_is_lost_and_recovered_with_two_steps_per_tick():
    # target 9 at 2 steps per tick: plan 2, 2, 2, 2, 1; overload hits the final 1-step tick
    tau = overload_profile(10, 0.5, 2.0, start=4, duration=1)
    open_, closed = run("open", 9, 2, tau), run("closed", 9, 2, tau)
    np.testing.assert_array_equal(open_.commanded[:6], [2, 2, 2, 2, 1, 0])
    assert open_.final_position == 8
    np.testing.assert_array_equal(closed.position[:6], [2, 4, 6, 8, 8, 9])
    assert closed.ticks_to_target == 6


def test_overload_early_costs_a_full_tick_of_steps():
    # target 9 at 2 steps per tick, overload in tick 1: 2 steps slip
    tau = overload_profile(10, 0.5, 2.0, start=1, duration=1)
    open_, closed = run("open", 9, 2, tau), run("closed", 9, 2, tau)
    assert open_.final_position == 7
    np.testing.assert_array_equal(closed.position[:6], [2, 2, 4, 6, 8, 9])


def test_overload_after_arrival_costs_nothing():
    tau = overload_profile(20, 0.5, 2.0, start=12, duration=5)
    for kind in ("open", "closed"):
        trace = run(kind, 10, 1, tau)
        assert trace.lost.sum() == 0 and trace.final_position == 10


def test_load_equal_to_pull_out_torque_still_moves():
    assert motor_tick(5, 3, load_torque=1.0, pull_out_torque=1.0) == (8, 0)
    assert motor_tick(5, 3, load_torque=1.01, pull_out_torque=1.0) == (5, 3)


def test_open_loop_ignores_encoder_and_closed_loop_uses_it():
    blind, sighted = open_loop(5, 2), closed_loop(5, 2)
    assert [blind(t, 0) for t in range(4)] == [blind(t, 99) for t in range(4)] == [2, 2, 1, 0]
    assert [sighted(0, p) for p in (0, 3, 4, 5, 7)] == [2, 2, 1, 0, 0]


def test_closed_loop_never_arrives_under_permanent_overload():
    tau = np.full(15, 2.0)
    trace = run("closed", 10, 1, tau)
    assert trace.final_position == 0 and trace.lost.sum() == 15


def test_overload_profile_places_window():
    np.testing.assert_array_equal(
        overload_profile(6, 0.5, 2.0, start=2, duration=3), [0.5, 0.5, 2.0, 2.0, 2.0, 0.5]
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: open_loop(-1, 1),
        lambda: open_loop(5, 0),
        lambda: closed_loop(2.5, 1),
        lambda: overload_profile(0, 0.5, 2.0, 0, 0),
        lambda: overload_profile(10, -0.5, 2.0, 0, 1),
        lambda: overload_profile(10, 0.5, 2.0, 8, 3),
        lambda: simulate(closed_loop(3, 1), np.ones((2, 3)), PULL_OUT, 3),
        lambda: simulate(closed_loop(3, 1), np.array([0.5, np.nan]), PULL_OUT, 3),
        lambda: simulate(closed_loop(3, 1), np.full(4, 0.5), 0.0, 3),
        lambda: simulate(lambda t, p: -1, np.full(4, 0.5), PULL_OUT, 3),
        lambda: simulate(lambda t, p: 0.5, np.full(4, 0.5), PULL_OUT, 3),
        lambda: simulate(closed_loop(3, 1), np.full(4, 0.5), PULL_OUT, -3),
    ],
)
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()
