"""Normalisation and training batches: each dataset's default (real features raw, twins z-scored), a feature
constant on the training fold keeps scale 1, and `drop_last` drops only the last partial training batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emobench.datamodules import DATAMODULES
from emobench.datamodules.base import feature_stats


def test_a_constant_training_feature_keeps_scale_one():
    x = np.zeros((4, 3, 2), np.float32)
    x[:, :, 0] = np.arange(12, dtype=np.float32).reshape(4, 3)
    x[:2, :, 1] = 5.0          # constant on the training rows 0-1
    x[2:, :, 1] = 5.5          # varies only at test time
    mean, std = feature_stats(x, np.ones((4, 3), bool), np.array([0, 1]))
    assert std[1] == 1.0 and mean[1] == 5.0
    assert (x[3, 0, 1] - mean[1]) / std[1] == pytest.approx(0.5)  # centred, not multiplied by 1e6
    assert std[0] == pytest.approx(np.std(np.arange(6)), rel=1e-6)


@pytest.mark.parametrize(("name", "expected"), [("mosei", False), ("m3ed", False), ("m3ed-utterance", False),
                                                ("synthetic-mosei", True), ("synthetic-deap", True)])
def test_each_dataset_declares_its_normalisation_default(name, expected):
    cls = DATAMODULES.get(name)
    assert cls.default_normalize is expected and cls().normalize is expected
    assert cls(normalize=not expected).normalize is (not expected)


def test_twin_batches_are_z_scored_by_default_and_raw_on_request():
    data = DATAMODULES.get("synthetic-mosei")(num_samples=200, seq_len=4, batch_size=200)
    batch = next(iter(data.train_dataloader()))
    audio = batch.inputs["audio"][batch.masks["audio"]]
    assert audio.mean(0).abs().max() < 0.05 and (audio.std(0) - 1).abs().max() < 0.05
    raw = DATAMODULES.get("synthetic-mosei")(num_samples=200, seq_len=4, batch_size=200, normalize=False)
    batch = next(iter(raw.train_dataloader()))
    assert np.allclose(batch.inputs["audio"].numpy(), raw.arrays.inputs["audio"][batch.index.numpy()])


@pytest.mark.parametrize("drop_last", [False, True])
def test_drop_last_drops_only_the_last_partial_training_batch(drop_last):
    data = DATAMODULES.get("synthetic-mosei")(num_samples=200, seq_len=4, batch_size=32, drop_last=drop_last)
    sizes = data.split_sizes()
    train = [len(b) for b in data.train_dataloader()]
    assert sum(train) == (sizes["train"] // 32 * 32 if drop_last else sizes["train"])
    assert sum(len(b) for b in data.val_dataloader()) == sizes["valid"]
    assert sum(len(b) for b in data.test_dataloader()) == sizes["test"]


def test_subject_normalisation_z_scores_each_subject_with_its_own_statistics():
    """normalize='subject': every subject's real steps, over all its rows (training, validation and test alike),
    have mean 0 and std 1 per feature, which removes the twin's per-subject offsets and gains."""
    data = DATAMODULES.get("synthetic-dreamer")(num_samples=300, seq_len=6, batch_size=300, normalize="subject")
    data.setup()
    rows = np.concatenate(list(data.split_rows().values()))
    batch = data._collate([torch.tensor(r) for r in sorted(rows)])
    groups = data.arrays.groups[batch.index.numpy()]
    for name in batch.inputs:
        x, mask = batch.inputs[name].numpy(), batch.masks[name].numpy()
        for group in np.unique(groups):
            real = x[groups == group][mask[groups == group]]
            assert np.abs(real.mean(0)).max() < 1e-4 and np.abs(real.std(0) - 1).max() < 1e-3, (name, group)
    fold = DATAMODULES.get("synthetic-dreamer")(num_samples=300, seq_len=6, batch_size=300)
    fold.setup()
    eeg = fold._collate([torch.tensor(r) for r in sorted(rows)]).inputs["eeg"].numpy()
    subject_means = [np.abs(eeg[groups == g].mean((0, 1))).max() for g in np.unique(groups)]
    assert max(subject_means) > 0.3  # with training-fold statistics the subjects' offsets remain


def test_subject_normalisation_needs_subjects_and_other_values_are_refused():
    with pytest.raises(ValueError, match="must be true, false or 'subject'"):
        DATAMODULES.get("synthetic-dreamer")(normalize="session")
    data = DATAMODULES.get("synthetic-mosei")(num_samples=60, seq_len=4, normalize="subject")
    data.arrays.groups = None
    with pytest.raises(ValueError, match="needs subject ids"):
        data.setup()
