"""Multiclass ``ua`` (unweighted accuracy): the mean per-class recall over the classes present in the targets.

Our own implementation, not torchmetrics' ``MulticlassAccuracy(average="macro")``: torchmetrics leaves out
only classes with TP + FP + FN = 0, so a class that is predicted but never a target enters its mean with
recall 0 (targets [0, 0, 1, 1], predictions [0, 2, 1, 1]: torchmetrics 0.5, UA 0.75). UA, as the
emotion-recognition literature and scikit-learn's ``balanced_accuracy_score`` define it, averages over the
classes present in the targets only. Per-class correct counts and supports are summed (also across DDP
ranks) and reduced at the end, so "present" means present in the targets of the whole evaluation set, not
of one batch."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric

from emobench.metrics._utils import _check_int_at_least, _check_multiclass_inputs


def _ua_update(
    preds: Tensor, target: Tensor, num_classes: int | None = None, validate_args: bool = True
) -> tuple[Tensor, Tensor]:
    """Check the inputs; return per-class (correct predictions, target counts), both (C,) long."""
    _check_multiclass_inputs(preds, target, num_classes, validate_args)
    num_classes = preds.shape[1]
    target = target.long()
    predicted = preds.argmax(dim=1)
    support = torch.bincount(target, minlength=num_classes)
    correct = torch.bincount(target[predicted == target], minlength=num_classes)
    return correct, support


def _ua_compute(correct: Tensor, support: Tensor) -> Tensor:
    """Mean of correct / support over the classes with support > 0 (float64); NaN if there is none."""
    present = support > 0
    recall = correct.double() / support.clamp(min=1).double()
    num_present = present.sum()
    mean = (recall * present).sum() / num_present.clamp(min=1)
    return torch.where(num_present > 0, mean, torch.full_like(mean, math.nan))


def unweighted_accuracy(preds: Tensor, target: Tensor, validate_args: bool = True) -> Tensor:
    """Functional form of :class:`UnweightedAccuracy` on one set of predictions (see there)."""
    return _ua_compute(*_ua_update(preds, target, None, validate_args))


class UnweightedAccuracy(Metric):
    r"""UA, unweighted accuracy: the mean recall over the classes that occur in the targets.

    .. math::

        \text{ua} = \frac{1}{|K|} \sum_{c \in K} \frac{|\{i : \hat y_i = y_i = c\}|}{|\{i : y_i = c\}|},
        \qquad K = \{c : \exists i,\ y_i = c\}

    with :math:`\hat y_i = \arg\max_c p_{ic}` (ties: the lowest class index). Equal to scikit-learn's
    ``balanced_accuracy_score``. A class never a target is left out even if it is predicted (those predictions
    still lower the recall of their true classes); torchmetrics' ``MulticlassAccuracy(average="macro")`` would
    count such a class with recall 0. NaN before any sample is seen.

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
        >>> from metrics import UnweightedAccuracy
        >>> preds = torch.tensor([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.3, 0.6, 0.1]])
        >>> target = torch.tensor([0, 0, 0, 1])
        >>> metric = UnweightedAccuracy(num_classes=3)
        >>> metric(preds, target)  # (recall_0 = 2/3 + recall_1 = 1/1) / 2; class 2 is no target
        tensor(0.8333, dtype=torch.float64)
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False
    plot_lower_bound = 0.0
    plot_upper_bound = 1.0

    ua_correct: Tensor
    ua_support: Tensor

    def __init__(self, num_classes: int, validate_args: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _check_int_at_least("num_classes", num_classes, 2)
        self.num_classes = num_classes
        self.validate_args = validate_args
        self.add_state("ua_correct", default=torch.zeros(num_classes, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("ua_support", default=torch.zeros(num_classes, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add the batch's per-class correct counts and target counts."""
        correct, support = _ua_update(preds, target, self.num_classes, self.validate_args)
        self.ua_correct += correct
        self.ua_support += support

    def compute(self) -> Tensor:
        """Mean recall over the classes present in every target seen."""
        return _ua_compute(self.ua_correct, self.ua_support)
