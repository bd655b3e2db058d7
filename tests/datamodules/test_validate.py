"""Read-time value checks: non-finite and out-of-range features (counted by kind and split, in blocks, zeroed only
on request) and whole-number labels; the base datamodule applies the feature check to whatever a reader returns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emobench.datamodules import DATAMODULES, validate
from emobench.datamodules.errors import DatasetFormatError
from emobench.datamodules.validate import (
    NonFiniteFeaturesWarning,
    nonfinite_features,
    whole_number,
    whole_numbers,
)

FILE = Path("/data/features.pkl")


def _features() -> tuple[np.ndarray, np.ndarray]:
    x = np.zeros((6, 4, 3), np.float32)
    x[0, 1, 2] = np.nan
    x[3, 0, 0] = np.inf
    x[3, 2, 1] = -np.inf
    x[5, 3, 2] = -2e18  # finite, but its square overflows float32
    x[4, 0, 0] = 1e18  # at the bound: allowed
    return x, np.array(["train", "train", "valid", "test", "test", "test"])


@pytest.mark.parametrize("chunk", [1 << 24, 5], ids=["one block", "many blocks"])
def test_counts_by_kind_and_split(monkeypatch, chunk):
    monkeypatch.setattr(validate, "_CHUNK_ELEMENTS", chunk)
    x, splits = _features()
    with pytest.raises(DatasetFormatError, match=r"^/data/features\.pkl: the audio features hold 4 non-finite or "
                                                 r"out-of-range values \(train 1, test 3; in 3 of 6 rows; NaN 1, "
                                                 r"\+inf 1, -inf 1, \|x\| > 1e\+18 1\)"):
        nonfinite_features(x, policy="error", source=str(FILE), modality="audio", row_splits=splits)
    with pytest.raises(DatasetFormatError, match=r"hold 4 .* \(in 3 of 6 rows; NaN 1"):
        nonfinite_features(x, policy="error", source=str(FILE), modality="audio")


def test_zero_replaces_in_place_or_copies_read_only_input(monkeypatch):
    monkeypatch.setattr(validate, "_CHUNK_ELEMENTS", 5)
    x, splits = _features()
    expected = np.where(np.isfinite(x) & (np.abs(x) <= 1e18), x, 0.0)
    with pytest.warns(NonFiniteFeaturesWarning, match=r"replaced 4 .* text features by 0 \(train 1, test 3;"):
        same = nonfinite_features(x, policy="zero", source=str(FILE), modality="text", row_splits=splits)
    assert same is x
    np.testing.assert_array_equal(x, expected)
    frozen, _ = _features()
    frozen.setflags(write=False)
    with pytest.warns(NonFiniteFeaturesWarning):
        copy = nonfinite_features(frozen, policy="zero", source=str(FILE), modality="text")
    np.testing.assert_array_equal(copy, expected)
    assert np.isnan(frozen[0, 1, 2]), "the read-only input is left as it was"


def test_finite_features_pass_untouched():
    x = np.linspace(-1e18, 1e18, 24, dtype=np.float32).reshape(2, 3, 4)
    assert nonfinite_features(x, policy="error", source=str(FILE), modality="visual") is x


@pytest.mark.parametrize(
    ("values", "expected"),
    [([0, 6, 2], [0, 6, 2]), (np.array([1.0, 3.0]), [1, 3]), ([np.int64(4), 5.0], [4, 5]), ([], []),
     (np.array([[2, 4], [5, 3]], dtype=np.uint8), [2, 4, 5, 3])],
)
def test_whole_numbers_pass(values, expected):
    out = whole_numbers(FILE, values, "labels")
    assert out.dtype == np.int64 and out.tolist() == expected


@pytest.mark.parametrize(
    ("values", "shown"),
    [([0, 0.5, 2], r"labels\[1\] is 0\.5"), (np.array([4.0, 4.7]), r"labels\[1\] is 4\.7"),
     ([1, np.nan], r"labels\[1\] is nan"), (["1", "x"], r"labels\[0\] is '1'"), ([True, False], r"labels\[0\] is True"),
     ([[1, 2], [3]], r"labels is \[\[1, 2\], \[3\]\]")],
)
def test_other_labels_are_named_not_truncated(values, shown):
    with pytest.raises(DatasetFormatError, match=rf"^/data/features\.pkl: {shown}, which is not a whole number"):
        whole_numbers(FILE, values, "labels")


def test_whole_number_scalar():
    assert whole_number(FILE, 7.0, "token") == 7 and whole_number(FILE, np.int32(3), "token") == 3
    with pytest.raises(DatasetFormatError, match=r"token is 4\.7, which is not a whole number"):
        whole_number(FILE, 4.7, "token")


def test_the_base_checks_what_any_reader_returns(tmp_path, monkeypatch):
    cls = DATAMODULES.get("synthetic-mosei")
    original = cls.read

    def read_with_nan(self):
        arrays = original(self)
        arrays.inputs["visual"] = np.array(arrays.inputs["visual"])  # a writable copy: the twin's are read-only
        arrays.inputs["visual"][2, 1, 0] = np.nan
        return arrays

    monkeypatch.setattr(cls, "read", read_with_nan)
    with pytest.raises(DatasetFormatError, match=r"dataset 'synthetic-mosei': the visual features hold 1 non-finite"):
        cls(num_samples=40, seq_len=4).setup()
    with pytest.warns(NonFiniteFeaturesWarning, match=r"dataset 'synthetic-mosei': replaced 1 "):
        arrays = cls(num_samples=40, seq_len=4, nonfinite="zero").arrays
    assert arrays.inputs["visual"][2, 1, 0] == 0.0 and np.isfinite(arrays.inputs["visual"]).all()


def test_float64_values_exactly_at_the_bound_are_kept_and_the_next_ones_zeroed():
    """float32 cannot hold 1e18 exactly (the fixtures above sit just below it); float64 can."""
    limit = validate.FEATURE_LIMIT
    x = np.array([[limit, -limit, np.nan], [np.nextafter(limit, np.inf), 0.0, -np.nextafter(limit, np.inf)]])
    with pytest.warns(NonFiniteFeaturesWarning, match=r"replaced 3 .*\(in 2 of 2 rows; NaN 1, \|x\| > 1e\+18 2\)"):
        out = nonfinite_features(x, policy="zero", source=str(FILE), modality="audio")
    np.testing.assert_array_equal(out, [[limit, -limit, 0.0], [0.0, 0.0, 0.0]])
