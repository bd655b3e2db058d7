"""Batched entropic OT (models/layers/sinkhorn.py): plans equal POT's `ot.solve_batch` log-domain Sinkhorn plans;
the implicit gradient equals autodiff's (ours and POT's) through a converged solve; the envelope gradient is the
gradient of the entropic OT value; the log-domain fallback for wide cost ranges; over-relaxation active."""

from __future__ import annotations

import pytest
import torch

from emobench.models.layers import sinkhorn
from emobench.models.layers.sinkhorn import sinkhorn_plan

ot = pytest.importorskip("ot")


def _problem(n: int, m: int, dtype: torch.dtype, seed: int = 0, scale: float = 1.0):
    """Cosine costs of low-rank tokens (spread over most of [0, 2]) times `scale`, padded marginals, a weight W."""
    g = torch.Generator().manual_seed(seed)
    basis = torch.randn(4, 16, generator=g, dtype=dtype)
    p = torch.nn.functional.normalize(torch.randn(5, n, 4, generator=g, dtype=dtype) @ basis, dim=-1)
    q = torch.nn.functional.normalize(torch.randn(5, m, 4, generator=g, dtype=dtype) @ basis, dim=-1)
    cost = scale * (1.0 - p @ q.transpose(1, 2))
    a, b = torch.ones(5, n, dtype=dtype), torch.ones(5, m, dtype=dtype)
    a[1, n // 2:] = 0  # padded physiological tokens
    a[3, :3] = 0  # padding need not be at the end
    b[2, m // 3:] = 0
    weight = torch.randn(5, n, m, generator=g, dtype=dtype)
    return cost, a / a.sum(1, keepdim=True), b / b.sum(1, keepdim=True), weight


def _pot(cost, a, b, reg, tol):
    return ot.solve_batch(cost, reg=reg, a=a, b=b, max_iter=20000, tol=tol, method="log_sinkhorn", grad="autodiff")


@pytest.mark.parametrize(("n", "m"), [(12, 12), (8, 13), (13, 8)])
def test_plans_and_implicit_gradients_equal_pots_autodiff_at_convergence(n, m):
    """float64, solved to 1e-12: the plan equals POT's, and the implicit gradient of a loss using the plan (as I and
    the OT loss do) equals autodiff through our iterations and through POT's."""
    cost0, a, b, weight = _problem(n, m, torch.float64)
    grads = {}
    for grad in ("implicit", "autodiff"):
        cost = cost0.clone().requires_grad_()
        plan, iterations = sinkhorn_plan(cost, a, b, reg=0.1, max_iter=20000, tol=1e-12, grad=grad)
        ((plan * weight).sum() + (plan * cost).sum()).backward()
        grads[grad] = cost.grad
        assert iterations < 20000
    cost = cost0.clone().requires_grad_()
    reference = _pot(cost, a, b, 0.1, 1e-12)
    ((reference.plan * weight).sum() + (reference.plan * cost).sum()).backward()
    torch.testing.assert_close(plan.detach(), reference.plan.detach(), atol=1e-12, rtol=0)
    torch.testing.assert_close(grads["implicit"], cost.grad, atol=1e-9, rtol=1e-7)
    torch.testing.assert_close(grads["implicit"], grads["autodiff"], atol=1e-9, rtol=1e-7)
    assert float(grads["implicit"].abs().max()) > 1e-3  # a real gradient, not zeros on both sides


def test_float32_marginals_and_implicit_gradient():
    """float32 at HeLo's tolerance: rows within 1e-5 (L2 per sample), columns exact, padding carries no mass, and
    the implicit gradient agrees with autodiff to float32 accuracy."""
    cost0, a, b, weight = _problem(32, 24, torch.float32)
    grads = {}
    for grad in ("implicit", "autodiff"):
        cost = cost0.clone().requires_grad_()
        plan, iterations = sinkhorn_plan(cost, a, b, reg=0.1, max_iter=500, tol=1e-5, grad=grad)
        (plan * weight).sum().backward()
        grads[grad] = cost.grad
    assert iterations < 500 and plan.dtype == torch.float32
    assert float(torch.linalg.vector_norm(plan.detach().sum(2) - a, dim=1).max()) <= 1e-5
    torch.testing.assert_close(plan.sum(1), b, atol=1e-6, rtol=0)
    assert float(plan.detach()[1, 16:].abs().sum()) == 0 and float(plan.detach()[2, :, 8:].abs().sum()) == 0
    torch.testing.assert_close(grads["implicit"], grads["autodiff"], atol=1e-4, rtol=1e-3)


def test_envelope_gradient_is_the_gradient_of_the_entropic_value():
    """With a constant plan, d/dC of <T, C> + reg sum T log T is T: autodiff's gradient of that value at
    convergence (the envelope theorem)."""
    cost0, a, b, _ = _problem(10, 11, torch.float64, seed=1)
    grads = {}
    for grad in ("envelope", "autodiff"):
        cost = cost0.clone().requires_grad_()
        plan, _ = sinkhorn_plan(cost, a, b, reg=0.1, max_iter=20000, tol=1e-12, grad=grad)
        entropy = torch.where(plan > 0, plan * plan.clamp(min=1e-300).log(), 0.0).sum()
        ((plan * cost).sum() + 0.1 * entropy).backward()
        grads[grad] = cost.grad
    torch.testing.assert_close(grads["envelope"], grads["autodiff"], atol=1e-9, rtol=1e-7)


def test_log_domain_updates_equal_pots(monkeypatch):
    """The plain log-sum-exp updates (used where the scalings would leave float range) give POT's plan and
    gradient too."""
    monkeypatch.setattr(sinkhorn, "_SCALING_RANGE", {torch.float32: 0.0, torch.float64: 0.0})
    cost0, a, b, weight = _problem(9, 10, torch.float64, seed=2)
    cost = cost0.clone().requires_grad_()
    plan, _ = sinkhorn_plan(cost, a, b, reg=0.1, max_iter=20000, tol=1e-12)
    (plan * weight).sum().backward()
    reference_cost = cost0.clone().requires_grad_()
    reference = _pot(reference_cost, a, b, 0.1, 1e-12)
    (reference.plan * weight).sum().backward()
    torch.testing.assert_close(plan.detach(), reference.plan.detach(), atol=1e-12, rtol=0)
    torch.testing.assert_close(cost.grad, reference_cost.grad, atol=1e-9, rtol=1e-7)


def test_wide_float32_cost_ranges_give_valid_plans():
    """Costs up to 30 at reg 0.1: exp(-300) underflows in float32, so the log-domain updates must run; the plan
    is finite with exact columns and finite gradients even where the iteration cap stops the solve."""
    cost0, a, b, weight = _problem(9, 10, torch.float32, seed=2, scale=15.0)
    cost = cost0.clone().requires_grad_()
    plan, _ = sinkhorn_plan(cost, a, b, reg=0.1, max_iter=300, tol=1e-6)
    (plan * weight).sum().backward()
    assert torch.isfinite(plan).all() and torch.isfinite(cost.grad).all() and (plan >= 0).all()
    torch.testing.assert_close(plan.detach().sum(1), b, atol=1e-5, rtol=0)  # rounding of exp(u + K + v), |u| ~ 300


def test_over_relaxation_needs_fewer_iterations(monkeypatch):
    cost, a, b, _ = _problem(32, 32, torch.float32, seed=3)
    relaxed_plan, relaxed = sinkhorn_plan(cost, a, b, reg=0.05, max_iter=5000, tol=1e-5)
    monkeypatch.setattr(sinkhorn, "_OMEGA", 1.0)
    plain_plan, plain = sinkhorn_plan(cost, a, b, reg=0.05, max_iter=5000, tol=1e-5)
    assert relaxed < 0.7 * plain < 5000
    torch.testing.assert_close(relaxed_plan, plain_plan, atol=1e-5, rtol=0)  # same fixed point


def test_unknown_gradient_mode_raises():
    cost, a, b, _ = _problem(4, 4, torch.float32)
    with pytest.raises(ValueError, match="grad=exact"):
        sinkhorn_plan(cost, a, b, reg=0.1, grad="exact")
