"""rnnkit.trees: expressions worked by hand, the level-by-level encoding, and the recursive
net's batched levels against a plain recursion over each tree (float64, to rounding)."""

import ast

import numpy as np
import pytest
import torch

from rnnkit.trees import (
    CHARS,
    NODE_TOKENS,
    RecursiveNet,
    SequenceClassifier,
    encode,
    evaluate,
    label,
    random_expression,
    tokenize,
    tree_depth,
)


@pytest.mark.parametrize(
    "expr, value, depth",
    [
        ("7", 7, 0),
        ("(3 - 7) * 2 + 5", -3, 3),
        ("7 - 3 - 9", -5, 2),
        ("7 - (3 - 9)", 13, 2),
        ("-(4 - 6) * -2", -4, 3),
        ("2 * 3 + 4 * 5", 26, 2),
    ],
)
def test_evaluate_and_depth_of_hand_worked_expressions(expr, value, depth):
    assert evaluate(expr) == value == eval(expr)
    assert tree_depth(expr) == depth
    assert label(expr) == int(value > 0)


def test_encoding_of_a_hand_worked_tree_is_level_by_level():
    # (3 - 7) * 2 + 5: leaves 3 7 2 5, then -, then *, then + at the root
    t = encode(["(3 - 7) * 2 + 5"])
    tok = [NODE_TOKENS[i] for i in t.token.tolist()]
    assert tok == ["3", "7", "2", "5", "-", "*", "+"]
    assert t.left.tolist() == [-1, -1, -1, -1, 0, 4, 5]
    assert t.right.tolist() == [-1, -1, -1, -1, 1, 2, 3]
    assert t.offsets == [0, 4, 5, 6, 7]
    assert t.roots.tolist() == [6]


def test_a_batch_puts_every_child_before_its_parent_and_unary_minus_has_no_right_child():
    t = encode(["-4", "1 + 2", "-(1 - 2) * 3"])
    n = len(t.token)
    assert t.offsets[-1] == n
    for i in range(n):
        for c in (t.left[i], t.right[i]):
            assert c < i
    neg = NODE_TOKENS.index("neg")
    assert all(t.right[i] == -1 and t.left[i] >= 0 for i in range(n) if t.token[i] == neg)
    # the roots hold each expression's operator
    assert [NODE_TOKENS[t.token[r]] for r in t.roots] == ["neg", "+", "*"]


@pytest.mark.parametrize("bad", ["x + 1", "12 + 1", "3 / 4", "2 ** 3", "1.5 + 2", ""])
def test_anything_but_digits_and_plus_minus_times_is_a_value_error(bad):
    with pytest.raises((ValueError, SyntaxError)):
        encode([bad])


@pytest.mark.parametrize("depth", [0, 1, 3, 6])
def test_random_expressions_have_the_depth_asked_for_and_round_trip_through_ast(depth):
    rng = np.random.default_rng(depth)
    for _ in range(20):
        e = random_expression(depth, rng, "+-*", p_neg=0.2)
        assert tree_depth(e) == depth
        assert ast.unparse(ast.parse(e, mode="eval").body) == e
        assert evaluate(e) == eval(e)


def _recursive_state(net, node):
    """The plain recursion: h of a node from its children's h, one node at a time."""
    if isinstance(node, ast.Constant):
        return net.embedding[node.value]
    if isinstance(node, ast.UnaryOp):
        k = 3
        return torch.tanh(net.weight_left[k] @ _recursive_state(net, node.operand) + net.bias[k])
    k = {ast.Add: 0, ast.Sub: 1, ast.Mult: 2}[type(node.op)]
    a = net.weight_left[k] @ _recursive_state(net, node.left)
    a = a + net.weight_right[k] @ _recursive_state(net, node.right)
    return torch.tanh(a + net.bias[k])


def test_level_batched_states_equal_a_plain_recursion_over_each_tree():
    torch.manual_seed(0)
    net = RecursiveNet(6).double()
    with torch.no_grad():
        net.bias.normal_()  # nonzero, so that a mixed-up operator would show
    rng = np.random.default_rng(1)
    exprs = [random_expression(d, rng, "+-*", p_neg=0.3) for d in (0, 1, 2, 4, 5, 3)]
    t = encode(exprs)
    batched = net.states(t)[t.roots]
    for b, e in enumerate(exprs):
        plain = _recursive_state(net, ast.parse(e, mode="eval").body)
        torch.testing.assert_close(batched[b], plain, rtol=0, atol=1e-14)
    torch.testing.assert_close(net(t), net.readout(batched), rtol=0, atol=1e-14)


def test_level_batched_gradients_equal_those_of_the_plain_recursion():
    torch.manual_seed(2)
    net = RecursiveNet(5).double()
    rng = np.random.default_rng(3)
    exprs = [random_expression(d, rng, "+-*", p_neg=0.3) for d in (1, 3, 4)]
    t = encode(exprs)
    net.states(t)[t.roots].pow(2).sum().backward()
    tree_params = [net.embedding, net.weight_left, net.weight_right, net.bias]
    batched = [p.grad.clone() for p in tree_params]
    net.zero_grad()
    sum(
        _recursive_state(net, ast.parse(e, mode="eval").body).pow(2).sum() for e in exprs
    ).backward()
    for g, p in zip(batched, tree_params, strict=True):
        torch.testing.assert_close(g, p.grad, rtol=0, atol=1e-13)


def test_tokenize_pads_time_major_and_drops_spaces():
    tokens, lengths = tokenize(["(3 - 7) * 2", "-4"])
    assert lengths.tolist() == [7, 2]
    assert "".join(CHARS[i] for i in tokens[:, 0].tolist()) == "(3-7)*2"
    assert [CHARS[i] for i in tokens[:, 1].tolist()] == ["-", "4"] + ["<pad>"] * 5
    with pytest.raises(ValueError, match="expected digits"):
        tokenize(["3 / 4"])


def test_sequence_classifier_reads_each_sequence_up_to_its_own_length():
    torch.manual_seed(0)
    model = SequenceClassifier(8)
    tokens, lengths = tokenize(["1 + 2 * 3", "5"])
    both = model(tokens, lengths)
    torch.testing.assert_close(both[1:], model(*tokenize(["5"])), rtol=0, atol=1e-6)
