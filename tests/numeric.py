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
