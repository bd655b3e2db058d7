"""`early_fusion`: masked mean-pool every modality, concatenate, classify with an MLP."""

from __future__ import annotations

import torch

from emobench.datamodules.batch import EmotionBatch
from emobench.models.base import EmotionModel
from emobench.models.layers import Mlp, masked_mean
from emobench.models.output import ModelOutput


class EarlyFusion(EmotionModel, name="early_fusion"):
    """Early-fusion baseline: masked mean-pool of each modality, concatenated, then an MLP.

    Args:
        hidden: MLP width.  layers: MLP depth (>= 1).  dropout: MLP dropout.
    """

    def __init__(self, task, modalities, label_stats=None, hidden: int = 128, layers: int = 2,
                 dropout: float = 0.1, **kwargs) -> None:
        super().__init__(task, modalities, label_stats, **kwargs)
        self.mlp = Mlp(sum(m.dim for m in modalities), hidden, task.num_labels, layers, dropout)

    def forward(self, batch: EmotionBatch) -> ModelOutput:
        pooled = [masked_mean(batch.inputs[m.name], batch.masks[m.name]) for m in self.modalities]
        return ModelOutput(logits=self.mlp(torch.cat(pooled, dim=-1)))
