"""Label-distribution ``cosine``: mean over samples of the cosine similarity of d and p (higher is better).

Part of the label-distribution-learning metrics (DEAP/DREAMER/WESAD emotion distributions), defined as in
PyLDL (``pyldl/metrics.py`` of SpriteMisaka/PyLDL) including its handling of zeros (see the class
docstring)."""

from __future__ import annotations

from torch import Tensor

from emobench.metrics._per_sample_mean import PerSampleMeanMetric
from emobench.metrics._utils import (
    _batch_count,
    _check_distribution_inputs,
    _safe_norm,
    _sample_mean,
)


def _cosine_update(
    preds: Tensor, target: Tensor, num_labels: int | None = None, validate_args: bool = True
) -> tuple[Tensor, Tensor]:
    """Check the inputs; return (float64 sum over the batch of per-sample values, batch size)."""
    _check_distribution_inputs(preds, target, num_labels, validate_args)
    d, p = target.double(), preds.double()
    # As PyLDL (1 - sklearn's paired_cosine_distances): rows scaled to unit L2 norm, a norm below
    # 10 * eps(float64) left unscaled (sklearn's _handle_zeros_in_scale), then 1 - |d^ - p^|^2 / 2.
    d = d / _safe_norm(d)
    p = p / _safe_norm(p)
    per_sample = 1.0 - 0.5 * ((d - p) ** 2).sum(dim=1)
    return per_sample.sum(), _batch_count(preds)


def _cosine_compute(value_sum: Tensor, num_samples: Tensor) -> Tensor:
    """Mean over samples (float64); NaN if no sample was seen."""
    return _sample_mean(value_sum, num_samples)


def cosine_similarity(preds: Tensor, target: Tensor, validate_args: bool = True) -> Tensor:
    """Functional form of :class:`CosineSimilarity` on one set of distributions (see there)."""
    return _cosine_compute(*_cosine_update(preds, target, None, validate_args))


class CosineSimilarity(PerSampleMeanMetric):
    r"""Cosine similarity, averaged over samples (higher is better).

    .. math::

        \text{cosine} = \frac{1}{N} \sum_{i=1}^{N}
        \frac{\sum_j d_{ij} p_{ij}}{\lVert d_i \rVert_2 \, \lVert p_i \rVert_2}

    with :math:`d` the true and :math:`p` the predicted distribution of a sample. No clipping, as PyLDL's
    ``cosine`` (``1 - sklearn.metrics.pairwise.paired_cosine_distances``): each row is scaled to unit L2 norm
    (a norm below 10 * eps(float64) is left unscaled, as scikit-learn's ``normalize``) and the similarity is
    ``1 - |d/|d| - p/|p||^2 / 2``, which equals the formula for non-zero rows and is finite for a zero row.
    Computed in float64; agrees with PyLDL.

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
        >>> from metrics import CosineSimilarity
        >>> preds = torch.tensor([[0.5, 0.25, 0.25], [0.2, 0.3, 0.5]])
        >>> target = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
        >>> metric = CosineSimilarity()
        >>> metric(preds, target)  # (0.375 / (sqrt(0.5) sqrt(0.375)) + 1) / 2 = (sqrt(3)/2 + 1) / 2
        tensor(0.9330, dtype=torch.float64)
    """

    higher_is_better = True
    state_name = "cosine"
    per_sample_update = staticmethod(_cosine_update)
    per_sample_compute = staticmethod(_cosine_compute)
