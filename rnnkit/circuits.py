"""Chapter 1: a two-unit excitatory–inhibitory loop, the brain's feedback as a recurrence.

An excitatory unit E excites itself and an inhibitory unit I; I inhibits E in return.
Their firing rates form the state ``s_t = (E_t, I_t)``, and one step of the circuit is

    s_t = (1 - alpha) * s_{t-1} + alpha * phi(M s_{t-1} + x_t),
    M = [[w_ee, -w_ei],
         [w_ie, -w_ii]],

with ``phi(a) = max(tanh(a), 0)`` (rates are never negative and saturate) and
``alpha`` the fraction of the old rate replaced per step (a leak, as in a membrane).
It has exactly the form ``s_t = f(s_{t-1}, x_t; theta)`` of every recurrence in the
course. Rates are in arbitrary units; a step is a few milliseconds.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LoopWeights:
    """Connection strengths of the two-unit loop (all >= 0; signs are in M).

    ee: E -> E (self-excitation)
    ei: I -> E (inhibition of E)
    ie: E -> I (E drives I)
    ii: I -> I (self-inhibition)
    leak: alpha in (0, 1], the fraction of the old rate replaced per step
    """

    ee: float = 1.2
    ei: float = 1.5
    ie: float = 1.5
    ii: float = 0.0
    leak: float = 0.3

    def matrix(self) -> np.ndarray:
        """M, shape (2, 2): row 0 feeds E, row 1 feeds I; columns are E, I."""
        return np.array([[self.ee, -self.ei], [self.ie, -self.ii]])


def loop_step(s: np.ndarray, x: float, w: LoopWeights) -> np.ndarray:
    """One step of the loop: s (2,) = (E, I) and the drive x to E -> the next s (2,)."""
    a = w.matrix() @ s + np.array([x, 0.0])
    return (1.0 - w.leak) * s + w.leak * np.maximum(np.tanh(a), 0.0)


def simulate_loop(drive: np.ndarray, w: LoopWeights, s0: np.ndarray | None = None) -> np.ndarray:
    """Run the loop over a drive sequence.

    drive: (T,) input to the excitatory unit at each step
    w: the loop's weights
    s0: (2,) starting rates (E, I); zeros when None
    Returns the rates after each step, shape (T, 2): column 0 is E, column 1 is I.
    """
    drive = np.asarray(drive, dtype=float)
    if drive.ndim != 1:
        raise ValueError(f"drive must be one value per step, shape (T,); got {drive.shape}")
    if not 0.0 < w.leak <= 1.0:
        raise ValueError(f"leak must be in (0, 1], got {w.leak}")
    s = np.zeros(2) if s0 is None else np.asarray(s0, dtype=float)
    if s.shape != (2,):
        raise ValueError(f"s0 must have shape (2,) for (E, I); got {s.shape}")
    rates = np.empty((drive.size, 2))
    for t, x in enumerate(drive):
        s = loop_step(s, x, w)
        rates[t] = s
    return rates


def rest_jacobian(w: LoopWeights) -> np.ndarray:
    """ds_t/ds_{t-1} at the resting state s = 0 for a small positive push, shape (2, 2).

    phi has slope 1 just above zero, so the linearised loop is (1 - alpha) I + alpha M:
    rest is stable when both eigenvalues have modulus below 1, and complex eigenvalues
    mean E and I chase each other (a damped oscillation).
    """
    return (1.0 - w.leak) * np.eye(2) + w.leak * w.matrix()
