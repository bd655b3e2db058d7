"""Multilabel ``micro_recall``: TP / (TP + FN) pooled over every (sample, label) cell.

The statistics and their reduction are torchmetrics' ``MultilabelRecall(average="micro")`` (per-label
TP/FP/TN/FN ``long`` states summed under DDP); this file adds the suite's input contract. torchmetrics
binarises floating ``preds`` with the strict comparison ``preds > threshold``
(``_multilabel_stat_scores_format`` in ``torchmetrics/functional/classification/stat_scores.py``, 1.9.0), but
first applies a sigmoid when any value lies outside [0, 1] (``normalize_logits_if_needed``). We reject such
inputs, so the sigmoid never fires and the rule is exactly ``accuracy``'s strict ``p > threshold``."""

from __future__ import annotations

from typing import Any

from torch import Tensor
from torchmetrics.classification import MultilabelRecall
from torchmetrics.functional.classification import multilabel_recall

from metrics._utils import _check_int_at_least, _check_multilabel_inputs, _check_threshold


def micro_recall(preds: Tensor, target: Tensor, threshold: float = 0.5, validate_args: bool = True) -> Tensor:
    """Functional form of :class:`MicroRecall` on one set of predictions; L = ``preds.shape[1]``."""
    threshold = _check_threshold(threshold)
    _check_multilabel_inputs(preds, target, None, validate_args)
    return multilabel_recall(
        preds,
        target,
        num_labels=preds.shape[1],
        threshold=threshold,
        average="micro",
        zero_division=0,
        validate_args=validate_args,
    )


class MicroRecall(MultilabelRecall):
    r"""TP / (TP + FN) pooled over every (sample, label) cell.

    .. math::

        \text{micro\_recall} = \frac{\sum_{ij} \hat y_{ij} y_{ij}}{\sum_{ij} y_{ij}},
        \qquad \hat y_{ij} = \mathbb{1}[p_{ij} > \text{threshold}]

    The threshold comparison is strict (a probability equal to the threshold is not predicted). A zero
    denominator gives 0 (``zero_division=0``), as scikit-learn with ``zero_division=0``.

    Inputs:
        ``preds``: (B, L) floating tensor of probabilities in [0, 1] (apply a sigmoid to logits first).
        ``target``: (B, L) float, integer or bool tensor holding only 0 and 1.

    Args:
        num_labels: number of labels L (>= 2).
        threshold: decision threshold in [0, 1] (default 0.5); label j is predicted iff ``p_j > threshold``.
        validate_args: check values (preds in [0, 1], 0/1 targets); shapes and dtypes are always checked.
        kwargs: passed to :class:`torchmetrics.Metric`.

    Raises:
        ValueError: ``num_labels`` not an integer >= 2 or ``threshold`` not in [0, 1]; ``preds``/``target``
            not 2-D, of different shapes, with ``shape[1] != num_labels``, ``preds`` outside [0, 1] or
            ``target`` not 0/1.
        TypeError: ``preds`` not floating point, or either input not a tensor.

    Example:
        >>> import torch
        >>> from metrics import MicroRecall
        >>> preds = torch.tensor([[0.9, 0.2, 0.7], [0.5, 0.1, 0.3], [0.6, 0.8, 0.1]])
        >>> target = torch.tensor([[1, 0, 0], [0, 0, 0], [1, 1, 0]])
        >>> metric = MicroRecall(num_labels=3)
        >>> metric(preds, target)  # all 3 true cells are predicted
        tensor(1.)
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(
        self, num_labels: int, threshold: float = 0.5, validate_args: bool = True, **kwargs: Any
    ) -> None:
        _check_int_at_least("num_labels", num_labels, 2)
        super().__init__(
            num_labels=num_labels,
            threshold=_check_threshold(threshold),
            average="micro",
            zero_division=0,
            validate_args=validate_args,
            **kwargs,
        )

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Check the inputs against the suite's contract, then add torchmetrics' per-label TP/FP/TN/FN."""
        _check_multilabel_inputs(preds, target, self.num_labels, self.validate_args)
        super().update(preds, target)
