"""`EmotionBatch`: the one batch type every datamodule yields and every model consumes."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class EmotionBatch:
    """A mini-batch.

    inputs: modality name -> (B, T, D) float32.  masks: modality name -> (B, T) bool, True = real step.
    target: multilabel (B, L) float 0/1; distribution (B, L) float, rows sum to 1; multiclass (B,) long.
    subject / index: (B,) long group id and dataset row index, where known.
    Lightning moves dataclasses between devices, so `batch.to(device)` is never needed in a model.
    """

    inputs: dict[str, torch.Tensor]
    masks: dict[str, torch.Tensor]
    target: torch.Tensor
    subject: torch.Tensor | None = None
    index: torch.Tensor | None = None
    ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.target.shape[0])

    @property
    def modalities(self) -> list[str]:
        return list(self.inputs)
