"""Generated twins kept per process: a sweep worker runs many cells on the same twin, and generating it is most of a
small cell's setup. Entries are read-only, so no caller can change what the next cell gets."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import fields, replace

import numpy as np

from emobench.datamodules.arrays import DatasetArrays

#: Twins kept (least recently used dropped first) and the bytes they may hold together; a larger twin is not kept.
MAX_ENTRIES = 8
MAX_BYTES = 1 << 30

_kept: OrderedDict[Hashable, DatasetArrays] = OrderedDict()


def generated(key: Hashable, generate: Callable[[], DatasetArrays]) -> DatasetArrays:
    """`generate()`'s arrays, made read-only and kept under `key` (every argument that determines them); each call
    returns a new `DatasetArrays` (own dicts) holding the kept arrays."""
    arrays = _kept.pop(key, None)
    if arrays is None:
        arrays = _read_only(generate())
    _kept[key] = arrays  # the most recently used last
    while len(_kept) > MAX_ENTRIES or sum(map(_nbytes, _kept.values())) > MAX_BYTES:
        _kept.popitem(last=False)
    return replace(arrays, inputs=dict(arrays.inputs), masks=dict(arrays.masks))


def clear() -> None:
    _kept.clear()


def _arrays(arrays: DatasetArrays) -> list[np.ndarray]:
    values = [getattr(arrays, f.name) for f in fields(arrays)]
    flat = [v for value in values for v in (value.values() if isinstance(value, dict) else [value])]
    return [v for v in flat if v is not None]


def _read_only(arrays: DatasetArrays) -> DatasetArrays:
    for a in _arrays(arrays):
        a.flags.writeable = False
    return arrays


def _nbytes(arrays: DatasetArrays) -> int:
    return sum(a.nbytes for a in _arrays(arrays))
