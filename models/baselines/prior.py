"""`prior`: predicts the training-fold label statistics for every sample, ignoring the inputs (the floor)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from emobench.datamodules.batch import EmotionBatch
from emobench.models.base import EmotionModel
from emobench.models.output import ModelOutput


class LabelPrior(EmotionModel, name="prior"):
    """Label-prior baseline: constant logits from the training fold's label statistics; inputs are never read.

    The logits start at the logit of each label's rate (multilabel) or the log of the mean distribution / class
    prior (softmax tasks) and stay trainable, so that without statistics training learns the same prior."""

    def __init__(self, task, modalities, label_stats=None, **kwargs) -> None:
        super().__init__(task, modalities, label_stats, **kwargs)
        init = torch.zeros(task.num_labels)
        if label_stats is not None:
            p = np.clip(np.asarray(label_stats.frequency, dtype=np.float64), 1e-4, 1 - 1e-4)
            init = torch.tensor(np.log(p / (1 - p)) if task.kind == "multilabel" else np.log(p), dtype=torch.float32)
        self.bias = nn.Parameter(init)

    def forward(self, batch: EmotionBatch) -> ModelOutput:
        return ModelOutput(logits=self.bias.expand(len(batch), -1))
