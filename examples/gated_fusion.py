"""Example of adding a method: one file, one subclass. Run it with
`emobench run model=gated_fusion dataset=synthetic-mosei imports=[examples/gated_fusion.py]`."""

import torch
from torch import nn

from emobench.models import EmotionModel, ModelOutput
from emobench.models.layers import masked_mean


class GatedFusion(EmotionModel, name="gated_fusion"):
    """Mean-pools each modality, projects it to `hidden`, and gates each modality with a learned sigmoid gate."""

    def __init__(self, task, modalities, label_stats=None, hidden: int = 64, dropout: float = 0.1, **kwargs):
        super().__init__(task, modalities, label_stats, **kwargs)  # the base owns loss, metrics, optimiser
        self.project = nn.ModuleDict({m.name: nn.Linear(m.dim, hidden) for m in modalities})
        self.gate = nn.Linear(hidden, 1)
        self.head = nn.Sequential(nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, task.num_labels))

    def forward(self, batch):
        # batch.inputs[name]: (B, T, D) features; batch.masks[name]: (B, T) True on real steps
        h = torch.stack([self.project[m.name](masked_mean(batch.inputs[m.name], batch.masks[m.name]))
                         for m in self.modalities], dim=1)              # (B, M, hidden)
        gates = torch.sigmoid(self.gate(torch.tanh(h)))                 # (B, M, 1): one gate per modality
        logits = self.head((gates * h).sum(dim=1))                      # (B, L)
        p = gates.clamp(1e-6, 1 - 1e-6)
        entropy = -(p * p.log() + (1 - p) * (1 - p).log()).mean()       # binary entropy of the gates
        return ModelOutput(logits=logits, aux_losses={"gate_entropy": entropy})
