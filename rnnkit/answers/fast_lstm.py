"""An LSTM layer over a whole sequence, with its backward pass derived by hand.

This module holds the answer to assignment 4 (the LSTM step backward), arranged for speed.
The forward projects every input at once (``rnnkit.fast.project_inputs``, one GEMM before
the loop), then per step does one GEMM ``W h_{t-1}`` and the gate nonlinearities in place
on that step's (B, 4H) slice of one buffer. The backward walks the steps in reverse doing
only what cannot wait, the gradient ``dA_t`` of each step's pre-activations; the weight
and input gradients are one GEMM each over all steps afterwards::

    dW = dA^T H_prev,   dU = dA^T X,   dX = dA U,   db = Σ_t dA_t

Backward of one step, in the course notation (``σ' = σ(1 − σ)``, ``tanh' = 1 − tanh²``)::

    dh_t = dy_t + W^T dA_{t+1}                          gradient reaching h_t
    dc_t = f_{t+1} ⊙ dc_{t+1} + dh_t ⊙ o ⊙ (1 − tanh² c_t)
    dA_i = dc_t ⊙ g ⊙ i (1 − i)
    dA_f = dc_t ⊙ c_{t-1} ⊙ f (1 − f)
    dA_g = dc_t ⊙ i ⊙ (1 − g²)
    dA_o = dh_t ⊙ tanh(c_t) ⊙ o (1 − o)

The factors that do not depend on the gradient (``g ⊙ i (1 − i)``, ``o ⊙ (1 − tanh² c_t)``
and so on) are known from the forward pass, so they are computed for all steps at once
before the loop, into the buffer that then receives ``dA``; each step of the backward is
one GEMM and four elementwise operations.
"""

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from rnnkit.fast import project_inputs

ASSIGNED_IN = "ch04_lstm"


class FastLSTMFunction(torch.autograd.Function):
    """``torch.nn.LSTM``'s computation (one layer, one direction) with a hand-written backward.

    Inputs: ``x`` (T, B, I); ``h0``, ``c0`` (B, H); ``weight_ih`` U (4H, I), ``weight_hh``
    W (4H, H), ``bias_ih`` and ``bias_hh`` (4H,) or both None; gate blocks i, f, g, o.
    Outputs: ``hs`` (T, B, H), every h_t, and ``c_T`` (B, H), the last cell state.
    """

    @staticmethod
    def forward(
        ctx: FunctionCtx,
        x: Tensor,
        h0: Tensor,
        c0: Tensor,
        weight_ih: Tensor,
        weight_hh: Tensor,
        bias_ih: Tensor | None,
        bias_hh: Tensor | None,
    ) -> tuple[Tensor, Tensor]:
        T, B, H = x.shape[0], x.shape[1], h0.shape[1]
        bias = None if bias_ih is None else bias_ih + bias_hh
        # acts holds U x_t + b for every step; each step adds W h_{t-1} to its slice and
        # applies the nonlinearities in place, so it ends up holding i, f, g, o.
        acts = project_inputs(x, weight_ih, bias)
        hs = x.new_empty(T, B, H)
        w_t = weight_hh.t().contiguous()
        cs, tanh_cs = torch.empty_like(hs), torch.empty_like(hs)
        # Views made once (unbind is one call for all T), not once per step.
        blocks = acts.view(T, B, 4, H).unbind(2)
        steps = zip(
            acts.unbind(0),
            acts[:, :, : 2 * H].unbind(0),
            *(block.unbind(0) for block in blocks),
            cs.unbind(0),
            tanh_cs.unbind(0),
            hs.unbind(0),
            strict=True,
        )
        h_prev, c_prev = h0, c0
        for a, i_f, i, f, g, o, c, tanh_c, h in steps:
            a.addmm_(h_prev, w_t)
            torch.sigmoid_(i_f)
            torch.tanh_(g)
            torch.sigmoid_(o)
            torch.mul(f, c_prev, out=c).addcmul_(i, g)
            torch.mul(o, torch.tanh(c, out=tanh_c), out=h)
            h_prev, c_prev = h, c
        ctx.save_for_backward(x, h0, c0, weight_ih, weight_hh, hs, acts, cs, tanh_cs)
        ctx.has_bias = bias is not None
        # c_T is returned as a tensor of its own, so the caller cannot change cs.
        return hs, cs[T - 1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, dhs: Tensor, dc_last: Tensor) -> tuple[Tensor | None, ...]:
        x, h0, c0, weight_ih, weight_hh, hs, acts, cs, tanh_cs = ctx.saved_tensors
        T, B, H = hs.shape
        i, f, g, o = acts.view(T, B, 4, H).unbind(2)
        one = x.new_ones(())
        # dA first holds the factors known from the forward pass: σ' = σ − σ² of the
        # sigmoid gates and tanh' = 1 − g² of g, each times the value it meets in the
        # chain rule. Each step then multiplies them by dc_t or dh_t.
        dA = torch.empty_like(acts)
        dA4 = dA.view(T, B, 4, H)
        dA_i, dA_f, dA_g, dA_o = dA4.unbind(2)
        acts_if = acts[:, :, : 2 * H]
        torch.addcmul(acts_if, acts_if, acts_if, value=-1, out=dA[:, :, : 2 * H])
        torch.addcmul(o, o, o, value=-1, out=dA_o)
        torch.addcmul(one, g, g, value=-1, out=dA_g)
        dA_i.mul_(g)
        dA_f[0].mul_(c0)
        dA_f[1:].mul_(cs[:-1])
        dA_g.mul_(i)
        dA_o.mul_(tanh_cs)
        # o ⊙ (1 − tanh² c_t), the factor of dh_t in dc_t
        dc_dh = torch.addcmul(one, tanh_cs, tanh_cs, value=-1).mul_(o)

        dh = dhs[T - 1].clone()
        dc = dc_last.clone()
        steps = zip(
            dhs.unbind(0),
            dA.unbind(0),
            dA4[:, :, :3].unbind(0),
            dA_o.unbind(0),
            dc_dh.unbind(0),
            f.unbind(0),
            strict=True,
        )
        dA_next, f_next = None, None
        for t, (dy, dA_t, dA_ifg, dA_o_t, k_c, f_t) in reversed(list(enumerate(steps))):
            if t < T - 1:
                torch.addmm(dy, dA_next, weight_hh, out=dh)
                dc.mul_(f_next)
            dc.addcmul_(dh, k_c)
            dA_ifg.mul_(dc.unsqueeze(1))
            dA_o_t.mul_(dh)
            dA_next, f_next = dA_t, f_t

        needs = ctx.needs_input_grad
        dA_rows = dA.view(T * B, 4 * H)
        dx = (dA_rows @ weight_ih).view(x.shape) if needs[0] else None
        dh0 = dA[0] @ weight_hh if needs[1] else None
        dc0 = dc * f[0] if needs[2] else None
        dW_ih = dA_rows.t() @ x.reshape(T * B, -1) if needs[3] else None
        dW_hh = None
        if needs[4]:
            # dA^T H_prev with H_prev = [h0, h_1, ..., h_{T-1}], without copying them together.
            dW_hh = (dA[0].t() @ h0).addmm_(dA_rows[B:].t(), hs[:-1].reshape(-1, H))
        db_ih = db_hh = None
        if ctx.has_bias:
            db = dA_rows.sum(0)
            # Two tensors: each parameter may keep its gradient and change it in place.
            db_ih, db_hh = db, db.clone()
        return dx, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh
