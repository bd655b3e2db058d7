"""Small reference models for the twins' learning-property tests, and a plain training loop.

Each pair differs only in the ability to use one phenomenon: mean-pool vs attention-pool (temporal locality),
late vs early fusion (cross-modal interaction), step-wise fusion of time-aligned steps vs pooling each modality
before fusing (misalignment), per-label heads decoded one label at a time vs a classifier chain decoded as a
joint label set (label structure), and a mean over every step vs over the real steps only (missing parts). They are test helpers, not the published
methods, and no twin is tuned to them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics.classification import MultilabelExactMatch

from emobench.datamodules.specs import ModalitySpec, TaskSpec
from emobench.datamodules.synthetic.twin import SyntheticTwin
from emobench.metrics import metrics_for, primary_metric
from emobench.models.task_head import predict, task_loss

HIDDEN = 32


def _encoder(dim: int) -> nn.Module:
    return nn.Sequential(nn.Linear(dim, HIDDEN), nn.GELU(), nn.Linear(HIDDEN, HIDDEN), nn.GELU())


def _mlp(in_dim: int, out_dim: int) -> nn.Module:
    return nn.Sequential(nn.Linear(in_dim, 2 * HIDDEN), nn.GELU(), nn.Linear(2 * HIDDEN, out_dim))


class Pool(nn.Module):
    """Masked pooling over time: "mean" (every real step alike), "attention" (learned weights per step) or
    "unmasked" (a mean over every step, padding included)."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how
        self.score = nn.Linear(HIDDEN, 1)
        nn.init.zeros_(self.score.weight)  # starts as the mean: attention departs from it only where that helps

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.how == "unmasked":
            return h.mean(dim=1)
        if self.how == "mean":
            weights = mask.float()
        else:
            weights = torch.softmax(self.score(h).squeeze(-1).masked_fill(~mask, float("-inf")), dim=1)
        weights = weights / weights.sum(dim=1, keepdim=True).clamp(min=1e-6)
        return (weights.unsqueeze(-1) * h).sum(dim=1)


