"""Inputs small enough are z-scored once in `setup` (`base.PRECOMPUTE_LIMIT`); their batches must equal, bit for
bit, the batches of the per-batch path that large, memory-mapped inputs take."""

from __future__ import annotations

import pytest
import torch

from emobench.datamodules import DATAMODULES, base


def _batches(monkeypatch, limit: int, **options) -> tuple[bool, list]:
    monkeypatch.setattr(base, "PRECOMPUTE_LIMIT", limit)
    dm = DATAMODULES.get("synthetic-iemocap")(num_samples=120, seq_len=12, batch_size=16, drop_rate=0.3, **options)
    torch.manual_seed(0)
    batches = [*dm.train_dataloader(), *dm.val_dataloader(), *dm.test_dataloader()]
    return dm._tensors["prepared"], batches


@pytest.mark.parametrize("normalize", [True, False, "subject"])
def test_precomputed_batches_equal_per_batch_ones(monkeypatch, normalize):
    prepared, fast = _batches(monkeypatch, base.PRECOMPUTE_LIMIT, normalize=normalize)
    per_batch, slow = _batches(monkeypatch, 0, normalize=normalize)
    assert prepared and not per_batch
    assert len(fast) == len(slow) > 3
    padded = 0
    for a, b in zip(fast, slow, strict=True):
        assert torch.equal(a.index, b.index) and torch.equal(a.target, b.target) and a.ids == b.ids
        for name in b.inputs:
            assert a.inputs[name].dtype == b.inputs[name].dtype == torch.float32
            assert torch.equal(a.inputs[name], b.inputs[name]), name
            assert torch.equal(a.masks[name], b.masks[name])
            padded += int((~b.masks[name]).sum())
    assert padded > 0, "the twin must have padded steps, or the mask fill goes untested"


def test_inputs_over_the_limit_stay_per_batch(monkeypatch):
    dm = DATAMODULES.get("synthetic-mosei")(num_samples=100, seq_len=4)
    monkeypatch.setattr(base, "PRECOMPUTE_LIMIT", 100 * 4 * (300 + 74 + 35) * 4 - 1)  # one byte short
    dm.setup()
    assert not dm._tensors["prepared"] and dm._tensors["inputs"]["text"] is dm.arrays.inputs["text"]
