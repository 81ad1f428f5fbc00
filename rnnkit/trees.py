"""Recursive networks over parse trees: arithmetic expressions, parsed by Python's ``ast``.

An expression such as ``(3 - 7) * 2 + 5`` is a tree whose leaves are digits and whose
inner nodes are operators. A recursive network gives every node a vector: a leaf embeds
its digit, an inner node combines its children's vectors with the weights of its
operator,

    h = tanh(W_l[op] h_left + W_r[op] h_right + b[op])

(a unary minus has one child, and no right term), and the root's vector is read out,
ℓ = V h_root + b_y. The task is the expression's value mod 10.

A batch of trees is stored level by level (:class:`TreeBatch`): nodes sorted by their
height (leaves 0, a node one more than its highest child), so every node's children come
before it and one level is computed at once. The sequence baseline reads the same text
left to right, one character per step (:func:`tokenize`, :class:`SequenceClassifier`).
"""

import ast
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

DIGITS = "0123456789"
#: Inner-node operators: the three binary ones and the unary minus.
OPERATORS = ("+", "-", "*", "neg")
#: Node tokens: digits 0-9 are ids 0-9, OPERATORS follow (ids 10-13).
NODE_TOKENS = (*DIGITS, *OPERATORS)
#: Characters of the left-to-right reading; id 0 is padding.
CHARS = ("<pad>", *DIGITS, "+", "-", "*", "(", ")")
K = 2  # classes: value > 0 or not

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}
_AST_OF = {"+": ast.Add, "-": ast.Sub, "*": ast.Mult}


def random_expression(
    depth: int, rng: np.random.Generator, ops: str = "+-*", p_neg: float = 0.0
) -> str:
    """A random expression whose tree has exactly the given depth (a digit has depth 0).

    The root's operator and one of its children (chosen at random) have the full
    remaining depth, the other child a depth drawn uniformly below it; a node is a unary
    minus with probability p_neg. The text is ``ast.unparse``'s, with only the
    parentheses the tree needs.
    """
    if depth < 0:
        raise ValueError(f"depth should be a non-negative int, got {depth}")

    def grow(d: int) -> ast.expr:
        if d == 0:
            return ast.Constant(int(rng.integers(10)))
        if rng.random() < p_neg:
            return ast.UnaryOp(ast.USub(), grow(d - 1))
        deep, shallow = grow(d - 1), grow(int(rng.integers(d)))
        left, right = (deep, shallow) if rng.random() < 0.5 else (shallow, deep)
        return ast.BinOp(left, _AST_OF[ops[rng.integers(len(ops))]](), right)

    return ast.unparse(grow(depth))


def _parse(expr: str) -> ast.expr:
    """The expression's ast node; ValueError for anything but digits, + - * and parentheses."""
    node = ast.parse(expr, mode="eval").body
    for sub in ast.walk(node):
        ok = isinstance(sub, ast.BinOp) and type(sub.op) in _BINARY
        ok |= isinstance(sub, ast.UnaryOp) and isinstance(sub.op, ast.USub)
        ok |= isinstance(sub, ast.Constant) and type(sub.value) is int and 0 <= sub.value <= 9
        ok |= isinstance(sub, (ast.operator, ast.unaryop))
        if not ok:
            raise ValueError(f"expected digits, + - * and parentheses, got {ast.unparse(sub)!r}")
    return node


def evaluate(expr: str) -> int:
    """The integer value of an expression (by walking its tree, not by eval)."""

    def value(node: ast.expr) -> int:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.UnaryOp):
            return -value(node.operand)
        a, b = value(node.left), value(node.right)
        return {"+": a + b, "-": a - b, "*": a * b}[_BINARY[type(node.op)]]

    return value(_parse(expr))


def label(expr: str) -> int:
    """The class of an expression: 1 if its value is positive, 0 if it is zero or negative."""
    return int(evaluate(expr) > 0)


def tree_depth(expr: str) -> int:
    """The depth of the expression's tree: 0 for a digit, the number of operators on its
    longest root-to-leaf path otherwise."""
    return int(encode([expr]).levels - 1)


@dataclass
class TreeBatch:
    """B trees stored level by level (N nodes in all).

    token: (N,) node token ids (``NODE_TOKENS``); left, right: (N,) the index of each
    node's children, -1 where there is none (leaves; the right of a unary minus);
    offsets: (L + 1,) the nodes of height l are ``offsets[l]:offsets[l + 1]``;
    roots: (B,) the index of each tree's root. Children always come before parents.
    """

    token: Tensor
    left: Tensor
    right: Tensor
    offsets: list[int]
    roots: Tensor

    @property
    def levels(self) -> int:
        """L, the number of levels (the deepest tree's depth + 1)."""
        return len(self.offsets) - 1


