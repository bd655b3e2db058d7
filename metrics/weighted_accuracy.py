"""Multiclass ``wa`` (weighted accuracy): the overall fraction of samples whose arg-max class is the target.

The statistics and their reduction are torchmetrics' ``MulticlassAccuracy(average="micro")`` (per-class
TP/FP/TN/FN ``long`` states summed under DDP); this file adds the suite's input contract: (B, C) floating
probabilities or logits, whose arg-max is the predicted class, and (B,) integer targets."""

from __future__ import annotations

from typing import Any

from torch import Tensor
from torchmetrics.classification import MulticlassAccuracy
from torchmetrics.functional.classification import multiclass_accuracy

from emobench.metrics._utils import _check_int_at_least, _check_multiclass_inputs


def weighted_accuracy(preds: Tensor, target: Tensor, validate_args: bool = True) -> Tensor:
    """Functional form of :class:`WeightedAccuracy` on one set of predictions; C = ``preds.shape[1]``."""
    _check_multiclass_inputs(preds, target, None, validate_args)
    return multiclass_accuracy(
        preds, target, num_classes=preds.shape[1], average="micro", validate_args=validate_args
    )


class WeightedAccuracy(MulticlassAccuracy):
    r"""WA, weighted (overall) accuracy: correct predictions over all samples.

    .. math::

        \text{wa} = \frac{1}{N} \sum_{i=1}^{N} \mathbb{1}[\arg\max_c p_{ic} = y_i]

    with :math:`\hat y_i = \arg\max_c p_{ic}` (ties: the lowest class index). torchmetrics'
    ``MulticlassAccuracy`` defaults to ``average="macro"`` (that is UA); WA is ``average="micro"``.

    Inputs:
        ``preds``: (B, C) floating tensor of probabilities or logits.
        ``target``: (B,) integer tensor of class indices in [0, C).

    Args:
        num_classes: number of classes C (>= 2).
        validate_args: check values (no NaN in preds, targets in [0, C)); shapes and dtypes are always
            checked.
        kwargs: passed to :class:`torchmetrics.Metric`.

    Raises:
        ValueError: ``num_classes`` not an integer >= 2; ``preds`` not 2-D, ``target`` not 1-D, different
            batch sizes, ``preds.shape[1] != num_classes``, NaN in ``preds`` or a target outside [0, C).
        TypeError: ``preds`` not floating point, ``target`` not an integer tensor, or either not a tensor.

    Example:
        >>> import torch
        >>> from metrics import WeightedAccuracy
        >>> preds = torch.tensor([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.3, 0.6, 0.1]])
        >>> target = torch.tensor([0, 0, 0, 1])
        >>> metric = WeightedAccuracy(num_classes=3)
        >>> metric(preds, target)  # 3 of 4 correct
        tensor(0.7500)
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, num_classes: int, validate_args: bool = True, **kwargs: Any) -> None:
        _check_int_at_least("num_classes", num_classes, 2)
        super().__init__(num_classes=num_classes, average="micro", validate_args=validate_args, **kwargs)

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Check the inputs against the suite's contract, then add torchmetrics' per-class TP/FP/TN/FN."""
        _check_multiclass_inputs(preds, target, self.num_classes, self.validate_args)
        super().update(preds, target)
