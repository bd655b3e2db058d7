"""Label-distribution ``kl``: mean over samples of KL(d || p) = sum_j d_j ln(d_j / p_j) (lower is better).

Part of the label-distribution-learning metrics (DEAP/DREAMER/WESAD emotion distributions), defined as in
PyLDL (``pyldl/metrics.py`` of SpriteMisaka/PyLDL) including its handling of zeros (see the class
docstring)."""

from __future__ import annotations

from torch import Tensor

from emobench.metrics._per_sample_mean import PerSampleMeanMetric
from emobench.metrics._utils import (
    _batch_count,
    _check_distribution_inputs,
    _pyldl_clip,
    _sample_mean,
)


def _kl_update(
    preds: Tensor, target: Tensor, num_labels: int | None = None, validate_args: bool = True
) -> tuple[Tensor, Tensor]:
    """Check the inputs; return (float64 sum over the batch of per-sample values, batch size)."""
    _check_distribution_inputs(preds, target, num_labels, validate_args)
    d, p = _pyldl_clip(target), _pyldl_clip(preds)
    per_sample = (d * (d.log() - p.log())).sum(dim=1)
    return per_sample.sum(), _batch_count(preds)


def _kl_compute(value_sum: Tensor, num_samples: Tensor) -> Tensor:
    """Mean over samples (float64); NaN if no sample was seen."""
    return _sample_mean(value_sum, num_samples)


def kl_divergence(preds: Tensor, target: Tensor, validate_args: bool = True) -> Tensor:
    """Functional form of :class:`KLDivergence` on one set of distributions (see there)."""
    return _kl_compute(*_kl_update(preds, target, None, validate_args))


class KLDivergence(PerSampleMeanMetric):
    r"""Kullback-Leibler divergence KL(target || preds), averaged over samples (lower is better).

    .. math::

        \text{kl} = \frac{1}{N} \sum_{i=1}^{N} \sum_j d_{ij} \left( \ln d_{ij} - \ln p_{ij} \right)

    with :math:`d` the true and :math:`p` the predicted distribution of a sample. Zeros are clipped exactly as
    PyLDL does: both distributions are cast to float64 and clipped to [eps, 1] with
    eps = ``numpy.finfo(numpy.float64).eps`` = 2.220446049250313e-16 (PyLDL's ``_clip`` decorator applies
    ``np.clip(x, EPS, 1.)`` to ``D`` and ``D_pred``; ``pyldl/algorithms/utils.py`` in SpriteMisaka/PyLDL), so
    a zero gives finite values, never NaN or inf. Agrees with PyLDL's ``kl_divergence`` to float64 precision.

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
        >>> from metrics import KLDivergence
        >>> preds = torch.tensor([[0.5, 0.25, 0.25], [0.2, 0.3, 0.5]])
        >>> target = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
        >>> metric = KLDivergence()
        >>> metric(preds, target)  # (0.5 ln(0.5/0.25) + ~0) / 2 = ln(2) / 4
        tensor(0.1733, dtype=torch.float64)
    """

    higher_is_better = False
    state_name = "kl"
    per_sample_update = staticmethod(_kl_update)
    per_sample_compute = staticmethod(_kl_compute)