def encode(exprs: list[str]) -> TreeBatch:
    """Parse each expression with ``ast`` and store all the trees level by level."""
    nodes: list[tuple[int, int, int, int]] = []  # (height, token, left, right), children first

    def visit(node: ast.expr) -> tuple[int, int]:
        """Append node's subtree to nodes; return (its position, its height)."""
        if isinstance(node, ast.Constant):
            nodes.append((0, node.value, -1, -1))
        elif isinstance(node, ast.UnaryOp):
            child, height = visit(node.operand)
            nodes.append((height + 1, NODE_TOKENS.index("neg"), child, -1))
        else:
            (left, hl), (right, hr) = visit(node.left), visit(node.right)
            nodes.append((max(hl, hr) + 1, NODE_TOKENS.index(_BINARY[type(node.op)]), left, right))
        return len(nodes) - 1, nodes[-1][0]

    roots = [visit(_parse(e))[0] for e in exprs]
    if not roots:
        raise ValueError("expected at least one expression, got an empty list")
    height = np.array([n[0] for n in nodes])
    order = np.argsort(height, kind="stable")
    new_index = np.empty(len(nodes) + 1, dtype=np.int64)
    new_index[order], new_index[-1] = np.arange(len(nodes)), -1  # -1 (no child) stays -1
    table = np.array([nodes[i][1:] for i in order])
    counts = np.bincount(height)
    return TreeBatch(
        token=torch.from_numpy(table[:, 0]),
        left=torch.from_numpy(new_index[table[:, 1]]),
        right=torch.from_numpy(new_index[table[:, 2]]),
        offsets=[0, *np.cumsum(counts).tolist()],
        roots=torch.from_numpy(new_index[roots]),
    )


class RecursiveNet(nn.Module):
    """The recursive network: digit embeddings, one weight set per operator, a readout.

    Parameters: ``embedding`` (10, H), the leaves' vectors; ``weight_left``,
    ``weight_right`` (P, H, H) and ``bias`` (P, H), the W_l, W_r, b of each of the
    P = 4 operators in ``OPERATORS`` order (the unary minus's W_r is unused);
    ``readout`` a Linear holding V (K, H) and b_y (K,).
    """

    def __init__(self, hidden_size: int, num_classes: int = K) -> None:
        super().__init__()
        H, P = hidden_size, len(OPERATORS)
        self.embedding = nn.Parameter(torch.randn(len(DIGITS), H) * 0.5)
        bound = 1 / H**0.5
        self.weight_left = nn.Parameter(torch.empty(P, H, H).uniform_(-bound, bound))
        self.weight_right = nn.Parameter(torch.empty(P, H, H).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(P, H))
        self.readout = nn.Linear(H, num_classes)

    def states(self, trees: TreeBatch) -> Tensor:
        """Every node's vector, one level at a time -> (N, H), in the batch's node order."""
        H, P = self.embedding.shape[1], len(OPERATORS)
        W_l = self.weight_left.reshape(P * H, H)  # every operator's W_l stacked
        W_r = self.weight_right.reshape(P * H, H)
        o = trees.offsets
        h = self.embedding[trees.token[: o[1]]]  # the leaves
        for lo, hi in zip(o[1:-1], o[2:], strict=True):
            op = trees.token[lo:hi] - len(DIGITS)  # (n,) each node's operator
            rows = torch.arange(hi - lo)
            padded = torch.cat([h, h.new_zeros(1, H)])  # child index -1 reads this zero row
            # all operators' weights in one product each, then every node keeps its own
            a_l = (padded[trees.left[lo:hi]] @ W_l.T).view(-1, P, H)[rows, op]
            a_r = (padded[trees.right[lo:hi]] @ W_r.T).view(-1, P, H)[rows, op]
            h = torch.cat([h, torch.tanh(a_l + a_r + self.bias[op])])
        return h

    def forward(self, trees: TreeBatch) -> Tensor:
        """Logits ℓ = V h_root + b_y -> (B, K)."""
        return self.readout(self.states(trees)[trees.roots])


def tokenize(exprs: list[str]) -> tuple[Tensor, Tensor]:
    """The characters of each expression (spaces dropped) as ids into ``CHARS``.

    Returns tokens (T, B), time-major and padded with 0, and lengths (B,).
    """
    ids = []
    for e in exprs:
        try:
            ids.append([CHARS.index(c) for c in e if c != " "])
        except ValueError as err:
            raise ValueError(f"expected digits, + - * ( ) and spaces, got {e!r}") from err
    lengths = torch.tensor([len(s) for s in ids])
    tokens = torch.zeros(int(lengths.max()), len(ids), dtype=torch.long)
    for b, s in enumerate(ids):
        tokens[: len(s), b] = torch.tensor(s)
    return tokens, lengths


class SequenceClassifier(nn.Module):
    """The left-to-right baseline: character embeddings, a GRU, a readout of its last state."""

    def __init__(self, hidden_size: int, embedding_size: int = 16, num_classes: int = K) -> None:
        super().__init__()
        self.embedding = nn.Embedding(len(CHARS), embedding_size, padding_idx=0)
        self.gru = nn.GRU(embedding_size, hidden_size)
        self.readout = nn.Linear(hidden_size, num_classes)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """tokens: (T, B) ids, lengths: (B,) -> logits (B, K) from each sequence's last state."""
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embedding(tokens), lengths, enforce_sorted=False
        )
        _, h_last = self.gru(packed)
        return self.readout(h_last[0])


def parameter_count(model: nn.Module) -> int:
    """The number of trainable numbers in a model."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
