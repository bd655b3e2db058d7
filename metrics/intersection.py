"""Label-distribution ``intersection``: mean over samples of sum_j min(d_j, p_j) (higher is better).

Part of the label-distribution-learning metrics (DEAP/DREAMER/WESAD emotion distributions), defined as in
PyLDL (``pyldl/metrics.py`` of SpriteMisaka/PyLDL) including its handling of zeros (see the class
docstring)."""

from __future__ import annotations

from torch import Tensor

from emobench.metrics._per_sample_mean import PerSampleMeanMetric
from emobench.metrics._utils import (
    _batch_count,
    _check_distribution_inputs,
    _sample_mean,
)


def _intersection_update(
    preds: Tensor, target: Tensor, num_labels: int | None = None, validate_args: bool = True
) -> tuple[Tensor, Tensor]:
    """Check the inputs; return (float64 sum over the batch of per-sample values, batch size)."""
    _check_distribution_inputs(preds, target, num_labels, validate_args)
    # PyLDL's form 1 - sum|d - p| / 2, equal to sum min(d, p) when both rows sum to 1
    # (min(a, b) = (a + b - |a - b|) / 2).
    per_sample = 1.0 - 0.5 * (target.double() - preds.double()).abs().sum(dim=1)
    return per_sample.sum(), _batch_count(preds)


def _intersection_compute(value_sum: Tensor, num_samples: Tensor) -> Tensor:
    """Mean over samples (float64); NaN if no sample was seen."""
    return _sample_mean(value_sum, num_samples)


def intersection_similarity(preds: Tensor, target: Tensor, validate_args: bool = True) -> Tensor:
    """Functional form of :class:`IntersectionSimilarity` on one set of distributions (see there)."""
    return _intersection_compute(*_intersection_update(preds, target, None, validate_args))


class IntersectionSimilarity(PerSampleMeanMetric):
    r"""Intersection similarity, averaged over samples (higher is better).

    .. math::

        \text{intersection} = \frac{1}{N} \sum_{i=1}^{N} \sum_j \min(d_{ij}, p_{ij})
        = \frac{1}{N} \sum_{i=1}^{N} \Big( 1 - \tfrac12 \sum_j |d_{ij} - p_{ij}| \Big)

    with :math:`d` the true and :math:`p` the predicted distribution of a sample. No clipping. Computed as
    PyLDL does (``1 - 0.5 * sum_j |d_j - p_j|``), which equals ``sum_j min(d_j, p_j)`` for rows that sum to 1;
    computed in float64, agrees with PyLDL.

    Inputs:
        ``preds``: (B, L) floating tensor, the predicted distributions (values in [0, 1], rows sum to 1).
        ``target``: (B, L) floating tensor, the true distributions (values in [0, 1], rows sum to 1).

    Args:
        num_labels: number of labels L; when given, ``preds.shape[1]`` must equal it.
        validate_args: check values (in [0, 1], rows summing to 1 within 1e-3); shapes and dtypes are always
            checked.
        kwargs: passed to :class:`torchmetrics.Metric`.

    Raises:
        ValueError: ``num_labels`` not a positive integer; ``preds``/``target`` not 2-D, of different shapes,
            with ``shape[1] != num_labels``, values outside [0, 1] or a row not summing to 1.
        TypeError: ``preds`` or ``target`` not a floating point tensor.

    Example:
        >>> import torch
        >>> from metrics import IntersectionSimilarity
        >>> preds = torch.tensor([[0.5, 0.25, 0.25], [0.2, 0.3, 0.5]])
        >>> target = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
        >>> metric = IntersectionSimilarity()
        >>> metric(preds, target)  # ((0.5 + 0.25 + 0) + 1) / 2
        tensor(0.8750, dtype=torch.float64)
    """

    higher_is_better = True
    state_name = "intersection"
    per_sample_update = staticmethod(_intersection_update)
    per_sample_compute = staticmethod(_intersection_compute)
