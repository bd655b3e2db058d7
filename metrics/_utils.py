"""Input checks and small numeric helpers shared by the metric files of this package.

Every check raises with the argument's name, what was expected and the value found (as torchmetrics'
`functional/classification/stat_scores.py` does). Shapes and dtypes are always checked (cheap, no device
sync); value checks (ranges, 0/1 targets, row sums, class indices) run only when ``validate_args`` is true,
because they read the tensors back to the host.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

#: PyLDL's ``EPS`` (``numpy.finfo(numpy.float64).eps`` = 2.220446049250313e-16), the lower clip bound of its
#: Clark, Canberra and KL metrics (``pyldl/algorithms/utils.py::_clip`` in SpriteMisaka/PyLDL).
PYLDL_EPS: float = torch.finfo(torch.float64).eps

#: How far a row of a label distribution may sum from 1 (float32 softmax outputs are well within it).
ROW_SUM_ATOL: float = 1e-3


def _check_int_at_least(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"Expected argument `{name}` to be an integer >= {minimum}, but got {value!r}.")


def _check_optional_num_labels(num_labels: Any) -> None:
    if num_labels is not None:
        _check_int_at_least("num_labels", num_labels, 1)


def _check_threshold(threshold: Any) -> float:
    """Return ``threshold`` as a float after checking that it lies in [0, 1]."""
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float))
        or not 0.0 <= float(threshold) <= 1.0  # also rejects NaN
    ):
        raise ValueError(f"Expected argument `threshold` to be a float in [0, 1], but got {threshold!r}.")
    return float(threshold)


def _check_tensor(name: str, value: Any) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"Expected `{name}` to be a torch.Tensor, but got {type(value).__name__}.")


def _check_same_2d(preds: Any, target: Any, num: int | None, num_name: str) -> None:
    """Both tensors 2-D (B, L) of the same shape, and L == num when given."""
    for name, value in (("preds", preds), ("target", target)):
        _check_tensor(name, value)
        if value.ndim != 2:
            raise ValueError(
                f"Expected `{name}` to be 2-D of shape (B, L), but got shape {tuple(value.shape)}."
            )
    if preds.shape != target.shape:
        raise ValueError(
            f"Expected `preds` and `target` to have the same shape, but got {tuple(preds.shape)} and "
            f"{tuple(target.shape)}."
        )
    if num is not None and preds.shape[1] != num:
        raise ValueError(f"Expected `preds.shape[1]` to equal `{num_name}`={num}, but got {preds.shape[1]}.")


def _check_floating(name: str, value: Tensor, what: str) -> None:
    if not value.is_floating_point():
        raise TypeError(
            f"Expected `{name}` to be a floating point tensor of {what}, but got dtype {value.dtype}."
        )


def _check_unit_interval(name: str, value: Tensor, hint: str = "") -> None:
    """`hint` is given when the values outside [0, 1] are finite; NaN/inf get their own explanation (a sigmoid
    does not remove them). Examples are written without brackets, which rich would read as markup and drop."""
    bad = ~((value >= 0) & (value <= 1))  # NaN counts as outside
    if bool(bad.any()):
        outside = value[bad]
        examples = ", ".join(str(v) for v in outside[:3].tolist())
        nonfinite = int((~torch.isfinite(outside)).sum())
        if nonfinite:
            hint = (
                f" {nonfinite} of them are NaN or inf: the model produced non-finite outputs, usually from "
                "non-finite inputs or diverged training (a sigmoid does not remove them)."
            )
        raise ValueError(
            f"Expected `{name}` to hold values in [0, 1], but found {int(bad.sum())} outside it, "
            f"e.g. {examples}.{hint}"
        )


def _check_multilabel_inputs(preds: Any, target: Any, num_labels: int | None, validate_args: bool) -> None:
    """preds: (B, L) float probabilities in [0, 1]; target: (B, L) float/int/bool holding only 0 and 1."""
    _check_same_2d(preds, target, num_labels, "num_labels")
    _check_floating("preds", preds, "probabilities")
    if target.is_complex():
        raise TypeError(
            f"Expected `target` to be a float, integer or bool tensor of 0/1, but got dtype {target.dtype}."
        )
    if not validate_args:
        return
    _check_unit_interval("preds", preds, " Apply a sigmoid to logits first.")
    bad = (target != 0) & (target != 1)
    if bool(bad.any()):
        raise ValueError(
            f"Expected `target` to hold only 0/1 values, but found {torch.unique(target[bad])[:5].tolist()}."
        )


def _check_distribution_inputs(preds: Any, target: Any, num_labels: int | None, validate_args: bool) -> None:
    """preds, target: (B, L) float, values in [0, 1], every row summing to 1 (within ROW_SUM_ATOL)."""
    _check_same_2d(preds, target, num_labels, "num_labels")
    _check_floating("preds", preds, "label distributions")
    _check_floating("target", target, "label distributions")
    if not validate_args:
        return
    for name, value in (("preds", preds), ("target", target)):
        _check_unit_interval(
            name, value, " Label distributions are probabilities (apply a softmax to logits)."
        )
        sums = value.double().sum(dim=1)
        bad = (sums - 1.0).abs() > ROW_SUM_ATOL
        if bool(bad.any()):
            raise ValueError(
                f"Expected every row of `{name}` to sum to 1 (within {ROW_SUM_ATOL}), but found "
                f"{int(bad.sum())} rows that do not, e.g. row sums {sums[bad][:3].tolist()}."
            )


def _check_multiclass_inputs(preds: Any, target: Any, num_classes: int | None, validate_args: bool) -> None:
    """preds: (B, C) float probabilities or logits; target: (B,) integer class indices in [0, C)."""
    _check_tensor("preds", preds)
    _check_tensor("target", target)
    if preds.ndim != 2:
        raise ValueError(f"Expected `preds` to be 2-D of shape (B, C), but got shape {tuple(preds.shape)}.")
    if target.ndim != 1:
        raise ValueError(f"Expected `target` to be 1-D of shape (B,), but got shape {tuple(target.shape)}.")
    if preds.shape[0] != target.shape[0]:
        raise ValueError(
            f"Expected `preds` and `target` to have the same batch size, but got {preds.shape[0]} and "
            f"{target.shape[0]}."
        )
    if num_classes is not None and preds.shape[1] != num_classes:
        raise ValueError(
            f"Expected `preds.shape[1]` to equal `num_classes`={num_classes}, but got {preds.shape[1]}."
        )
    _check_floating("preds", preds, "probabilities or logits")
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise TypeError(
            f"Expected `target` to be an integer tensor of class indices, but got dtype {target.dtype}."
        )
    if not validate_args:
        return
    if bool(torch.isnan(preds).any()):
        raise ValueError(f"Expected `preds` to hold no NaN, but found {int(torch.isnan(preds).sum())}.")
    bad = (target < 0) | (target >= preds.shape[1])
    if bool(bad.any()):
        raise ValueError(
            f"Expected `target` to hold class indices in [0, {preds.shape[1]}), but found "
            f"{torch.unique(target[bad])[:5].tolist()}."
        )


def _pyldl_clip(value: Tensor) -> Tensor:
    """float64 copy clipped to [PYLDL_EPS, 1], as PyLDL's ``_clip`` does (``np.clip(x, EPS, 1.)``)."""
    return value.double().clamp(min=PYLDL_EPS, max=1.0)


def _sample_mean(total: Tensor, count: Tensor) -> Tensor:
    """``total / count`` in float64; NaN while no sample has been seen (there is no mean of nothing)."""
    return torch.where(
        count > 0, total.double() / count.clamp(min=1), torch.full_like(total, math.nan).double()
    )


def _batch_count(preds: Tensor) -> Tensor:
    return torch.tensor(preds.shape[0], dtype=torch.long, device=preds.device)


def _safe_norm(rows: Tensor) -> Tensor:
    """(B, 1) L2 norms of the rows; a norm below 10 * eps(float64) becomes 1 (as sklearn's normalize)."""
    norm = rows.norm(dim=1, keepdim=True)
    return torch.where(norm < 10 * PYLDL_EPS, torch.ones_like(norm), norm)
