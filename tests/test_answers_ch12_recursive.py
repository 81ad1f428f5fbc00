"""rnnkit.answers.ch12_recursive against rnnkit.trees (forward), torch autograd and central
differences (backward through structure), and its training on held-out expressions."""

import numpy as np
import pytest
import torch

from rnnkit.answers import ch12_recursive as answers
from rnnkit.gradcheck import numerical_gradient, rel_error
from rnnkit.trees import RecursiveNet, encode, label, random_expression

KEYS = ("E", "W_l", "W_r", "b")


def _params(H, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "E": rng.normal(size=(10, H)),
        "W_l": rng.normal(scale=0.6, size=(4, H, H)),
        "W_r": rng.normal(scale=0.6, size=(4, H, H)),
        "b": rng.normal(size=(4, H)),
    }


def _net(params):
    net = RecursiveNet(params["E"].shape[1]).double()
    with torch.no_grad():
        for p, k in zip(
            (net.embedding, net.weight_left, net.weight_right, net.bias), KEYS, strict=True
        ):
            p.copy_(torch.from_numpy(params[k]))
    return net


@pytest.mark.parametrize(
    "expr, tree",
    [
        ("7", 7),
        ("(3 - 7) * 2 + 5", ("+", ("*", ("-", 3, 7), 2), 5)),
        ("3 - (7 - 2)", ("-", 3, ("-", 7, 2))),
        ("-(4 - 6) * -2", ("*", ("neg", ("-", 4, 6)), ("neg", 2))),
        ("((5))", 5),
        ("--1", ("neg", ("neg", 1))),
    ],
)
def test_parse_tree_of_hand_worked_expressions(expr, tree):
    assert answers.parse_tree(expr) == tree


@pytest.mark.parametrize("bad", ["x", "12", "3 / 4", "+3", "1.0 * 2", "(1 +", "2 ** 3"])
def test_parse_tree_rejects_anything_else(bad):
    with pytest.raises(ValueError):
        answers.parse_tree(bad)


def test_tree_forward_matches_the_level_batched_net_and_lists_children_first():
    params = _params(5)
    net = _net(params)
    rng = np.random.default_rng(4)
    for d in (0, 1, 3, 5):
        e = random_expression(d, rng, "+-*", p_neg=0.3)
        h, nodes = answers.tree_forward(answers.parse_tree(e), params)
        t = encode([e])
        np.testing.assert_allclose(h, net.states(t)[t.roots[0]].detach().numpy(), atol=1e-14)
        assert len(nodes) == len(t.token) and nodes[-1][1] is h
        assert all(left < i and right < i for i, (_, _, left, right) in enumerate(nodes))


@pytest.mark.parametrize("expr", ["4", "-(4 - 6) * -2", "(3 - 7) * 2 + 5 - 1 * (2 + 3)"])
def test_tree_backward_matches_autograd(expr):
    params = _params(4, seed=1)
    net = _net(params)
    dh = np.random.default_rng(2).normal(size=4)
    t = encode([expr])
    (net.states(t)[t.roots[0]] @ torch.from_numpy(dh)).backward()
    _, nodes = answers.tree_forward(answers.parse_tree(expr), params)
    grads = answers.tree_backward(dh, nodes, params)
    for k, p in zip(
        KEYS, (net.embedding, net.weight_left, net.weight_right, net.bias), strict=True
    ):
        expected = torch.zeros_like(p) if p.grad is None else p.grad  # a lone digit uses no W
        np.testing.assert_allclose(grads[k], expected.numpy(), rtol=0, atol=1e-13)


def test_tree_backward_matches_central_differences():
    params = _params(3, seed=5)
    tree = answers.parse_tree("-(2 - 9) * (1 + 3) - 4")
    dh = np.array([0.3, -1.2, 0.8])
    _, nodes = answers.tree_forward(tree, params)
    grads = answers.tree_backward(dh, nodes, params)
    for k in KEYS:

        def loss(x, k=k):
            return float(dh @ answers.tree_forward(tree, params | {k: x})[0])

        assert rel_error(grads[k], numerical_gradient(loss, params[k].copy())) < 1e-7


def test_train_sign_beats_the_majority_class_by_a_wide_margin():
    rng = np.random.default_rng(12)
    train = [random_expression(int(rng.integers(1, 5)), rng, "+-", 0.15) for _ in range(400)]
    test = [random_expression(int(rng.integers(1, 5)), rng, "+-", 0.15) for _ in range(200)]
    y = np.array([label(e) for e in train])
    yt = np.array([label(e) for e in test])
    params = answers.train_sign(train, y, 12, 8, seed=0)
    pred = [
        np.argmax(
            params["V"] @ answers.tree_forward(answers.parse_tree(e), params)[0] + params["b_y"]
        )
        for e in test
    ]
    assert np.mean(pred == yt) > max(yt.mean(), 1 - yt.mean()) + 0.2
