"""`ModelOutput`: what every method's `forward` returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class ModelOutput:
    """logits: (B, L) scores before the task head (sigmoid / softmax).  aux_losses: name -> scalar loss; the base
    model adds each one times its weight (`aux_weights`) to the task loss during training."""

    logits: torch.Tensor
    aux_losses: dict[str, torch.Tensor] = field(default_factory=dict)
