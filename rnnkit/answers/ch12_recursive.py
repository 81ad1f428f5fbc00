"""Answers to assignment 12: a recursive network over one expression's tree, in NumPy.

A tree is nested tuples: a digit is an ``int`` in 0..9, a binary operator node is
``(op, left, right)`` with op one of ``"+" "-" "*"``, a unary minus is ``("neg", child)``.
Parameters are a dict of float64 arrays laid out like ``rnnkit.trees.RecursiveNet``:
``E`` (10, H) the digits' vectors, ``W_l``, ``W_r`` (P, H, H) and ``b`` (P, H) one set
per operator in ``rnnkit.trees.OPERATORS`` order (P = 4), and for training the readout
``V`` (2, H), ``b_y`` (2,).
"""

import ast

import numpy as np

from rnnkit.trees import OPERATORS

ASSIGNED_IN = "ch12_recursive"

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}

Tree = int | tuple


def parse_tree(expr: str) -> Tree:
    """The tree of an expression from Python's ast, as nested tuples.

    Parentheses leave no node of their own (ast has already used them to build the tree);
    ``-x`` is ``("neg", x)``. Anything else than the digits 0-9, + - * and unary minus is a
    ValueError.
    """

    def convert(node: ast.expr) -> Tree:
        if isinstance(node, ast.Constant) and type(node.value) is int and 0 <= node.value <= 9:
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return ("neg", convert(node.operand))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return (_BINARY[type(node.op)], convert(node.left), convert(node.right))
        raise ValueError(f"expected digits, + - * and unary minus, got {ast.unparse(node)!r}")

    try:
        body = ast.parse(expr, mode="eval").body
    except SyntaxError as err:
        raise ValueError(f"expected an arithmetic expression, got {expr!r}") from err
    return convert(body)


def tree_forward(tree: Tree, params: dict[str, np.ndarray]) -> tuple[np.ndarray, list]:
    """The recursive network over one tree -> (h_root (H,), nodes).

    nodes lists every node in post-order (children before their parent, the root last) as
    ``(token, h, left, right)``: token the digit (int) or the operator (str), h its (H,)
    vector, left and right the positions of its children in nodes (-1 where none).
    """
    nodes: list[tuple] = []

    def visit(t: Tree) -> int:
        if isinstance(t, int):
            nodes.append((t, params["E"][t], -1, -1))
            return len(nodes) - 1
        op, children = t[0], [visit(c) for c in t[1:]]
        k = OPERATORS.index(op)
        a = params["W_l"][k] @ nodes[children[0]][1] + params["b"][k]
        if len(children) == 2:
            a = a + params["W_r"][k] @ nodes[children[1]][1]
        nodes.append((op, np.tanh(a), children[0], children[1] if len(children) == 2 else -1))
        return len(nodes) - 1

    visit(tree)
    return nodes[-1][1], nodes


def tree_backward(dh_root: np.ndarray, nodes: list, params: dict[str, np.ndarray]) -> dict:
    """Backpropagation through structure -> gradients of E, W_l, W_r, b (dict, like params).

    dh_root: (H,) the loss's gradient with respect to the root's vector. Walking the nodes
    from the root down, a node's δ = dh ⊙ (1 − h²) gives its operator's gradients
    (δ h_leftᵀ, δ h_rightᵀ, δ) and its children's dh (W_lᵀ δ, W_rᵀ δ); a leaf adds its dh
    to its digit's row of E.
    """
    grads = {k: np.zeros_like(params[k]) for k in ("E", "W_l", "W_r", "b")}
    dh = [np.zeros_like(dh_root) for _ in nodes]
    dh[-1] = dh_root
    for i in reversed(range(len(nodes))):
        token, h, left, right = nodes[i]
        if isinstance(token, int):
            grads["E"][token] += dh[i]
            continue
        k = OPERATORS.index(token)
        delta = dh[i] * (1.0 - h**2)
        grads["b"][k] += delta
        grads["W_l"][k] += np.outer(delta, nodes[left][1])
        dh[left] += params["W_l"][k].T @ delta
        if right >= 0:
            grads["W_r"][k] += np.outer(delta, nodes[right][1])
            dh[right] += params["W_r"][k].T @ delta
    return grads


def train_sign(
    exprs: list[str],
    labels: np.ndarray,
    hidden_size: int,
    epochs: int,
    lr: float = 0.01,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Train the recursive network and a readout on the sign task -> params.

    Logits ℓ = V h_root + b_y, softmax cross-entropy averaged over a minibatch of 20 trees,
    Adam; the trees are parsed once. Initialisation from np.random.default_rng(seed): E
    normal with scale 0.5, W_l, W_r, V uniform in ±1/√H, b and b_y zero.
    """
    rng = np.random.default_rng(seed)
    H, P, bound = hidden_size, len(OPERATORS), 1 / np.sqrt(hidden_size)
    params = {
        "E": rng.normal(scale=0.5, size=(10, H)),
        "W_l": rng.uniform(-bound, bound, (P, H, H)),
        "W_r": rng.uniform(-bound, bound, (P, H, H)),
        "b": np.zeros((P, H)),
        "V": rng.uniform(-bound, bound, (2, H)),
        "b_y": np.zeros(2),
    }
    m = {k: np.zeros_like(p) for k, p in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    trees, step, batch = [parse_tree(e) for e in exprs], 0, 20
    for _ in range(epochs):
        order = rng.permutation(len(trees))
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            grads = {k: np.zeros_like(p) for k, p in params.items()}
            for i in idx:
                h, nodes = tree_forward(trees[i], params)
                logits = params["V"] @ h + params["b_y"]
                p = np.exp(logits - logits.max())
                p /= p.sum()
                p[labels[i]] -= 1.0  # ∂L/∂ℓ of the cross-entropy
                dl = p / len(idx)
                grads["V"] += np.outer(dl, h)
                grads["b_y"] += dl
                for k, g in tree_backward(params["V"].T @ dl, nodes, params).items():
                    grads[k] += g
            step += 1
            for k, g in grads.items():  # Adam, β = (0.9, 0.999)
                m[k] = 0.9 * m[k] + 0.1 * g
                v[k] = 0.999 * v[k] + 0.001 * g * g
                m_hat, v_hat = m[k] / (1 - 0.9**step), v[k] / (1 - 0.999**step)
                params[k] -= lr * m_hat / (np.sqrt(v_hat) + 1e-8)
    return params
