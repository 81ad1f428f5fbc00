"""Gradient checking: central differences and the relative error between two gradients.

A backward pass written by hand is trusted once it agrees with the slope measured by
nudging each input a little either way:

    ∂f/∂x_k ≈ (f(x + h e_k) − f(x − h e_k)) / 2h

The error of this estimate shrinks like h² (the even terms of the Taylor series cancel),
while rounding in f grows like ε/h, so h = 1e-5 suits float64 (ε ≈ 1e-16): the two
meet around 1e-10. Check in float64; in float32 the rounding term alone is about 1e-2.
"""

from collections.abc import Callable, Mapping

import numpy as np


def numerical_gradient(
    f: Callable[[np.ndarray], np.ndarray | float],
    x: np.ndarray,
    df: np.ndarray | None = None,
    h: float = 1e-5,
) -> np.ndarray:
    """Central-difference gradient of f at x, one element of x at a time.

    f: function of x returning a scalar, or an array of any shape when df is given
    x: array of any shape, floating point; nudged in place and restored afterwards, so
       f may also read x through another reference (a closure, a dict of inputs)
    df: upstream gradient ∂L/∂f with f's output shape; the result is then
        Σ df ⊙ ∂f/∂x_k for each k, the gradient of L = Σ df ⊙ f
    h: step size
    Returns an array of x's shape.
    """
    x_array = np.asarray(x)
    if not np.issubdtype(x_array.dtype, np.floating):
        raise ValueError(f"x: expected a floating-point array, got {x_array.dtype}")
    upstream = 1.0 if df is None else np.asarray(df)
    grad = np.zeros(x_array.shape)
    for k in np.ndindex(x_array.shape):
        original = x_array[k]
        try:
            x_array[k] = original + h
            # copy: f may hand back a buffer it overwrites on the next call, or x itself
            f_plus = np.array(f(x_array), dtype=float)
            x_array[k] = original - h
            f_minus = np.array(f(x_array), dtype=float)
        finally:
            x_array[k] = original
        if np.shape(f_plus) != np.shape(upstream):
            raise ValueError(
                f"df: expected the shape of f's output {np.shape(f_plus)} "
                f"(scalar f when df is None), got {np.shape(upstream)}"
            )
        grad[k] = np.sum(upstream * (f_plus - f_minus)) / (2.0 * h)
    return grad


def rel_error(a: np.ndarray | float, b: np.ndarray | float) -> float:
    """Relative error between two arrays of the same shape, taken over the whole array:

        rel_error(a, b) = max_k |a_k − b_k| / max(1e-8, max_k (|a_k| + |b_k|))

    The largest difference is measured against the largest magnitude, not element by
    element, so entries that are zero up to rounding in both arrays (their quotient
    would be noise over noise) do not decide the result. 1e-8 guards against division by
    zero: two all-zero arrays give 0. Scalars count as arrays of shape ().

    a, b: arrays (or scalars) of one shape
    Returns a float in [0, 1].
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"b: expected the shape of a {a.shape}, got {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1e-8, np.max(np.abs(a) + np.abs(b))))


def check_gradients(
    f: Callable[..., np.ndarray | float],
    inputs: Mapping[str, np.ndarray],
    grads: Mapping[str, np.ndarray],
    df: np.ndarray | None = None,
    h: float = 1e-5,
) -> dict[str, float]:
    """Compare analytic gradients with central differences, input by input.

    f: called as f(**inputs); returns a scalar, or an array matching df
    inputs: name -> floating-point array; each is nudged in place and restored
    grads: name -> analytic gradient of the input of that name (same shape); inputs
        without an entry are not checked
    df: upstream gradient with f's output shape, for array-valued f
    h: step size for numerical_gradient
    Returns name -> rel_error(analytic, numerical) for every name in grads.
    """
    missing = set(grads) - set(inputs)
    if missing:
        raise ValueError(f"grads: expected names among {sorted(inputs)}, got {sorted(missing)}")
    return {
        name: rel_error(grad, numerical_gradient(lambda _: f(**inputs), inputs[name], df, h))
        for name, grad in grads.items()
    }
