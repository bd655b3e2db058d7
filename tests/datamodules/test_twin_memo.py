"""Generated twins are kept per process (`datamodules.synthetic.memo`): equal arguments share arrays equal to a fresh
generation, any differing argument gives another twin, and no caller can change the kept arrays."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

from emobench.datamodules import DATAMODULES
from emobench.datamodules.synthetic import memo

ARGS = {"num_samples": 60, "seq_len": 8}


@pytest.fixture(autouse=True)
def _empty_memo(monkeypatch):
    monkeypatch.setattr(memo, "_kept", OrderedDict())


def _twin(**changes):
    return DATAMODULES.get("synthetic-mosei")(**{**ARGS, **changes})


def _fields(arrays) -> dict[str, np.ndarray]:
    out = {f"inputs.{k}": v for k, v in arrays.inputs.items()} | {f"masks.{k}": v for k, v in arrays.masks.items()}
    return out | {k: getattr(arrays, k) for k in ("target", "groups", "split", "ids")}


def test_equal_arguments_share_a_twin_equal_to_a_fresh_generation():
    first, second = _twin(), _twin(normalize=False, batch_size=7)  # loader options do not change the twin
    fresh = _fields(_twin().generate())
    shared = _fields(second.arrays)
    for name, value in _fields(first.arrays).items():
        assert value is shared[name], name
        np.testing.assert_array_equal(value, fresh[name], err_msg=name)
    assert len(memo._kept) == 1


@pytest.mark.parametrize("change", [{"data_seed": 1}, {"noise": 0.5}, {"locality": 0.1}, {"num_samples": 61},
                                    {"seq_len": 9}, {"aligned": False}])
def test_any_differing_argument_gives_another_twin(change):
    base, other = _fields(_twin().arrays), _fields(_twin(**change).arrays)
    assert len(memo._kept) == 2
    differ = [k for k in base if k.startswith("inputs.") and (base[k].shape != other[k].shape
                                                              or not np.array_equal(base[k], other[k]))]
    assert differ, f"{change} gave the same inputs"


def test_callers_cannot_change_the_kept_twin():
    arrays = _twin().arrays
    for value in _fields(arrays).values():
        with pytest.raises(ValueError, match="read-only"):
            value[0] = value[1]
    arrays.inputs["text"] = np.zeros(1)
    arrays.masks.pop("audio")
    again = _twin().arrays
    assert again.inputs["text"].shape == (60, 8, 300) and "audio" in again.masks


def test_the_memo_is_bounded(monkeypatch):
    monkeypatch.setattr(memo, "MAX_ENTRIES", 2)
    seeds = [_twin(data_seed=s).arrays.inputs["text"] for s in range(3)]
    assert len(memo._kept) == 2 and _twin(data_seed=2).arrays.inputs["text"] is seeds[2]
    assert _twin(data_seed=0).arrays.inputs["text"] is not seeds[0], "the oldest twin was dropped"
    monkeypatch.setattr(memo, "MAX_BYTES", seeds[0].nbytes)
    big = _twin(data_seed=5).arrays
    assert not memo._kept and not big.inputs["text"].flags.writeable, "a twin over the byte limit is not kept"
