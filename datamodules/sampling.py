"""Emotion classes of targets of every task kind, and the class-balanced training sampler built on them.

One definition of "the same emotion" serves both the sampler (`class_balanced` datamodules) and methods that compare
samples' emotions (Foal-Net's label-aware contrastive loss and emotion label matching):
- multiclass: the class id;
- distribution: the dominant emotion (argmax of the distribution; ties go to the first label);
- multilabel: the label set (the row of labels with y >= 0.5), so two samples share an emotion class only when they
  have exactly the same labels (the empty set is a class of its own).
"""

from __future__ import annotations

import torch
from torch.utils.data import WeightedRandomSampler


def emotion_classes(kind: str, target: torch.Tensor) -> torch.Tensor:
    """(N,) long emotion-class ids of targets (multiclass (N,) ids; multilabel / distribution (N, L) rows)."""
    if kind == "multiclass":
        return target.long().reshape(-1)
    if kind == "distribution":
        return target.argmax(dim=-1)
    if kind == "multilabel":
        return torch.unique((target >= 0.5).long(), dim=0, return_inverse=True)[1]
    raise ValueError(f"Unknown task kind <kind={kind}>; expected multilabel, distribution or multiclass.")


def same_emotion(kind: str, target: torch.Tensor) -> torch.Tensor:
    """(N, N) bool: whether samples i and j belong to the same emotion class (the diagonal is True)."""
    classes = emotion_classes(kind, target)
    return classes[:, None] == classes[None, :]


def class_balanced_sampler(kind: str, target: torch.Tensor) -> WeightedRandomSampler:
    """Draws len(target) rows with replacement, each with weight 1 / (rows of its emotion class), so every class is
    drawn equally often on average (as Foal-Net's `WeightedRandomSampler`, ASolitaryMan/Foal-Net `train.py`).
    Uses torch's global generator, which `seed_everything` seeds."""
    classes = emotion_classes(kind, target)
    counts = torch.bincount(classes).to(torch.double)
    return WeightedRandomSampler(1.0 / counts[classes], num_samples=len(classes), replacement=True)
