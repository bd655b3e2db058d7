"""Hand-built specs and random batches for model tests."""

from __future__ import annotations

import torch

from emobench.datamodules.batch import EmotionBatch
from emobench.datamodules.specs import ModalitySpec, TaskSpec

THREE = (ModalitySpec("text", 6, 5, "text"), ModalitySpec("audio", 4, 7, "audio"), ModalitySpec("visual", 5, 3, "visual"))
TASKS = {
    "multilabel": TaskSpec("multilabel", ("a", "b", "c", "d")),
    "distribution": TaskSpec("distribution", ("a", "b", "c", "d")),
    "multiclass": TaskSpec("multiclass", ("a", "b", "c", "d")),
}


def random_batch(task: TaskSpec, modalities, batch_size: int = 4, seed: int = 0, pad: bool = True) -> EmotionBatch:
    """Random inputs; with `pad`, the last sample has its last two steps padded (zeros, mask False)."""
    g = torch.Generator().manual_seed(seed)
    inputs, masks = {}, {}
    for m in modalities:
        x = torch.randn(batch_size, m.seq_len, m.dim, generator=g)
        mask = torch.ones(batch_size, m.seq_len, dtype=torch.bool)
        if pad and m.seq_len > 2:
            mask[-1, -2:] = False
            x[-1, -2:] = 0
        inputs[m.name], masks[m.name] = x, mask
    L = task.num_labels
    if task.kind == "multilabel":
        target = (torch.rand(batch_size, L, generator=g) > 0.5).float()
        target[0] = torch.tensor([1.0, 0.0] * (L // 2))
    elif task.kind == "distribution":
        target = torch.softmax(torch.randn(batch_size, L, generator=g), dim=-1)
    else:
        target = torch.arange(batch_size) % (L - 1)  # unbalanced, so a constant model still gets a gradient
    return EmotionBatch(inputs=inputs, masks=masks, target=target)


def grad_norm(module: torch.nn.Module | torch.nn.Parameter) -> float:
    """Sum of absolute gradients of a module's parameters (or of one parameter); 0 when none has a gradient."""
    params = [module] if isinstance(module, torch.nn.Parameter) else list(module.parameters())
    return sum(float(p.grad.abs().sum()) for p in params if p.grad is not None)
