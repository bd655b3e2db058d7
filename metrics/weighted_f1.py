"""Multiclass ``weighted_f1``: the per-class F1 scores averaged with weights equal to each class's support.

The statistics and their reduction are torchmetrics' ``MulticlassF1Score(average="weighted")`` (per-class
TP/FP/TN/FN ``long`` states summed under DDP); this file adds the suite's input contract: (B, C) floating
probabilities or logits, whose arg-max is the predicted class, and (B,) integer targets."""

from __future__ import annotations

from typing import Any

from torch import Tensor
from torchmetrics.classification import MulticlassF1Score
from torchmetrics.functional.classification import multiclass_f1_score

from emobench.metrics._utils import _check_int_at_least, _check_multiclass_inputs


def weighted_f1(preds: Tensor, target: Tensor, validate_args: bool = True) -> Tensor:
    """Functional form of :class:`WeightedF1` on one set of predictions; C = ``preds.shape[1]``."""
    _check_multiclass_inputs(preds, target, None, validate_args)
    return multiclass_f1_score(
        preds,
        target,
        num_classes=preds.shape[1],
        average="weighted",
        zero_division=0,
        validate_args=validate_args,
    )


class WeightedF1(MulticlassF1Score):
    r"""Weighted F1: per-class F1 averaged with the classes' target counts as weights.

    .. math::

        \text{weighted\_f1} = \sum_{c} \frac{n_c}{N} \frac{2\,TP_c}{2\,TP_c + FP_c + FN_c},
        \quad n_c = |\{i : y_i = c\}|

    with :math:`\hat y_i = \arg\max_c p_{ic}` (ties: the lowest class index). Classes absent from the targets
    have weight 0 (as scikit-learn's ``f1_score(average="weighted")``).

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
        >>> from metrics import WeightedF1
        >>> preds = torch.tensor([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.3, 0.6, 0.1]])
        >>> target = torch.tensor([0, 0, 0, 1])
        >>> metric = WeightedF1(num_classes=3)
        >>> metric(preds, target)  # (3 * 4/5 + 1 * 2/3) / 4
        tensor(0.7667)
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, num_classes: int, validate_args: bool = True, **kwargs: Any) -> None:
        _check_int_at_least("num_classes", num_classes, 2)
        super().__init__(
            num_classes=num_classes,
            average="weighted",
            zero_division=0,
            validate_args=validate_args,
            **kwargs,
        )

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Check the inputs against the suite's contract, then add torchmetrics' per-class TP/FP/TN/FN."""
        _check_multiclass_inputs(preds, target, self.num_classes, self.validate_args)
        super().update(preds, target)
