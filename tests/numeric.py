"""Random inputs for the NumPy-against-torch tests (test_reference, test_answers_*)."""

from __future__ import annotations

import numpy as np
import torch


def randn(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Normal float64 entries with standard deviation 0.7: the gates stay away from saturation."""
    return rng.normal(scale=0.7, size=shape)


def split_bias(rng: np.random.Generator, H: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two random torch biases and the course's b = bias_ih + bias_hh."""
    b_ih, b_hh = randn(rng, H), randn(rng, H)
    return b_ih, b_hh, b_ih + b_hh


def loaded(module: torch.nn.Module, **state: np.ndarray) -> torch.nn.Module:
    """``module`` with its parameters set from NumPy arrays, by name."""
    module.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    return module


# Everything runs in float64. Forward passes and autograd agree with the NumPy code up to
# rounding (measured ≈ 1e-16), so they are held to EXACT_TOL; central differences with
# h = 1e-5 carry a truncation and rounding error of about 1e-10: FINITE_DIFFERENCE_TOL.
EXACT_TOL = 1e-12
FINITE_DIFFERENCE_TOL = 1e-8
F64 = torch.float64

# (T, B, I, H): single step, single sequence, I ≠ H, and a general case
SEQUENCE_SHAPES = [(1, 1, 1, 1), (1, 2, 3, 4), (4, 1, 3, 2), (3, 5, 4, 3)]
# (B, I, H): single example and unit, I ≠ H, and a general case
STEP_SHAPES = [(1, 1, 1), (2, 3, 4), (1, 3, 2), (5, 4, 3)]


def torch_params(U, W, b_ih, b_hh, suffix: str = "") -> dict:
    """torch.nn parameter names for the course's U, W and the two biases."""
    return {
        f"weight_ih{suffix}": U,
        f"weight_hh{suffix}": W,
        f"bias_ih{suffix}": b_ih,
        f"bias_hh{suffix}": b_hh,
    }
