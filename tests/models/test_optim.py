"""The optimiser options of the base model: BertAdam against its update equations written out here, the
official schedules reaching the optimiser, and the plateau schedule reducing the lr on a flat validation loss."""

from __future__ import annotations

import math
from types import SimpleNamespace

import lightning as L
import pytest
import torch

from emobench.datamodules import DATAMODULES
from emobench.models import MODELS
from emobench.models.optim import BertAdam
from tests.models.helpers import TASKS, THREE


def reference_bertadam(params, grads_per_step, lr, wd, eps=1e-6, betas=(0.9, 0.999), clip=1.0):
    """The BERT update, one tensor at a time, in plain float64 arithmetic on Python lists."""
    b1, b2 = betas
    theta = [[float(x) for x in p.flatten()] for p in params]
    m = [[0.0] * len(t) for t in theta]
    v = [[0.0] * len(t) for t in theta]
    for grads in grads_per_step:
        for i, g in enumerate(grads):
            g = [float(x) for x in g.flatten()]
            norm = math.sqrt(sum(x * x for x in g))
            scale = min(1.0, clip / norm) if norm > 0 else 1.0
            for j, gj in enumerate(g):
                gj *= scale
                m[i][j] = b1 * m[i][j] + (1 - b1) * gj
                v[i][j] = b2 * v[i][j] + (1 - b2) * gj * gj
                update = m[i][j] / (math.sqrt(v[i][j]) + eps) + wd * theta[i][j]
                theta[i][j] -= lr * update
    return theta


def test_bertadam_follows_the_update_equations():
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(3, 2, dtype=torch.float64)),
              torch.nn.Parameter(torch.randn(4, dtype=torch.float64))]
    start = [p.detach().clone() for p in params]
    steps = [[torch.randn(3, 2, dtype=torch.float64) * 5, torch.randn(4, dtype=torch.float64) * 0.01]
             for _ in range(4)]  # the first tensor's gradients exceed norm 1 (clipped), the second's do not
    optimizer = BertAdam(params, lr=0.01, weight_decay=0.1)
    for grads in steps:
        for p, g in zip(params, grads, strict=True):
            p.grad = g.clone()
        optimizer.step()
    expected = reference_bertadam(start, steps, lr=0.01, wd=0.1)
    for p, e in zip(params, expected, strict=True):
        assert p.detach().flatten().tolist() == pytest.approx(e, rel=1e-10, abs=1e-12)
    adam = [torch.nn.Parameter(s.clone()) for s in start]
    torch_adam = torch.optim.Adam(adam, lr=0.01, eps=1e-6)  # bias correction makes the first steps differ
    for grads in steps:
        for p, g in zip(adam, grads, strict=True):
            p.grad = g.clone()
        torch_adam.step()
    assert not torch.allclose(adam[1], params[1])


@pytest.mark.parametrize(("name", "cls"), [("adamw", torch.optim.AdamW), ("adam", torch.optim.Adam),
                                           ("bertadam", BertAdam)])
def test_the_optimizer_option_picks_the_class_and_warmup_linear_starts_at_zero(name, cls):
    model = MODELS.get("early_fusion")(TASKS["multilabel"], THREE, optimizer=name, lr=0.5, schedule="linear",
                                       warmup_fraction=0.1)
    model._trainer = SimpleNamespace(estimated_stepping_batches=100)  # what Lightning tells the base: T steps
    config = model.configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    assert type(optimizer) is cls
    lrs = []
    for _ in range(100):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    # warmup_linear over T = 100 steps with w = 0.1: lr_t = lr * t / 10 for t < 10, then lr * (100 - t) / 90
    assert lrs[0] == 0.0 and lrs[5] == pytest.approx(0.25) and lrs[10] == pytest.approx(0.5)
    assert lrs[55] == pytest.approx(0.5 * 45 / 90)


def test_unknown_optimizer_is_refused():
    with pytest.raises(ValueError, match="<optimizer=sgd> must be one of"):
        MODELS.get("early_fusion")(TASKS["multilabel"], THREE, optimizer="sgd")


