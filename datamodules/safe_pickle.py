"""Loading dataset pickles and `torch.save` files so that no file can run code: `load` (and its aliases
`load_pickle`, `load_torch`) return numpy arrays, dtypes and scalars in plain containers, or raise one readable
error naming the file.

What a file is is decided by its bytes, never by its name, so a `.pt` renamed `.pkl` (or the reverse) takes the
same path: a file that starts with the zip local-header magic (the test torch itself uses) is read as a zip-format
`torch.save` archive, one whose first pickle is torch's magic number as a legacy `torch.save` file (both in
`datamodules.torch_format`, without `torch.load`: TorchScript archives, whose code `torch.load` would run through
`torch.jit.load`, are refused), anything else as a plain pickle. Every pickle goes through `RestrictedUnpickler`
(`datamodules.unpickler`), which admits only numpy arrays / dtypes / scalars and plain containers and refuses data
that declares more bytes than the file holds, before allocating it.

Why not torch's `weights_only=True` plus `add_safe_globals`: (1) one allow-list, one error message and one code
path for `.pkl` and `.pt`, auditable here; torch's weights-only allow-list also admits torch dtypes, devices,
sparse and quantised rebuilds and grows with torch releases; (2) `safe_globals` must name the numpy dtype classes
(`numpy.dtypes.Float32DType`, ...) per numpy version; (3) it would still dispatch on torch's own view of the file.

Python-2 pickles (DEAP `.dat`, DialogueRNN-style feature pickles) store byte strings that the default ASCII decoding
cannot read: `encoding="latin1"` is the default (it leaves Python-3 pickles unchanged), and any `bytes` dict keys
(from `encoding="bytes"`) are decoded to `str` (UTF-8, else latin1). Structures nested deeper than `MAX_DEPTH`
levels (or referring to themselves) are refused with one line instead of a `RecursionError` later.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import numpy as np

from emobench.datamodules import torch_format
from emobench.datamodules.errors import DatasetFormatError, DatasetNotFoundError, UnsafePickleError
from emobench.datamodules.unpickler import (
    ALLOWED_GLOBALS,
    OversizedDataError,
    RefusedContentError,
    RefusedGlobalError,
    RestrictedUnpickler,
    allocation_budget,
)

__all__ = ["ALLOWED_GLOBALS", "MAX_DEPTH", "RestrictedUnpickler", "load", "load_pickle", "load_torch", "str_keys"]

#: Dataset files nest a handful of levels (dict of splits -> dict of keys -> list of arrays).
MAX_DEPTH = 100


class NestingError(ValueError):
    """A loaded structure deeper than `MAX_DEPTH` (or circular)."""


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise DatasetNotFoundError(f"{path} does not exist (or is not a file). Make sure the path is right.")


def _kind(head: bytes) -> str:
    return "torch.save archive" if head.startswith(torch_format.ZIP_MAGIC) else "pickle (or legacy torch.save file)"


def _read(path: Path, encoding: str) -> Any:
    with path.open("rb") as file:
        head = file.read(512)
        if head.startswith(torch_format.ZIP_MAGIC):
            return torch_format.read_zip(path, encoding=encoding)
        if torch_format.is_legacy_tar(head):
            raise DatasetFormatError(
                f"{path} is a torch.save file in the tar format of torch < 0.4, which is not read. If you trust "
                "the file, load it with that torch and save it again with a current one (torch.save).")
        file.seek(0)
        first = RestrictedUnpickler(file, encoding=encoding).load()
        if type(first) is int and first == torch_format.LEGACY_MAGIC:
            return torch_format.read_legacy(file, encoding=encoding)
        return first


def _explain(path: Path, err: Exception, kind: str, encoding: str) -> DatasetFormatError:
    """One paragraph naming the file and what went wrong, instead of a bare traceback."""
    size = path.stat().st_size if path.exists() else 0
    if isinstance(err, RefusedGlobalError):
        return UnsafePickleError(
            f"Refused to load {path}: it refers to the global `{err.global_name}`, which is not a numpy array, dtype "
            "or scalar nor a plain container (dict, list, tuple, set, OrderedDict). Dataset files are loaded with a "
            "restricted unpickler so that a file cannot run code; nothing from this file was executed. Make sure "
            "the file is the original download named in the dataset's docstring; if it legitimately holds other "
            "objects, convert them to numpy arrays in plain containers first.")
    if isinstance(err, RefusedContentError):
        return UnsafePickleError(
            f"Refused to load {path}: {err}. Dataset files must be plain pickles or torch.save files of numpy "
            "arrays / tensors in dicts and lists; nothing from this file was executed. Make sure the file is the "
            "original download named in the dataset's docstring.")
    if isinstance(err, OversizedDataError):
        return DatasetFormatError(
            f"{path} ({size} bytes) could not be read as a {kind}: it declares {err}, more than the file holds, "
            "so it was refused before allocating any memory. The file is probably truncated or corrupt (an "
            "interrupted download?), or crafted. Make sure it is complete (compare its size with the source) and download it "
            "again if needed.")
    if isinstance(err, (NestingError, RecursionError)):
        return DatasetFormatError(
            f"Refused to load {path}: its data is nested more than {MAX_DEPTH} levels deep (or refers to itself); "
            "dataset files hold arrays in a few levels of dicts and lists. Make sure the file is the original.")
    if isinstance(err, UnicodeDecodeError):
        return DatasetFormatError(
            f"{path} could not be decoded with encoding={encoding!r} ({err}). It looks like a Python-2 pickle that "
            "stores byte strings; load it with encoding='latin1' (the default).")
    return DatasetFormatError(
        f"{path} ({size} bytes) could not be read as a {kind}: {type(err).__name__}: {err}. The file is probably "
        "truncated or corrupt (an interrupted download?) or not the file this dataset expects. Make sure it is "
        "complete (compare its size with the source) and download it again if needed.")


def load(path: str | Path, *, encoding: str = "latin1") -> Any:
    """Load a pickle or `torch.save` file (decided by its bytes) without running code; tensors come back as numpy
    arrays and dict keys as `str`.

    Raises:
        DatasetNotFoundError: `path` is not a file.
        UnsafePickleError: the file refers to a global outside the allow-list, or is a TorchScript archive
            (nothing is executed).
        DatasetFormatError: the file is truncated, corrupt, undecodable with `encoding`, declares more data than
            it holds, or nests too deeply.
    """
    path = Path(path)
    _require_file(path)
    with path.open("rb") as file:
        kind = _kind(file.read(512))
    try:
        with allocation_budget(path.stat().st_size):
            return str_keys(_read(path, encoding))
    except (DatasetFormatError, MemoryError):
        raise
    except (NestingError, RecursionError) as err:  # the 1,000-frame traceback says nothing the message does not
        raise _explain(path, err, kind, encoding) from None
    except Exception as err:  # every other failure becomes one readable error naming the file
        raise _explain(path, err, kind, encoding) from err


def load_pickle(path: str | Path, *, encoding: str = "latin1") -> Any:
    """`load`: the file's bytes, not its name, decide how it is read."""
    return load(path, encoding=encoding)


