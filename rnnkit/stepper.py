"""A stepper motor moving a load, under open-loop and closed-loop control.

Chapter 1 starts from control, not from neural networks: the same loop that lets a
controller notice a lost step is the loop that makes a network recurrent.

The model, one tick at a time (a tick is one control period):

1. The controller decides how many full steps ``c_t`` to command. It may read the
   encoder, which reports the rotor position ``p_{t-1}`` at the end of the previous tick.
2. The motor tries to make those steps against the load torque ``tau_t``. If
   ``tau_t`` exceeds the motor's pull-out torque, the rotor falls out of step: every
   step commanded in that tick slips and the rotor stays where it was. Otherwise all
   of them are made.

So the position obeys ``p_t = p_{t-1} + c_t`` when ``tau_t <= pull_out_torque``
and ``p_t = p_{t-1}`` otherwise. This is deliberately simpler than a real motor
(which loses steps in groups of its electrical cycle and may be dragged backwards);
it keeps the one fact the chapter needs: under overload, commanded steps go missing.

An open-loop controller plans all its commands before it starts and never reads the
encoder, so every lost step is a step short at the end. A closed-loop controller reads
the encoder each tick and keeps commanding until the position equals the target. Its
state update is ``p_t = f(p_{t-1}, tau_t)``: exactly the recurrence
``s(t) = f(s(t-1), x(t); theta)`` of a recurrent network, with the position as the
state, the load as the input and (pull-out torque, steps per tick, target) as theta.

Positions are counted in full steps from 0; the motor only moves forward.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# (tick, encoder reading p_{t-1}) -> number of steps to command in this tick
Controller = Callable[[int, int], int]


@dataclass(frozen=True)
class StepperTrace:
    """What happened in each of the N ticks of a run.

    position: (N,) int, encoder reading at the end of each tick (steps)
    commanded: (N,) int, steps the controller commanded in each tick
    lost: (N,) int, commanded steps that slipped in each tick
    load_torque: (N,) float, load torque during each tick (N·m)
    target: the position the load should reach (steps)
    """

    position: np.ndarray
    commanded: np.ndarray
    lost: np.ndarray
    load_torque: np.ndarray
    target: int

    @property
    def final_position(self) -> int:
        """Position after the last tick (steps)."""
        return int(self.position[-1])

    @property
    def ticks_to_target(self) -> int | None:
        """Ticks taken until the position first equals the target; None if it never does."""
        hits = np.flatnonzero(self.position == self.target)
        return int(hits[0]) + 1 if hits.size else None


def overload_profile(
    n_ticks: int, base_torque: float, overload_torque: float, start: int, duration: int
) -> np.ndarray:
    """Load torque that sits at a base level except for one overload window.

    n_ticks: N, length of the profile
    base_torque, overload_torque: torque outside and inside the window (N·m, >= 0)
    start: first tick of the window (0-based); duration: its length in ticks (may be 0)
    Returns tau: (N,) float with tau[start:start + duration] = overload_torque.
    """
    if n_ticks < 1:
        raise ValueError(f"n_ticks must be at least 1, got {n_ticks}")
    if base_torque < 0 or overload_torque < 0:
        raise ValueError(
            f"torques must be >= 0, got base {base_torque} and overload {overload_torque}"
        )
    if start < 0 or duration < 0 or start + duration > n_ticks:
        raise ValueError(
            f"overload window must fit in 0..{n_ticks}, got start {start}, duration {duration}"
        )
    tau = np.full(n_ticks, float(base_torque))
    tau[start : start + duration] = overload_torque
    return tau


def motor_tick(
    position: int, command: int, load_torque: float, pull_out_torque: float
) -> tuple[int, int]:
    """Advance the motor by one tick: the plant's state update p_t = f(p_{t-1}, c_t, tau_t).

    position: p_{t-1} (steps); command: c_t, steps commanded this tick (>= 0)
    load_torque: tau_t (N·m); pull_out_torque: largest load the motor can move (N·m)
    Returns (p_t, steps lost this tick).
    """
    if load_torque > pull_out_torque:
        return position, command
    return position + command, 0


def open_loop(target: int, steps_per_tick: int) -> Controller:
    """A controller that plans target steps in advance and plays the plan blindly.

    target: position to reach from 0 (steps, >= 0)
    steps_per_tick: largest command per tick (>= 1); the plan is full ticks then the rest
    Returns a Controller that ignores the encoder reading.
    """
    _check_move(target, steps_per_tick)
    full, rest = divmod(target, steps_per_tick)
    plan = [steps_per_tick] * full + ([rest] if rest else [])

    def command(tick: int, encoder: int) -> int:
        # The encoder reading is offered and ignored: that is what makes the loop open.
        return plan[tick] if tick < len(plan) else 0

    return command


def closed_loop(target: int, steps_per_tick: int) -> Controller:
    """A controller that commands whatever the encoder says is still missing.

    target: position to reach from 0 (steps, >= 0)
    steps_per_tick: largest command per tick (>= 1)
    Returns a Controller that commands min(steps_per_tick, target - encoder) each tick.
    """
    _check_move(target, steps_per_tick)

    def command(tick: int, encoder: int) -> int:
        return max(0, min(steps_per_tick, target - encoder))

    return command


def simulate(
    controller: Controller, load_torque: np.ndarray, pull_out_torque: float, target: int
) -> StepperTrace:
    """Run a controller and the motor together for as many ticks as the load profile has.

    controller: open_loop(...) or closed_loop(...), or any (tick, encoder) -> steps
    load_torque: (N,) load torque in each tick (N·m, >= 0)
    pull_out_torque: torque above which the commanded steps slip (N·m, > 0)
    target: recorded in the trace so ticks_to_target can be read off (steps)
    Returns a StepperTrace of N ticks, starting from position 0.
    """
    tau = np.asarray(load_torque, dtype=float)
    if tau.ndim != 1 or tau.size == 0:
        raise ValueError(f"load_torque must be a non-empty 1-D array, got shape {tau.shape}")
    if not np.all(np.isfinite(tau)) or np.any(tau < 0):
        raise ValueError("load_torque must be finite and >= 0 in every tick")
    if not pull_out_torque > 0:
        raise ValueError(f"pull_out_torque must be > 0, got {pull_out_torque}")
    _check_int("target", target, minimum=0)

    n = tau.size
    position, commanded, lost = (np.zeros(n, dtype=int) for _ in range(3))
    p = 0
    for t in range(n):
        c = controller(t, p)
        if not isinstance(c, int | np.integer) or c < 0:
            raise ValueError(f"controller must return an int >= 0, got {c!r} at tick {t}")
        p, lost[t] = motor_tick(p, int(c), tau[t], pull_out_torque)
        position[t], commanded[t] = p, c
    return StepperTrace(position, commanded, lost, tau, target)


def _check_move(target: int, steps_per_tick: int) -> None:
    _check_int("target", target, minimum=0)
    _check_int("steps_per_tick", steps_per_tick, minimum=1)


def _check_int(name: str, value: object, minimum: int) -> None:
    # Steps are indivisible: a fractional target or rate is a bug in the caller.
    if not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
