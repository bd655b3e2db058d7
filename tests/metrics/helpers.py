"""A small torchmetrics-style tester: every metric is checked against a reference on one batch (functional),
accumulated over uneven batches (class, also each batch's `forward` value), and after a DDP-style merge of two
instances fed disjoint uneven parts of the data."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torchmetrics import Metric

# Uneven batch sizes; they sum to N_SAMPLES. Batch 0 (one sample) and batch 3 are deliberately tiny.
BATCH_SIZES: tuple[int, ...] = (1, 13, 22, 3, 21)
N_SAMPLES = sum(BATCH_SIZES)

Reference = Callable[[np.ndarray, np.ndarray], float]


def split(tensor: torch.Tensor, sizes: Sequence[int] = BATCH_SIZES) -> list[torch.Tensor]:
    assert sum(sizes) == tensor.shape[0]
    return list(torch.split(tensor, list(sizes)))


def assert_close(value: torch.Tensor | float, expected: float, atol: float, what: str) -> None:
    value = float(value)
    assert np.isfinite(expected), f"{what}: the reference itself is not finite ({expected})"
    assert abs(value - expected) <= atol, f"{what}: got {value!r}, reference {expected!r} (atol {atol})"


def run_metric_checks(
    make_metric: Callable[[], Metric],
    functional: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    reference: Reference,
    preds: torch.Tensor,
    target: torch.Tensor,
    atol: float = 1e-6,
) -> None:
    """(a) functional per batch and on all data, (b) class accumulated over uneven batches, with each forward
    value equal to the batch's reference, (c) DDP-style merge of two instances on disjoint uneven parts."""
    p_batches, t_batches = split(preds), split(target)
    everything = reference(preds.numpy(), target.numpy())

    # (a) functional, on every batch and on the whole set
    for i, (p, t) in enumerate(zip(p_batches, t_batches, strict=True)):
        assert_close(functional(p, t), reference(p.numpy(), t.numpy()), atol, f"functional, batch {i}")
    assert_close(functional(preds, target), everything, atol, "functional, all data")

    # (b) class: forward returns the batch value, compute the value over everything seen
    metric = make_metric()
    for i, (p, t) in enumerate(zip(p_batches, t_batches, strict=True)):
        assert_close(metric(p, t), reference(p.numpy(), t.numpy()), atol, f"forward, batch {i}")
    assert_close(metric.compute(), everything, atol, "accumulated over uneven batches")
    metric.reset()
    metric.update(preds, target)
    assert_close(metric.compute(), everything, atol, "one update after reset")

    # (c) two "ranks" on disjoint uneven parts (batches 0, 2, 4 and 1, 3), then merged as DDP's sum would
    rank0, rank1 = make_metric(), make_metric()
    for i, (p, t) in enumerate(zip(p_batches, t_batches, strict=True)):
        (rank0 if i % 2 == 0 else rank1).update(p, t)
    rank0.merge_state(rank1)
    assert_close(rank0.compute(), everything, atol, "merged state of two ranks")
    # the same through the raw states: each state summed (dist_reduce_fx="sum") into a fresh instance
    rank0, rank1, merged = make_metric(), make_metric(), make_metric()
    for i, (p, t) in enumerate(zip(p_batches, t_batches, strict=True)):
        (rank0 if i % 2 == 0 else rank1).update(p, t)
    for name in merged._defaults:
        setattr(merged, name, getattr(rank0, name) + getattr(rank1, name))
    merged._update_count = 1
    assert_close(merged.compute(), everything, atol, "states summed by hand")


def assert_sum_states(metric: Metric) -> None:
    """Every state is a tensor reduced by sum; floating states are float64."""
    assert metric._defaults, f"{type(metric).__name__} has no state"
    for name, default in metric._defaults.items():
        assert isinstance(default, torch.Tensor), f"{name} is a list state"
        assert metric._reductions[name].__name__ == "dim_zero_sum", f"{name} is not reduced by sum"
        if default.is_floating_point():
            assert default.dtype == torch.float64, f"{name} is {default.dtype}, not float64"
