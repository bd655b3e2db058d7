"""`late_fusion`: one encoder per modality (masked mean-pool + MLP), logits averaged over modalities."""

from __future__ import annotations

import torch
from torch import nn

from emobench.datamodules.batch import EmotionBatch
from emobench.models.base import EmotionModel
from emobench.models.layers import Mlp, masked_mean
from emobench.models.output import ModelOutput


class LateFusion(EmotionModel, name="late_fusion"):
    """Late-fusion baseline: one masked-mean-pool MLP per modality, logits averaged.

    Args:
        hidden: width of each modality's MLP.  layers: MLP depth (>= 1).  dropout: MLP dropout.
    """

    def __init__(self, task, modalities, label_stats=None, hidden: int = 128, layers: int = 2,
                 dropout: float = 0.1, **kwargs) -> None:
        super().__init__(task, modalities, label_stats, **kwargs)
        self.heads = nn.ModuleDict({m.name: Mlp(m.dim, hidden, task.num_labels, layers, dropout) for m in modalities})

    def forward(self, batch: EmotionBatch) -> ModelOutput:
        logits = [self.heads[m.name](masked_mean(batch.inputs[m.name], batch.masks[m.name])) for m in self.modalities]
        return ModelOutput(logits=torch.stack(logits).mean(dim=0))
