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

    def to(self, device: torch.device | str, non_blocking: bool = False) -> EmotionBatch:
        """This batch on `device`: itself when every tensor is there already, else a copy with the tensors moved
        (what Lightning's generic dataclass transfer does, without its deep copy of every field per step)."""
        device = torch.device(device)
        tensors = [*self.inputs.values(), *self.masks.values(), self.target, self.subject, self.index]
        if all(t is None or _on(t, device) for t in tensors):
            return self

        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device, non_blocking=non_blocking)

        return EmotionBatch(inputs={k: move(v) for k, v in self.inputs.items()},
                            masks={k: move(v) for k, v in self.masks.items()}, target=move(self.target),
                            subject=move(self.subject), index=move(self.index), ids=list(self.ids))


def _on(tensor: torch.Tensor, device: torch.device) -> bool:
    """Whether `tensor` is on `device` (a device without an index matches any index of its type)."""
    return tensor.device.type == device.type and (device.index is None or tensor.device.index == device.index)
