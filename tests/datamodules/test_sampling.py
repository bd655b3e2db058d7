"""Emotion classes per task kind and the class-balanced training sampler (`datamodules/sampling.py`)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import RandomSampler, WeightedRandomSampler

from emobench.datamodules import DATAMODULES
from emobench.datamodules.sampling import class_balanced_sampler, emotion_classes, same_emotion


def test_emotion_classes_per_task_kind():
    assert emotion_classes("multiclass", torch.tensor([2, 0, 2])).tolist() == [2, 0, 2]
    dist = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.5, 0.4, 0.1]])
    assert emotion_classes("distribution", dist).tolist() == [0, 2, 0]
    sets = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    same = same_emotion("multilabel", sets)
    expected = torch.tensor([[1, 0, 1, 0, 0], [0, 1, 0, 0, 0], [1, 0, 1, 0, 0], [0, 0, 0, 1, 1], [0, 0, 0, 1, 1]])
    assert torch.equal(same, expected.bool())  # equal label sets only; the empty set is a class of its own
    with pytest.raises(ValueError, match="Unknown task kind <kind=ranking>"):
        emotion_classes("ranking", sets)


@pytest.mark.parametrize(("kind", "target"), [
    ("multiclass", torch.tensor([0] * 900 + [1] * 100)),
    ("distribution", torch.tensor([[0.9, 0.1]] * 900 + [[0.2, 0.8]] * 100)),
    ("multilabel", torch.tensor([[1.0, 0.0]] * 900 + [[1.0, 1.0]] * 100)),
])
def test_sampler_draws_every_class_equally_often(kind, target):
    torch.manual_seed(0)
    sampler = class_balanced_sampler(kind, target)
    drawn = torch.tensor(list(sampler))
    assert len(drawn) == len(target)
    share = (emotion_classes(kind, target)[drawn] == 1).double().mean().item()
    assert abs(share - 0.5) < 0.05, share  # 0.1 without balancing


def test_datamodule_uses_the_sampler_on_training_rows_only():
    dm = DATAMODULES.get("synthetic-iemocap")(num_samples=200, seq_len=4, batch_size=16, class_balanced=True)
    loader = dm.train_dataloader()
    assert isinstance(loader.sampler, WeightedRandomSampler)
    train = set(dm._splits["train"].tolist())
    drawn = [i for batch in loader for i in batch.index.tolist()]
    assert len(drawn) == len(train) and set(drawn) <= train
    assert not isinstance(dm.val_dataloader().sampler, WeightedRandomSampler)
    plain = DATAMODULES.get("synthetic-iemocap")(num_samples=200, seq_len=4, batch_size=16)
    assert isinstance(plain.train_dataloader().sampler, RandomSampler)