def test_plateau_schedule_lowers_the_lr_when_the_validation_loss_stalls(tmp_path):
    data = DATAMODULES.get("synthetic-mosei")(num_samples=120, seq_len=4, batch_size=64)
    data.setup()
    model = MODELS.get("early_fusion")(data.task, data.modalities, optimizer="adam", lr=1e-6, schedule="plateau",
                                       plateau_patience=0, plateau_factor=0.1)
    trainer = L.Trainer(max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=data)
    # lr 1e-6 moves the validation loss by far less than the scheduler's 1e-4 relative threshold: a plateau
    assert trainer.lr_scheduler_configs[0].scheduler.best == pytest.approx(float(trainer.callback_metrics["val/loss"]),
                                                                        rel=1e-3)  # it sees the val loss
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(1e-8)  # reduced twice by 0.1


@pytest.mark.parametrize(("name", "mode"), [("adamw", "foreach"), ("adam", "foreach"), ("bertadam", "foreach"),
                                          ("adamw", "fused"), ("adam", "fused")])
def test_the_multi_tensor_and_fused_steps_equal_one_tensor_at_a_time(name, mode):
    """The multi-tensor (`foreach`) path that the optimisers take on CUDA and the fused kernel that Adam/AdamW take
    everywhere: three steps of either give the values of the single-tensor path (exactly for `foreach`; to float32
    rounding for the fused kernel), with gradients clipped by BertAdam, small ones, a zero one, two decay groups."""
    torch.manual_seed(0)
    model = MODELS.get("early_fusion")(TASKS["multilabel"], THREE, optimizer=name, lr=1e-3, weight_decay=0.1)
    start = [p.detach().clone() for p in model.parameters()]
    results = []
    for setting in (mode, "single"):
        with torch.no_grad():
            for p, s in zip(model.parameters(), start, strict=True):
                p.copy_(s)
        optimizer = model.build_optimizer()
        for group in optimizer.param_groups:
            group["foreach"] = setting == "foreach"
            if "fused" in group:
                group["fused"] = setting == "fused"
        generator = torch.Generator().manual_seed(1)
        for _ in range(3):
            for k, p in enumerate(model.parameters()):
                p.grad = torch.randn(p.shape, generator=generator) * (5.0 if k % 2 else 0.01)
            next(model.parameters()).grad.zero_()
            optimizer.step()
        results.append([p.detach().clone() for p in model.parameters()])
    if mode == "foreach":
        assert all(torch.equal(a, b) for a, b in zip(*results, strict=True))
    else:
        assert all(torch.allclose(a, b, rtol=1e-6, atol=1e-7) for a, b in zip(*results, strict=True))
    assert not all(torch.equal(a, s) for a, s in zip(results[0], start, strict=True))


@pytest.mark.parametrize("name", ["adamw", "adam"])
def test_adam_and_adamw_use_the_fused_kernel_except_under_fp16_mixed_precision(name):
    model = MODELS.get("early_fusion")(TASKS["multilabel"], THREE, optimizer=name)
    assert all(group["fused"] for group in model.build_optimizer().param_groups)
    model._trainer = SimpleNamespace(precision="bf16-mixed")
    assert all(group["fused"] for group in model.build_optimizer().param_groups)
    model._trainer = SimpleNamespace(precision="16-mixed")  # Lightning's gradient scaler refuses fused optimisers
    assert not any(group["fused"] for group in model.build_optimizer().param_groups)


def test_bertadam_takes_the_multi_tensor_path_on_cuda_only(monkeypatch):
    from emobench.models import optim

    assert not optim.default_foreach([torch.zeros(2)])
    paths = []
    monkeypatch.setattr(optim, "_multi_tensor", lambda *args: paths.append("multi"))
    monkeypatch.setattr(optim, "_single_tensor", lambda *args: paths.append("single"))
    monkeypatch.setattr(optim, "default_foreach", lambda params: True)  # what every tensor on CUDA gives
    param = torch.nn.Parameter(torch.zeros(2))
    param.grad = torch.ones(2)
    BertAdam([param]).step()
    BertAdam([param], foreach=False).step()
    assert paths == ["multi", "single"]