class LabelHeads(nn.Module):
    """One MLP per label reading the fused features and the labels before it in index order: a classifier chain
    (Read et al., Classifier chains for multi-label classification, ECML PKDD 2009) when `chain`, trained with the
    true earlier labels and decoded as the most probable label set over all 2^L sets. Without `chain` those label
    inputs are zeroed, so the heads are independent and the most probable set is each label's most probable value;
    the parameters are the same either way."""

    def __init__(self, width: int, num_labels: int, chain: bool) -> None:
        super().__init__()
        if num_labels > 10:
            raise ValueError(f"LabelHeads enumerates 2^{num_labels} label sets; use at most 10 labels.")
        self.heads = nn.ModuleList(_mlp(width + num_labels, 1) for _ in range(num_labels))
        before = torch.ones(num_labels, num_labels).tril(-1) if chain else torch.zeros(num_labels, num_labels)
        self.register_buffer("before", before)
        self.register_buffer("sets", ((torch.arange(2**num_labels)[:, None] >> torch.arange(num_labels)) & 1).float())

    def forward(self, fused: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(N, L) logits of each label given the features (N, W) and the labels (N, L) before it."""
        return torch.cat([head(torch.cat([fused, labels * self.before[j]], dim=-1))
                          for j, head in enumerate(self.heads)], dim=-1)

    def most_probable(self, fused: torch.Tensor) -> torch.Tensor:
        """(N, L) 0/1: the label set of highest probability under the chain rule."""
        n, (count, num_labels) = len(fused), self.sets.shape
        sets = self.sets.expand(n, count, num_labels)
        logits = self(fused.unsqueeze(1).expand(n, count, -1).reshape(n * count, -1), sets.reshape(n * count, -1))
        log_likelihood = -F.binary_cross_entropy_with_logits(logits.view(n, count, num_labels), sets,
                                                             reduction="none").sum(dim=-1)
        return self.sets[log_likelihood.argmax(dim=1)]


class Reference(nn.Module):
    """Per-step encoders, pooling and fusion.

    fusion: "early" (pooled modalities concatenated, one MLP), "late" (one MLP per modality, logits summed) or
    "stepwise" (steps of the same index concatenated across modalities, a per-step MLP, then pooling; the
    modalities must have equal lengths). labels (early fusion, multi-label only): None (one MLP for every label),
    "independent" or "chain" (`LabelHeads`)."""

    def __init__(self, modalities: tuple[ModalitySpec, ...], num_labels: int, pool: str = "mean",
                 fusion: str = "early", labels: str | None = None) -> None:
        super().__init__()
        self.names = [m.name for m in modalities]
        self.fusion = fusion
        self.encoders = nn.ModuleDict({m.name: _encoder(m.dim) for m in modalities})
        width = HIDDEN * len(modalities)
        if fusion == "stepwise":
            self.step = nn.Sequential(nn.Linear(width, HIDDEN), nn.GELU(), nn.Linear(HIDDEN, HIDDEN), nn.GELU())
            self.pools = nn.ModuleDict({"step": Pool(pool)})
            self.head = _mlp(HIDDEN, num_labels)
        else:
            self.pools = nn.ModuleDict({m.name: Pool(pool) for m in modalities})
            if fusion == "late":
                self.heads = nn.ModuleDict({m.name: _mlp(HIDDEN, num_labels) for m in modalities})
            elif labels:
                self.head = LabelHeads(width, num_labels, chain=labels == "chain")
            else:
                self.head = _mlp(width, num_labels)

    def forward(self, inputs: dict[str, torch.Tensor], masks: dict[str, torch.Tensor],
                target: torch.Tensor | None = None) -> torch.Tensor:
        """Logits; `LabelHeads` read the labels before each one from `target` (teacher forcing)."""
        h = {n: self.encoders[n](inputs[n]) for n in self.names}
        if self.fusion == "stepwise":
            mask = torch.stack([masks[n] for n in self.names]).all(dim=0)
            steps = self.step(torch.cat([h[n] for n in self.names], dim=-1))
            return self.head(self.pools["step"](steps, mask))
        pooled = {n: self.pools[n](h[n], masks[n]) for n in self.names}
        if self.fusion == "late":
            return torch.stack([self.heads[n](pooled[n]) for n in self.names]).sum(dim=0)
        fused = torch.cat([pooled[n] for n in self.names], dim=-1)
        return self.head(fused, target) if isinstance(self.head, LabelHeads) else self.head(fused)

    def scores(self, kind: str, inputs: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> torch.Tensor:
        """What the metrics read: `LabelHeads`' most probable label sets (0/1), otherwise probabilities."""
        if isinstance(getattr(self, "head", None), LabelHeads):  # late fusion has per-modality heads only
            h = {n: self.pools[n](self.encoders[n](inputs[n]), masks[n]) for n in self.names}
            return self.head.most_probable(torch.cat([h[n] for n in self.names], dim=-1))
        return predict(kind, self(inputs, masks))


def _tensors(dm: SyntheticTwin, split: str) -> tuple[dict, dict, torch.Tensor]:
    loader = dm._loader(split, shuffle=False)
    batches = list(loader)
    inputs = {n: torch.cat([b.inputs[n] for b in batches]) for n in batches[0].inputs}
    masks = {n: torch.cat([b.masks[n] for b in batches]) for n in batches[0].masks}
    return inputs, masks, torch.cat([b.target for b in batches])


def _score(task: TaskSpec, model: nn.Module, data: tuple[dict, dict, torch.Tensor], metric: str | None) -> float:
    """The test `metric`: one of the task's metrics, "exact_match" (multi-label sets predicted whole) or
    "set_log_likelihood" (mean log-probability of the true label set: per label given the labels before it)."""
    inputs, masks, target = data
    if metric == "set_log_likelihood":
        with torch.no_grad():
            model.eval()
            logits = model(inputs, masks, target)
            model.train()
        return -float(F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(dim=-1).mean())
    metrics = metrics_for(task.kind, task.num_labels)
    if task.kind == "multilabel":
        metrics.add_metrics({"exact_match": MultilabelExactMatch(task.num_labels)})
    with torch.no_grad():
        model.eval()
        metrics.update(model.scores(task.kind, inputs, masks), target)
        model.train()
    return float(metrics.compute()[metric or primary_metric(task.kind)[0]])


def train_and_test(dm: SyntheticTwin, seed: int, epochs: int = 40, lr: float = 3e-3, batch_size: int = 64,
                   metric: str | None = None, **model_args) -> float:
    """Train a `Reference` on the twin's training split with Adam; return the test primary metric of the epoch
    with the best validation primary metric (higher is better for every task kind used here)."""
    dm.setup()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread is fastest, and the fastest on a shared machine
    try:
        return _fit(dm, seed, epochs, lr, batch_size, metric, model_args)
    finally:
        torch.set_num_threads(threads)


def _fit(dm: SyntheticTwin, seed: int, epochs: int, lr: float, batch_size: int, metric: str | None,
         model_args: dict) -> float:
    torch.manual_seed(seed)
    train, valid, test = (_tensors(dm, s) for s in ("train", "valid", "test"))
    model = Reference(dm.modalities, dm.task.num_labels, **model_args)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(train[2])
    generator = torch.Generator().manual_seed(seed)
    best_val, best_test = -np.inf, float("nan")
    for _ in range(epochs):
        for rows in torch.randperm(n, generator=generator).split(batch_size):
            logits = model({k: v[rows] for k, v in train[0].items()}, {k: v[rows] for k, v in train[1].items()},
                           train[2][rows])
            loss = task_loss(dm.task.kind, logits, train[2][rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        val = _score(dm.task, model, valid, metric)
        if val > best_val:
            best_val, best_test = val, _score(dm.task, model, test, metric)
    return best_test
