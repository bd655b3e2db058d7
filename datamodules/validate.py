"""Read-time checks of the values readers return: features finite and in range, labels whole numbers.

Features: NaN, +inf, -inf and finite values with |x| > `FEATURE_LIMIT` all count as non-finite. The bound: z-scoring
with training-fold statistics (`datamodules.base.feature_stats`) squares x - mean in float32, whose largest value
is about 3.4e38, so |x - mean| must stay below about 1.8e19; |x| <= 1e18 keeps it below 2e18 (square 4e36). The
check runs on the float32 arrays, after the cast, so float64 values beyond float32's range (inf after the cast)
are caught too. What happens is the datamodule option ``nonfinite``: "error" (default) raises one paragraph naming
the file, modality and counts per split; "zero" replaces them by 0 and warns (`NonFiniteFeaturesWarning`, shown
by default) with the same counts.

Labels: a class id or label token must be a whole number; 0.5 or 4.7 is an error naming the first such value,
where `astype(int)` would silently truncate it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from emobench.datamodules.errors import DatasetFormatError

__all__ = ["FEATURE_LIMIT", "NONFINITE_POLICIES", "NonFiniteFeaturesWarning", "check_nonfinite_policy",
           "nonfinite_features", "whole_number", "whole_numbers"]

NONFINITE_POLICIES = ("error", "zero")
FEATURE_LIMIT = 1e18
_CHUNK_ELEMENTS = 1 << 24  # rows are checked in blocks of about this many values (64 MiB of float32)


class NonFiniteFeaturesWarning(UserWarning):
    """Non-finite or out-of-range feature values were replaced by 0 (``nonfinite="zero"``)."""


def check_nonfinite_policy(value: Any) -> str:
    if value not in NONFINITE_POLICIES:
        raise ValueError(f"<nonfinite={value!r}> must be one of {list(NONFINITE_POLICIES)}: 'error' (default) "
                         "refuses NaN/inf features, 'zero' replaces them by 0 with a warning.")
    return value


def _describe(per_row: np.ndarray, kinds: dict[str, int], row_splits: np.ndarray | None) -> str:
    """E.g. "train 2, test 1; in 2 of 84 rows; NaN 2, +inf 1" (values per split, rows hit, values per kind)."""
    rows = per_row > 0
    parts = [f"in {int(rows.sum()):,} of {len(per_row):,} rows",
             ", ".join(f"{kind} {count:,}" for kind, count in kinds.items() if count)]
    if row_splits is not None:
        names = list(dict.fromkeys(row_splits[rows].tolist()))
        parts.insert(0, ", ".join(f"{name} {int(per_row[row_splits == name].sum()):,}" for name in names))
    return "; ".join(parts)


def nonfinite_features(x: np.ndarray, *, policy: str, source: str, modality: str,
                       row_splits: Sequence[str] | np.ndarray | None = None) -> np.ndarray:
    """Check the float features `x` (samples first) and apply `policy`; returns `x` (zeroed in place under "zero",
    copied first if read-only). `source` names the file, `row_splits` gives each row's split."""
    splits = None if row_splits is None else np.asarray(row_splits)
    per_row = np.zeros(len(x), dtype=np.int64)
    kinds = {"NaN": 0, "+inf": 0, "-inf": 0, f"|x| > {FEATURE_LIMIT:.0e}": 0}
    step = max(1, _CHUNK_ELEMENTS // max(1, int(np.prod(x.shape[1:]))))
    for start in range(0, len(x), step):
        block = x[start:start + step]
        bad = ~np.isfinite(block)
        magnitude = np.abs(block, where=~bad, out=np.zeros(block.shape, dtype=block.dtype))
        huge = magnitude > FEATURE_LIMIT
        if not (bad.any() or huge.any()):
            continue
        for kind, count in zip(kinds, (np.isnan(block).sum(), np.isposinf(block).sum(), np.isneginf(block).sum(),
                                       huge.sum()), strict=True):
            kinds[kind] += int(count)
        per_row[start:start + len(block)] = (bad | huge).reshape(len(block), -1).sum(axis=1)
    total = int(per_row.sum())
    if not total:
        return x
    found = _describe(per_row, kinds, splits)
    if policy == "error":
        raise DatasetFormatError(
            f"{source}: the {modality} features hold {total:,} non-finite or out-of-range values ({found}). They "
            "would reach the model unchanged and break its training or its metrics. Make sure the file is "
            "complete and its features were extracted correctly, or pass nonfinite='zero' to replace such values "
            "by 0 (a warning then gives the count).")
    if not x.flags.writeable:
        x = np.array(x)
    for start in range(0, len(x), step):
        block = x[start:start + step]
        with np.errstate(invalid="ignore"):
            block[~np.isfinite(block) | (np.abs(block) > FEATURE_LIMIT)] = 0.0
    warnings.warn(f"{source}: replaced {total:,} non-finite or out-of-range values of the {modality} features by 0 "
                  f"({found}) because nonfinite='zero'.", NonFiniteFeaturesWarning, stacklevel=2)
    return x


def _whole(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    return isinstance(value, (float, np.floating)) and bool(np.isfinite(value)) and float(value).is_integer()


def _refuse(path: Path, where: str, value: Any) -> NoReturn:
    raise DatasetFormatError(
        f"{path}: {where} is {value!r:.60}, which is not a whole number; class ids and label tokens must be "
        "integers (a fractional value is not rounded). Make sure the file is the original, complete download.")


def whole_number(path: Path, value: Any, where: str) -> int:
    """`value` as an int if it is an integer or an integral float, else `DatasetFormatError` naming it."""
    if not _whole(value):
        _refuse(path, where, value)
    return int(value)


def whole_numbers(path: Path, values: Any, where: str) -> np.ndarray:
    """`values` as a flat int64 array if every value is a whole number, else `DatasetFormatError` naming the
    first other value and its position."""
    try:
        array = np.asarray(values)
    except ValueError:  # ragged nesting
        _refuse(path, where, values)
    if array.dtype.kind in "iu":
        return array.astype(np.int64).ravel()
    flat = array.ravel()
    if array.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(flat) | (flat != np.round(flat)))
        if not len(bad):
            return flat.astype(np.int64)
        first = int(bad[0])
    else:
        first = next((i for i, v in enumerate(flat.tolist()) if not _whole(v)), None)
        if first is None:
            return np.array(flat.tolist(), dtype=np.int64)
    value = flat[first]
    _refuse(path, f"{where}[{first}]", value.item() if isinstance(value, np.generic) else value)
