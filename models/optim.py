"""Optimisers the base model offers besides torch's AdamW/Adam: `BertAdam`, the update of the official TAILOR
(kniter1/TAILOR d61121ba) and CARAT (chengzju/CARAT 3210086a) code, both `optimization.py`, after Hugging Face's
`pytorch-pretrained-bert` BertAdam. Our own implementation of the update rule below.

Per parameter tensor θ with gradient g, at each step:
    g ← g · min(1, max_grad_norm / ‖g‖)          (per-tensor clipping, before the moments)
    m ← β1 m + (1 − β1) g
    v ← β2 v + (1 − β2) g²
    u = m / (√v + ε) + wd · θ                     (no bias correction; weight decay added to the update)
    θ ← θ − lr_t · u
with β = (0.9, 0.999), ε = 1e-6. The official `warmup_linear` schedule, lr_t = lr · x / w for x < w and
lr · max((x − 1) / (w − 1), 0) otherwise (x = step / total steps, first update at lr 0), is the base model's
`schedule="linear"` with `warmup_fraction=w`, applied to `lr` through a LambdaLR.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch


class BertAdam(torch.optim.Optimizer):
    """Adam without bias correction, weight decay added to the update, per-tensor gradient clipping.

    Args:
        params: parameters or parameter groups (a group may set its own `weight_decay`).
        lr: learning rate (scaled by the schedule).  betas, eps: moment decays and the denominator's epsilon.
        weight_decay: added to the update as `weight_decay * θ` (then scaled by the lr).
        max_grad_norm: each tensor's gradient is clipped to this L2 norm first; <= 0 turns clipping off.
    """

    def __init__(self, params: Iterable[Any], lr: float = 5e-5, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-6, weight_decay: float = 0.01, max_grad_norm: float = 1.0) -> None:
        if lr < 0 or eps < 0 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"BertAdam: need lr >= 0, eps >= 0 and betas in [0, 1), got {lr}, {eps}, {betas}.")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "max_grad_norm": max_grad_norm}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if group["max_grad_norm"] > 0:
                    norm = grad.norm()
                    grad = grad * (group["max_grad_norm"] / norm).clamp(max=1.0) if norm > 0 else grad
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                update = m / (v.sqrt() + group["eps"])
                if group["weight_decay"]:
                    update = update + group["weight_decay"] * p
                p.add_(update, alpha=-group["lr"])
        return loss
