"""Multilabel ``accuracy`` as TAILOR/CARAT compute it: the sample-wise Jaccard index of the true and predicted
label sets, averaged over samples, where a sample with both sets empty counts 0 (not 1, unlike scikit-learn's
``jaccard_score(average="samples", zero_division=1)``)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric

from emobench.metrics._utils import (
    _batch_count,
    _check_int_at_least,
    _check_multilabel_inputs,
    _check_threshold,
    _sample_mean,
)


def _jaccard_update(
    preds: Tensor,
    target: Tensor,
    threshold: float = 0.5,
    num_labels: int | None = None,
    validate_args: bool = True,
) -> tuple[Tensor, Tensor]:
    """Check the inputs; return (sum over the batch of per-sample Jaccard scores (float64), batch size)."""
    _check_multilabel_inputs(preds, target, num_labels, validate_args)
    predicted = preds > threshold  # strict, as in the TAILOR/CARAT code
    true = target == 1
    intersection = (predicted & true).sum(dim=1)
    union = (predicted | true).sum(dim=1)
    # Both sets empty: union 0 is replaced by 1 and the intersection is 0, so the sample scores 0.
    scores = intersection.double() / union.clamp(min=1).double()
    return scores.sum(), _batch_count(preds)


def _jaccard_compute(score_sum: Tensor, num_samples: Tensor) -> Tensor:
    """Mean per-sample Jaccard score (float64); NaN if no sample was seen."""
    return _sample_mean(score_sum, num_samples)


def jaccard_accuracy(
    preds: Tensor, target: Tensor, threshold: float = 0.5, validate_args: bool = True
) -> Tensor:
    """Functional form of :class:`JaccardAccuracy` on one set of predictions (see there)."""
    threshold = _check_threshold(threshold)
    return _jaccard_compute(*_jaccard_update(preds, target, threshold, None, validate_args))


class JaccardAccuracy(Metric):
    r"""Multilabel accuracy (TAILOR/CARAT): mean over samples of the Jaccard index of true and predicted sets.

    .. math::

        \text{accuracy} = \frac{1}{N} \sum_{i=1}^{N} \frac{|y_i \cap \hat y_i|}{\max(1, |y_i \cup \hat y_i|)},
        \qquad \hat y_{ij} = \mathbb{1}[p_{ij} > \text{threshold}]

    The threshold comparison is strict (a probability equal to the threshold is not predicted), and a sample
    whose true and predicted label sets are both empty scores 0, exactly as the official TAILOR/CARAT
    ``get_accuracy`` (their denominator is replaced by 1 and the numerator is 0).

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
        >>> from metrics import JaccardAccuracy
        >>> preds = torch.tensor([[0.9, 0.2, 0.7], [0.5, 0.1, 0.3], [0.6, 0.8, 0.1]])
        >>> target = torch.tensor([[1, 0, 0], [0, 0, 0], [1, 1, 0]])
        >>> metric = JaccardAccuracy(num_labels=3)
        >>> metric(preds, target)  # (1/2 + 0 + 2/2) / 3: 0.5 is not > 0.5, so sample 2 is empty-empty -> 0
        tensor(0.5000, dtype=torch.float64)
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False
    plot_lower_bound = 0.0
    plot_upper_bound = 1.0

    jaccard_sum: Tensor
    jaccard_count: Tensor

    def __init__(
        self, num_labels: int, threshold: float = 0.5, validate_args: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        _check_int_at_least("num_labels", num_labels, 2)
        self.num_labels = num_labels
        self.threshold = _check_threshold(threshold)
        self.validate_args = validate_args
        self.add_state("jaccard_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("jaccard_count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add the batch's per-sample Jaccard scores and its size."""
        score_sum, num_samples = _jaccard_update(
            preds, target, self.threshold, self.num_labels, self.validate_args
        )
        self.jaccard_sum += score_sum
        self.jaccard_count += num_samples

    def compute(self) -> Tensor:
        """Mean Jaccard score over every sample seen."""
        return _jaccard_compute(self.jaccard_sum, self.jaccard_count)
