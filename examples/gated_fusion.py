"""Example of adding a method: one file, one subclass. Run it with
`emobench run model=gated_fusion dataset=synthetic-mosei imports=[examples/gated_fusion.py]`."""

import torch
from torch import nn

from emobench.models import EmotionModel, ModelOutput
from emobench.models.layers import masked_mean


class GatedFusion(EmotionModel, name="gated_fusion"):
    """Mean-pools each modality, projects it to `hidden`, and mixes modalities with learned softmax gates."""

    def __init__(self, task, modalities, label_stats=None, hidden: int = 64, dropout: float = 0.1, **kwargs):
        super().__init__(task, modalities, label_stats, **kwargs)  # the base owns loss, metrics, optimiser
        self.project = nn.ModuleDict({m.name: nn.Linear(m.dim, hidden) for m in modalities})
        self.gate = nn.Linear(hidden, 1)
        self.head = nn.Sequential(nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, task.num_labels))

    def forward(self, batch):
        # batch.inputs[name]: (B, T, D) features; batch.masks[name]: (B, T) True on real steps
        h = torch.stack([self.project[m.name](masked_mean(batch.inputs[m.name], batch.masks[m.name]))
                         for m in self.modalities], dim=1)              # (B, M, hidden)
        weights = torch.softmax(self.gate(torch.tanh(h)), dim=1)        # (B, M, 1)
        logits = self.head((weights * h).sum(dim=1))                    # (B, L)
        entropy = -(weights * weights.clamp_min(1e-8).log()).sum(1).mean()
        return ModelOutput(logits=logits, aux_losses={"gate_entropy": entropy})
