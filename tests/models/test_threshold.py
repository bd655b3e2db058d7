"""A model's multilabel `threshold` reaches its metrics (TAILOR's 0.35 and CARAT's 0.25 depend on it)."""

from __future__ import annotations

import torch

from emobench.models import MODELS
from tests.models.helpers import TASKS, THREE


def micro_f1(threshold: float, probabilities: torch.Tensor, target: torch.Tensor) -> float:
    model = MODELS.get("early_fusion")(TASKS["multilabel"], THREE, threshold=threshold)
    model.test_metrics.update(probabilities, target)
    return float(model.test_metrics.compute()["test/micro_f1"])


def test_the_threshold_reaches_the_metrics():
    probabilities = torch.tensor([[0.3, 0.6, 0.2, 0.9], [0.4, 0.1, 0.3, 0.7]])
    target = torch.tensor([[1, 1, 0, 1], [1, 0, 0, 1]])
    # at 0.5: predicted {1, 3} and {3} -> tp 3, fp 0, fn 2 -> F1 = 6 / 8; at 0.25: {0, 1, 3} and {0, 2, 3}
    # -> tp 5, fp 1, fn 0 -> F1 = 10 / 11
    assert abs(micro_f1(0.5, probabilities, target) - 6 / 8) < 1e-6
    assert abs(micro_f1(0.25, probabilities, target) - 10 / 11) < 1e-6


def test_tailor_and_carat_default_to_their_official_thresholds():
    for name, threshold in (("tailor", 0.35), ("carat", 0.25)):
        model = MODELS.get(name)(TASKS["multilabel"], THREE[:1], hidden=8, num_heads=2)
        assert model.hparams.threshold == threshold
