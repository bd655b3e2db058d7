"""`PerSampleMeanMetric`: the Metric class shared by the label-distribution metrics, a mean over samples of a
per-sample value. Each subclass names its state and its `_x_update` / `_x_compute` functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor
from torchmetrics import Metric

from emobench.metrics._utils import _check_optional_num_labels


class PerSampleMeanMetric(Metric):
    """Sums a per-sample value (float64) and counts samples; both states reduce by "sum" under DDP.

    Subclasses set `higher_is_better`, `state_name` (states `<state_name>_sum` / `_count`, distinct per metric so
    that MetricCollection never merges two metrics' states), `per_sample_update` ((preds, target, num_labels,
    validate_args) -> (sum, count)) and `per_sample_compute` ((sum, count) -> mean), both as staticmethods.
    """

    is_differentiable = False
    full_state_update = False
    state_name: ClassVar[str]
    per_sample_update: ClassVar[Callable[..., tuple[Tensor, Tensor]]]
    per_sample_compute: ClassVar[Callable[[Tensor, Tensor], Tensor]]

    def __init__(self, num_labels: int | None = None, validate_args: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _check_optional_num_labels(num_labels)
        self.num_labels = num_labels
        self.validate_args = validate_args
        self.add_state(f"{self.state_name}_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state(f"{self.state_name}_count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add the batch's per-sample values and its size."""
        value_sum, num_samples = self.per_sample_update(preds, target, self.num_labels, self.validate_args)
        setattr(self, f"{self.state_name}_sum", getattr(self, f"{self.state_name}_sum") + value_sum)
        setattr(self, f"{self.state_name}_count", getattr(self, f"{self.state_name}_count") + num_samples)

    def compute(self) -> Tensor:
        """Mean over every sample seen."""
        return self.per_sample_compute(getattr(self, f"{self.state_name}_sum"), getattr(self, f"{self.state_name}_count"))
