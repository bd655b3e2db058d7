"""Task-kind specific loss and prediction on (B, L) logits, shared by every model."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def task_loss(kind: str, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """multilabel: BCE on logits; distribution: KL(target || softmax(logits)); multiclass: cross-entropy."""
    if kind == "multilabel":
        return F.binary_cross_entropy_with_logits(logits, target.float())
    if kind == "distribution":
        return F.kl_div(F.log_softmax(logits, dim=-1), target.float(), reduction="batchmean")
    if kind == "multiclass":
        return F.cross_entropy(logits, target.long())
    raise ValueError(f"Unknown task kind <kind={kind}>; expected multilabel, distribution or multiclass.")


def predict(kind: str, logits: torch.Tensor) -> torch.Tensor:
    """Probabilities: per-label sigmoid (multilabel) or softmax over labels / classes."""
    return torch.sigmoid(logits) if kind == "multilabel" else torch.softmax(logits, dim=-1)
