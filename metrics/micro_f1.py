"""Multilabel ``micro_f1``: 2 TP / (2 TP + FP + FN) pooled over every (sample, label) cell.

The statistics and their DDP reduction are torchmetrics' ``MultilabelF1Score(average="micro")``; ``metrics._checked_multilabel`` adds
the suite's input contract (probabilities in [0, 1], strict ``p > threshold``)."""

from __future__ import annotations

from torch import Tensor
from torchmetrics.classification import MultilabelF1Score
from torchmetrics.functional.classification import multilabel_f1_score

from emobench.metrics._checked_multilabel import CheckedMultilabel, checked_functional


def micro_f1(preds: Tensor, target: Tensor, threshold: float = 0.5, validate_args: bool = True) -> Tensor:
    """Functional form of :class:`MicroF1` on one set of predictions; L = ``preds.shape[1]``."""
    return checked_functional(multilabel_f1_score, preds, target, threshold, validate_args,
                              average="micro", zero_division=0)


class MicroF1(CheckedMultilabel, MultilabelF1Score):
    r"""2 TP / (2 TP + FP + FN) pooled over every (sample, label) cell.

    .. math::

        \text{micro\_f1} = \frac{2\,TP}{2\,TP + FP + FN}, \quad TP, FP, FN \text{ summed over all cells},
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
        >>> from metrics import MicroF1
        >>> preds = torch.tensor([[0.9, 0.2, 0.7], [0.5, 0.1, 0.3], [0.6, 0.8, 0.1]])
        >>> target = torch.tensor([[1, 0, 0], [0, 0, 0], [1, 1, 0]])
        >>> metric = MicroF1(num_labels=3)
        >>> metric(preds, target)  # 2*3 / (2*3 + 1 + 0) = 6/7
        tensor(0.8571)
    """

    higher_is_better = True
    fixed_kwargs = {"average": "micro", "zero_division": 0}
