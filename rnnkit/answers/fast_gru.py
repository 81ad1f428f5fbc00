"""A GRU layer over a whole sequence, with its backward pass derived by hand.

This module holds the answer to assignment 6 (the GRU step backward), arranged for speed
like ``fast_lstm``: the forward projects every input at once
(``rnnkit.fast.project_inputs``, ``A^x = X U^T + b_i``, one GEMM before the loop) and does
one GEMM per step, ``A^h_t = W h_{t-1} + b_h``. The backward finds, step by step in
reverse, the gradients of both pre-activations, ``dA^x_t`` and ``dA^h_t``; the weight and
input gradients are one GEMM each over all steps afterwards::

    dU = dA^x^T X,   dX = dA^x U,   dW = dA^h^T H_prev,   db_i = Σ_t dA^x_t,   db_h = Σ_t dA^h_t

Backward of one step, in PyTorch's convention ``h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}`` with
``n = tanh(A^x_n + r ⊙ A^h_n)``::

    dh_t   = dy_t + z_{t+1} ⊙ dh_{t+1} + W^T dA^h_{t+1}    gradient reaching h_t
    dA_n   = dh_t ⊙ (1 − z) ⊙ (1 − n²)                    of A^x_n + r ⊙ A^h_n
    dA_z   = dh_t ⊙ (h_{t-1} − n) ⊙ z (1 − z)
    dA_r   = dA_n ⊙ A^h_n ⊙ r (1 − r)
    dA^x_t = [dA_r, dA_z, dA_n],   dA^h_t = [dA_r, dA_z, r ⊙ dA_n]

Every factor after ``dh_t`` is known from the forward pass, so it is computed for all steps
at once before the loop; each step of the backward is one GEMM and three elementwise
operations.
"""

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from rnnkit.fast import project_inputs

ASSIGNED_IN = "ch06_gru"


class FastGRUFunction(torch.autograd.Function):
    """``torch.nn.GRU``'s computation (one layer, one direction) with a hand-written backward.

    Inputs: ``x`` (T, B, I); ``h0`` (B, H); ``weight_ih`` U (3H, I), ``weight_hh`` W (3H, H),
    ``bias_ih`` and ``bias_hh`` (3H,) or both None; gate blocks r, z, n.
    Output: ``hs`` (T, B, H), every h_t.
    """

    @staticmethod
    def forward(
        ctx: FunctionCtx,
        x: Tensor,
        h0: Tensor,
        weight_ih: Tensor,
        weight_hh: Tensor,
        bias_ih: Tensor | None,
        bias_hh: Tensor | None,
    ) -> Tensor:
        T, B, H = x.shape[0], x.shape[1], h0.shape[1]
        # acts holds A^x for every step and ends up holding r, z, n; ah holds A^h, whose
        # n block the backward needs.
        acts = project_inputs(x, weight_ih, bias_ih)
        ah = torch.empty_like(acts)
        hs = x.new_empty(T, B, H)
        w_t = weight_hh.t().contiguous()
        steps = zip(
            acts[:, :, : 2 * H].unbind(0),
            acts[:, :, :H].unbind(0),
            acts[:, :, H : 2 * H].unbind(0),
            acts[:, :, 2 * H :].unbind(0),
            ah.unbind(0),
            hs.unbind(0),
            strict=True,
        )
        h_prev = h0
        for r_z, r, z, n, ah_t, h in steps:
            if bias_hh is None:
                torch.mm(h_prev, w_t, out=ah_t)
            else:
                torch.addmm(bias_hh, h_prev, w_t, out=ah_t)
            torch.sigmoid_(r_z.add_(ah_t[:, : 2 * H]))
            torch.tanh_(n.addcmul_(r, ah_t[:, 2 * H :]))
            # h_t = n + z ⊙ (h_{t-1} − n), the same as (1 − z) ⊙ n + z ⊙ h_{t-1}.
            torch.sub(h_prev, n, out=h).mul_(z).add_(n)
            h_prev = h
        ctx.save_for_backward(x, h0, weight_ih, weight_hh, hs, acts, ah)
        ctx.has_bias = bias_ih is not None
        return hs

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, dhs: Tensor) -> tuple[Tensor | None, ...]:
        x, h0, weight_ih, weight_hh, hs, acts, ah = ctx.saved_tensors
        T, B, H = hs.shape
        r, z, n = acts.view(T, B, 3, H).unbind(2)
        h_prevs = torch.cat([h0.unsqueeze(0), hs[:-1]])
        # dA^x and dA^h first hold their factors of dh_t; each step multiplies them by dh_t.
        dAx = torch.empty_like(acts)
        dAx3 = dAx.view(T, B, 3, H)
        dA_r, dA_z, dA_n = dAx3.unbind(2)
        torch.mul(n, n, out=dA_n).neg_().add_(1).mul_(1 - z)
        torch.sub(h_prevs, n, out=dA_z).mul_(z).mul_(1 - z)
        torch.mul(dA_n, ah[:, :, 2 * H :], out=dA_r).mul_(r).mul_(1 - r)
        dAh = dAx.clone()
        dAh3 = dAh.view(T, B, 3, H)
        dAh3[:, :, 2].mul_(r)

        dh = dhs[T - 1].clone()
        steps = zip(dhs.unbind(0), dAx3.unbind(0), dAh3.unbind(0), z.unbind(0), strict=True)
        dAh_next, z_next = None, None
        for t, (dy, dAx_t, dAh_t, z_t) in reversed(list(enumerate(steps))):
            if t < T - 1:
                torch.addcmul(dy, z_next, dh, out=dh).addmm_(dAh_next.view(B, 3 * H), weight_hh)
            dAx_t.mul_(dh.unsqueeze(1))
            dAh_t.mul_(dh.unsqueeze(1))
            dAh_next, z_next = dAh_t, z_t

        needs = ctx.needs_input_grad
        dAx_rows, dAh_rows = dAx.view(T * B, 3 * H), dAh.view(T * B, 3 * H)
        dx = (dAx_rows @ weight_ih).view(x.shape) if needs[0] else None
        dh0 = torch.addmm(dh * z[0], dAh[0], weight_hh) if needs[1] else None
        dW_ih = dAx_rows.t() @ x.reshape(T * B, -1) if needs[2] else None
        dW_hh = dAh_rows.t() @ h_prevs.view(T * B, H) if needs[3] else None
        db_ih = db_hh = None
        if ctx.has_bias:
            db_ih, db_hh = dAx_rows.sum(0), dAh_rows.sum(0)
        return dx, dh0, dW_ih, dW_hh, db_ih, db_hh
