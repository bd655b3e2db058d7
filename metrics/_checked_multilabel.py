"""Shared pieces of the multilabel metrics that wrap torchmetrics built-ins (micro precision/recall/F1, macro F1,
Hamming loss): the suite's input checks in front of torchmetrics' statistics and DDP reduction.

torchmetrics binarises floating ``preds`` with the strict comparison ``preds > threshold``
(``_multilabel_stat_scores_format`` in ``torchmetrics/functional/classification/stat_scores.py``, 1.9.0), but first
applies a sigmoid when any value lies outside [0, 1] (``normalize_logits_if_needed``). The checks here reject such
inputs, so the sigmoid never fires and the rule is exactly ``accuracy``'s strict ``p > threshold``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from torch import Tensor

from emobench.metrics._utils import _check_int_at_least, _check_multilabel_inputs, _check_threshold


def checked_functional(fn: Callable[..., Tensor], preds: Tensor, target: Tensor, threshold: float,
                       validate_args: bool, **fixed: Any) -> Tensor:
    """Check the inputs, then call the torchmetrics functional `fn` with L = ``preds.shape[1]`` and `fixed`."""
    threshold = _check_threshold(threshold)
    _check_multilabel_inputs(preds, target, None, validate_args)
    return fn(preds, target, num_labels=preds.shape[1], threshold=threshold, validate_args=validate_args, **fixed)


class CheckedMultilabel:
    """Mixin listed before a torchmetrics multilabel class: checks `num_labels` and `threshold`, passes the
    subclass's `fixed_kwargs` (``average=``, ``zero_division=``) and checks every batch before its update."""

    is_differentiable = False
    full_state_update = False
    fixed_kwargs: ClassVar[dict[str, Any]] = {}

    def __init__(self, num_labels: int, threshold: float = 0.5, validate_args: bool = True, **kwargs: Any) -> None:
        _check_int_at_least("num_labels", num_labels, 2)
        super().__init__(num_labels=num_labels, threshold=_check_threshold(threshold), validate_args=validate_args,
                         **self.fixed_kwargs, **kwargs)

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Check the inputs against the suite's contract, then add torchmetrics' per-label TP/FP/TN/FN."""
        _check_multilabel_inputs(preds, target, self.num_labels, self.validate_args)
        super().update(preds, target)
