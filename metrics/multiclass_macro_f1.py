"""Multiclass ``macro_f1``: the unweighted mean of the per-class F1 scores.

The statistics and their reduction are torchmetrics' ``MulticlassF1Score(average="macro")`` (per-class
TP/FP/TN/FN ``long`` states summed under DDP); this file adds the suite's input contract: (B, C) floating
probabilities or logits, whose arg-max is the predicted class, and (B,) integer targets."""

from __future__ import annotations

from typing import Any

from torch import Tensor
from torchmetrics.classification import MulticlassF1Score
from torchmetrics.functional.classification import multiclass_f1_score

from emobench.metrics._utils import _check_int_at_least, _check_multiclass_inputs


def multiclass_macro_f1(preds: Tensor, target: Tensor, validate_args: bool = True) -> Tensor:
    """Functional form of :class:`MulticlassMacroF1` on one set of predictions; C = ``preds.shape[1]``."""
    _check_multiclass_inputs(preds, target, None, validate_args)
    return multiclass_f1_score(
        preds,
        target,
        num_classes=preds.shape[1],
        average="macro",
        zero_division=0,
        validate_args=validate_args,
    )


class MulticlassMacroF1(MulticlassF1Score):
    r"""Macro F1: unweighted mean over classes of each class's F1.

    .. math::

        \text{macro\_f1} = \frac{1}{|K|} \sum_{c \in K} \frac{2\,TP_c}{2\,TP_c + FP_c + FN_c}

    with :math:`\hat y_i = \arg\max_c p_{ic}` (ties: the lowest class index). K is the set of classes that
    occur in the targets or the predictions of the data seen: torchmetrics gives a class with TP + FP + FN = 0
    weight 0, exactly as scikit-learn's ``f1_score(average="macro")`` whose default labels are the union of
    ``y_true`` and ``y_pred``. A class only predicted (never a target) is in K with F1 0.

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
        >>> from metrics import MulticlassMacroF1
        >>> preds = torch.tensor([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.3, 0.6, 0.1]])
        >>> target = torch.tensor([0, 0, 0, 1])
        >>> metric = MulticlassMacroF1(num_classes=3)
        >>> metric(preds, target)  # (F1_0 = 4/5 + F1_1 = 2/3) / 2; class 2 never occurs, so it is left out
        tensor(0.7333)
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, num_classes: int, validate_args: bool = True, **kwargs: Any) -> None:
        _check_int_at_least("num_classes", num_classes, 2)
        super().__init__(
            num_classes=num_classes, average="macro", zero_division=0, validate_args=validate_args, **kwargs
        )

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Check the inputs against the suite's contract, then add torchmetrics' per-class TP/FP/TN/FN."""
        _check_multiclass_inputs(preds, target, self.num_classes, self.validate_args)
        super().update(preds, target)