def load_torch(path: str | Path, *, encoding: str = "latin1") -> Any:
    """`load`: the file's bytes, not its name, decide how it is read."""
    return load(path, encoding=encoding)


def _text(key: Any) -> Any:
    if isinstance(key, bytes):
        try:
            return key.decode("utf-8")
        except UnicodeDecodeError:
            return key.decode("latin1")
    return key


def str_keys(obj: Any, depth: int = 0) -> Any:
    """Copy of `obj` with `bytes` dict keys decoded to `str` (recursing into dicts, lists and tuples); raises
    `NestingError` below `MAX_DEPTH` levels (object arrays are looked into, not copied)."""
    if depth > MAX_DEPTH:
        raise NestingError(f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(obj, dict):
        items = [(_text(k), str_keys(v, depth + 1)) for k, v in obj.items()]
        return collections.OrderedDict(items) if isinstance(obj, collections.OrderedDict) else dict(items)
    if isinstance(obj, list):
        return [str_keys(v, depth + 1) for v in obj]
    if isinstance(obj, tuple):
        return tuple(str_keys(v, depth + 1) for v in obj)
    if isinstance(obj, (set, frozenset)) or (isinstance(obj, np.ndarray) and obj.dtype.hasobject):
        for value in obj.flat if isinstance(obj, np.ndarray) else obj:
            str_keys(value, depth + 1)
    return obj
