"""Multilabel ``hamming_loss``: the fraction of (sample, label) cells predicted wrongly (lower is better).

The statistics and their DDP reduction are torchmetrics' ``MultilabelHammingDistance(average="micro")``; ``metrics._checked_multilabel`` adds
the suite's input contract (probabilities in [0, 1], strict ``p > threshold``)."""

from __future__ import annotations

from torch import Tensor
from torchmetrics.classification import MultilabelHammingDistance
from torchmetrics.functional.classification import multilabel_hamming_distance

from emobench.metrics._checked_multilabel import CheckedMultilabel, checked_functional


def hamming_loss(preds: Tensor, target: Tensor, threshold: float = 0.5, validate_args: bool = True) -> Tensor:
    """Functional form of :class:`HammingLoss` on one set of predictions; L = ``preds.shape[1]``."""
    return checked_functional(multilabel_hamming_distance, preds, target, threshold, validate_args,
                              average="micro")


class HammingLoss(CheckedMultilabel, MultilabelHammingDistance):
    r"""The fraction of (sample, label) cells predicted wrongly (lower is better).

    .. math::

        \text{hamming\_loss} = \frac{1}{N L} \sum_{ij} \mathbb{1}[\hat y_{ij} \ne y_{ij}]
        = \frac{FP + FN}{TP + FP + TN + FN},
        \qquad \hat y_{ij} = \mathbb{1}[p_{ij} > \text{threshold}]

    The threshold comparison is strict (a probability equal to the threshold is not predicted).

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
        >>> from metrics import HammingLoss
        >>> preds = torch.tensor([[0.9, 0.2, 0.7], [0.5, 0.1, 0.3], [0.6, 0.8, 0.1]])
        >>> target = torch.tensor([[1, 0, 0], [0, 0, 0], [1, 1, 0]])
        >>> metric = HammingLoss(num_labels=3)
        >>> metric(preds, target)  # 1 wrong cell out of 9
        tensor(0.1111)
    """

    higher_is_better = False
    fixed_kwargs = {"average": "micro"}
