"""rnnkit.gradcheck on functions whose gradients are known in closed form."""

import numpy as np
import pytest

from rnnkit.gradcheck import check_gradients, numerical_gradient, rel_error

# central differences with h = 1e-5: truncation h²/6·f''' ≈ 2e-11, rounding ε/h ≈ 1e-11
TOL = 1e-9


def test_numerical_gradient_of_weighted_sine_sum_is_cosine():
    rng = np.random.default_rng(0)
    x, A = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    grad = numerical_gradient(lambda x: np.sum(np.sin(x) * A), x)
    assert rel_error(grad, np.cos(x) * A) <= TOL


def test_numerical_gradient_of_quadratic_form_is_symmetrised_matrix_times_x():
    rng = np.random.default_rng(1)
    x, A = rng.normal(size=5), rng.normal(size=(5, 5))
    grad = numerical_gradient(lambda x: x @ A @ x, x)
    assert rel_error(grad, (A + A.T) @ x) <= TOL


def test_numerical_gradient_with_upstream_gradient_is_the_vector_jacobian_product():
    # f(X) = M X is linear, so Σ df ⊙ ∂f/∂X = M^T df
    rng = np.random.default_rng(2)
    M, X, df = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=(4, 2))
    grad = numerical_gradient(lambda X: M @ X, X, df)
    assert rel_error(grad, M.T @ df) <= TOL


def test_numerical_gradient_copes_with_f_returning_x_itself():
    # the identity: the nudged x must be copied before it is restored
    rng = np.random.default_rng(3)
    x, df = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    assert rel_error(numerical_gradient(lambda x: x, x, df), df) <= TOL


def test_numerical_gradient_restores_x_exactly_even_when_f_fails():
    x = np.array([0.1, 0.2, 0.3])
    before = x.copy()
    numerical_gradient(lambda x: np.sum(x**3), x)
    assert np.array_equal(x, before)

    def fails_on_second_element(x):
        if x[1] != before[1]:
            raise RuntimeError("boom")
        return float(np.sum(x))

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(fails_on_second_element, x)
    assert np.array_equal(x, before)


def test_numerical_gradient_rejects_bad_input():
    with pytest.raises(ValueError, match="x: expected a floating-point array, got int64"):
        numerical_gradient(np.sum, np.arange(3, dtype=np.int64))
    with pytest.raises(ValueError, match=r"df: expected the shape of f's output \(3,\)"):
        numerical_gradient(lambda x: 2 * x, np.zeros(3))
    with pytest.raises(
        ValueError, match=r"df: expected the shape of f's output \(3,\).*got \(2,\)"
    ):
        numerical_gradient(lambda x: 2 * x, np.zeros(3), df=np.ones(2))


def test_rel_error_on_numbers_worked_by_hand():
    # max|a − b| = 0.5; max(|a| + |b|) = 2 + 2.5 = 4.5
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.5])) == pytest.approx(0.5 / 4.5)
    # scalars: 0.1 / 2.1
    assert rel_error(1.0, 1.1) == pytest.approx(0.1 / 2.1)
    assert rel_error(np.array([3.0, -4.0]), np.array([3.0, -4.0])) == 0.0
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    # below 1e-8 the denominator is floored: 1e-12 / 1e-8
    assert rel_error(1e-12, 0.0) == pytest.approx(1e-4)


def test_rel_error_is_taken_over_the_whole_array_not_per_element():
    # per element, the second entry would give 1e-9 / 3e-9 = 1/3; over the array the
    # difference is measured against the largest magnitude: 1e-9 / 200
    a, b = np.array([100.0, 1e-9]), np.array([100.0, 2e-9])
    assert rel_error(a, b) == pytest.approx(1e-9 / 200.0)


def test_rel_error_is_symmetric_and_rejects_mismatched_shapes():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    assert rel_error(a, b) == rel_error(b, a)
    with pytest.raises(ValueError, match=r"b: expected the shape of a \(2, 3\), got \(3, 2\)"):
        rel_error(a, b.T)


def test_check_gradients_accepts_right_and_flags_wrong_gradients():
    rng = np.random.default_rng(5)
    inputs = {"x": rng.normal(size=3), "y": rng.normal(size=3)}

    def f(x, y):
        return float(np.sum(x * y**2))

    right = {"x": inputs["y"] ** 2, "y": 2 * inputs["x"] * inputs["y"]}
    errors = check_gradients(f, inputs, right)
    assert set(errors) == {"x", "y"}
    assert max(errors.values()) <= TOL

    wrong = {"y": inputs["x"] * inputs["y"]}  # the factor 2 forgotten
    assert check_gradients(f, inputs, wrong)["y"] == pytest.approx(1 / 3, rel=1e-6)

    with pytest.raises(ValueError, match=r"grads: expected names among \['x', 'y'\], got \['z'\]"):
        check_gradients(f, inputs, {"z": np.zeros(3)})
