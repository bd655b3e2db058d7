"""Every registered model x every task kind x (1 and 3 modalities): shape, finite loss, gradient on every parameter."""

from __future__ import annotations

import pytest
import torch

from emobench.benchmark.config import group_defaults
from emobench.datamodules.registry import UnknownNameError
from emobench.models import MODELS, EmotionModel
from emobench.models.task_head import task_loss
from tests.models.helpers import TASKS, THREE, random_batch


def compact_args(name: str) -> dict:
    """The model's compact size from experiments/models/<name>.yaml (what the default sweep uses)."""
    return dict(group_defaults("models", name).get("model_args", {}))


@pytest.mark.parametrize("name", MODELS.names())
@pytest.mark.parametrize("kind", sorted(TASKS))
@pytest.mark.parametrize("count", [1, 3])
def test_every_model_trains_on_every_task(name, kind, count):
    torch.manual_seed(0)
    task, modalities = TASKS[kind], THREE[:count]
    model = MODELS.get(name)(task=task, modalities=modalities, **compact_args(name))
    model.train()
    batch = random_batch(task, modalities)
    out = model(batch)
    assert out.logits.shape == (len(batch), task.num_labels)
    assert torch.isfinite(out.logits).all()
    loss = model.task_loss_weight * task_loss(kind, out.logits, batch.target)
    for key, value in out.aux_losses.items():
        assert value.ndim == 0 and torch.isfinite(value), key
        loss = loss + model.aux_weights.get(key, 1.0) * value
    loss.backward()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.abs().sum())]
    assert no_grad == [], f"parameters without gradient: {no_grad[:8]}"


def test_registry_rejects_duplicates_and_suggests_names():
    with pytest.raises(ValueError, match="Duplicate model name 'prior'"):
        type("OtherPrior", (EmotionModel,), {"__module__": "somewhere.else"}, name="prior")
    with pytest.raises(UnknownNameError, match="Did you mean 'early_fusion'"):
        MODELS.get("early_fusoin")
