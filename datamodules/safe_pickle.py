"""Restricted loading of dataset pickles and `.pt` files: numpy arrays, dtypes and scalars in plain containers only.

A pickle can name any importable callable (`os.system`, `subprocess.Popen`, ...) and the standard unpickler calls it
while loading. Every dataset file therefore goes through `RestrictedUnpickler`, whose `find_class` returns only the
objects in `ALLOWED_GLOBALS` and refuses every other global with an `UnsafePickleError` naming the file and the
global, before anything from the file has run.

Admitted: numpy arrays (`_reconstruct` under both `numpy.core.multiarray` (numpy 1.x files) and
`numpy._core.multiarray` (numpy 2.x files), and `_frombuffer` for protocol-5 pickles), `numpy.ndarray`,
`numpy.dtype`, numpy scalars (`multiarray.scalar`), the plain containers dict / list / tuple / set / frozenset /
`collections.OrderedDict`, and the builtins that protocol-2 pickles use to rebuild bytes and numbers
(`_codecs.encode`, `bytes`, `bytearray`, `complex`). Python-2 module names (`__builtin__`, `copy_reg`) are mapped as
the standard unpickler does. `.pt` files additionally admit `torch._utils._rebuild_tensor_v2` (plain CPU tensors;
storages are resolved by torch itself), and the tensors are returned as numpy arrays.

Why our unpickler for `.pt` files (`torch.load(weights_only=False, pickle_module=<ours>)`) rather than torch's
`weights_only=True` plus `add_safe_globals`: (1) one allow-list, one error message and one code path for `.pkl`
and `.pt`, auditable in this file; torch's weights-only allow-list also admits torch dtypes, devices, sparse and
quantised tensor rebuilds, and grows with torch releases; (2) `safe_globals` must name the numpy dtype classes
(`numpy.dtypes.Float32DType`, ...) per numpy version; (3) latin1 decoding and the key normalisation below apply to
both formats. One gap of `weights_only=False` is closed by hand: torch hands TorchScript archives to
`torch.jit.load`, which runs their code, so those are refused before `torch.load` is called.

Python-2 pickles (DEAP `.dat`, DialogueRNN-style feature pickles) store byte strings that the default ASCII decoding
cannot read: both loaders default to `encoding="latin1"` (which leaves Python-3 pickles unchanged), and any
`bytes` dict keys (from `encoding="bytes"`) are decoded to `str` (UTF-8, else latin1).
"""

from __future__ import annotations

import _compat_pickle
import codecs
import collections
import importlib
import pickle
import types
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from emobench.datamodules.errors import DatasetFormatError, DatasetNotFoundError, UnsafePickleError

__all__ = ["ALLOWED_GLOBALS", "RestrictedUnpickler", "load", "load_pickle", "load_torch", "str_keys"]


def _numpy_module(name: str) -> types.ModuleType:
    """`numpy._core.<name>` where it exists (numpy >= 2), else `numpy.core.<name>` (numpy 1.x)."""
    try:
        return importlib.import_module(f"numpy._core.{name}")
    except ImportError:
        return importlib.import_module(f"numpy.core.{name}")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    multiarray, numeric = _numpy_module("multiarray"), _numpy_module("numeric")
    table: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("_codecs", "encode"): codecs.encode,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "bytes"): bytes,
        ("builtins", "bytearray"): bytearray,
        ("builtins", "complex"): complex,
    }
    for core in ("numpy.core", "numpy._core"):  # files written under numpy 1.x and 2.x name different modules
        table[(f"{core}.multiarray", "_reconstruct")] = multiarray._reconstruct
        table[(f"{core}.multiarray", "scalar")] = multiarray.scalar
        table[(f"{core}.numeric", "_frombuffer")] = numeric._frombuffer
    return table


ALLOWED_GLOBALS: dict[tuple[str, str], Any] = _allowed_globals()


class RefusedGlobalError(pickle.UnpicklingError):
    """Raised inside `find_class`; the loaders turn it into an `UnsafePickleError` naming the file."""

    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"refused global {module}.{name}")
        self.global_name = f"{module}.{name}"


class RestrictedUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` whose `find_class` admits only `allowed` (default `ALLOWED_GLOBALS`)."""

    allowed: dict[tuple[str, str], Any] = ALLOWED_GLOBALS

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _compat_pickle.NAME_MAPPING:  # Python-2 names, mapped as pickle.Unpickler does
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        else:
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise RefusedGlobalError(module, name) from None


class _TorchRestrictedUnpickler(RestrictedUnpickler):
    """The `.pt` variant: also rebuilds plain tensors (torch resolves the storage classes before asking us)."""

    allowed: dict[tuple[str, str], Any] = {}  # filled on first use, so importing this module does not import torch


def _torch_pickle_module() -> types.ModuleType:
    """A module-like object for `torch.load(pickle_module=...)`: torch subclasses its `Unpickler`."""
    import torch._utils

    if not _TorchRestrictedUnpickler.allowed:
        _TorchRestrictedUnpickler.allowed = {**ALLOWED_GLOBALS,
                                             ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2}
    module = types.ModuleType("emobench.datamodules.safe_pickle.torch_restricted")
    module.Unpickler = _TorchRestrictedUnpickler

    def load(file: BinaryIO, **kwargs: Any) -> Any:  # used by torch's legacy (non-zip) format
        return _TorchRestrictedUnpickler(file, **kwargs).load()

    module.load = load
    module.UnpicklingError = pickle.UnpicklingError
    return module


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise DatasetNotFoundError(f"{path} does not exist (or is not a file). Make sure the path is right.")


def _explain(path: Path, err: Exception, kind: str, encoding: str) -> DatasetFormatError:
    """One paragraph naming the file and what went wrong, instead of a bare traceback."""
    if isinstance(err, RefusedGlobalError):
        return UnsafePickleError(
            f"Refused to load {path}: it refers to the global `{err.global_name}`, which is not a numpy array, dtype "
            "or scalar nor a plain container (dict, list, tuple, set, OrderedDict). Dataset files are loaded with a "
            "restricted unpickler so that a file cannot run code; nothing from this file was executed. Make sure "
            "the file is the original download named in the dataset's docstring; if it legitimately holds other "
            "objects, convert them to numpy arrays in plain containers first.")
    if isinstance(err, UnicodeDecodeError):
        return DatasetFormatError(
            f"{path} could not be decoded with encoding={encoding!r} ({err}). It looks like a Python-2 pickle that "
            "stores byte strings; load it with encoding='latin1' (the default).")
    size = path.stat().st_size if path.exists() else 0
    return DatasetFormatError(
        f"{path} ({size} bytes) could not be read as a {kind}: {type(err).__name__}: {err}. The file is probably "
        "truncated or corrupt (an interrupted download?) or not the file this dataset expects. Make sure it is "
        "complete (compare its size with the source) and download it again if needed.")


def load_pickle(path: str | Path, *, encoding: str = "latin1") -> Any:
    """Load a pickle with `RestrictedUnpickler`; dict keys come back as `str`.

    Raises:
        DatasetNotFoundError: `path` is not a file.
        UnsafePickleError: the pickle refers to a global outside `ALLOWED_GLOBALS` (nothing is executed).
        DatasetFormatError: the file is truncated, corrupt or undecodable with `encoding`.
    """
    path = Path(path)
    _require_file(path)
    try:
        with path.open("rb") as file:
            obj = RestrictedUnpickler(file, encoding=encoding).load()
    except MemoryError:
        raise
    except Exception as err:  # every failure becomes one readable error naming the file
        raise _explain(path, err, "pickle", encoding) from err
    return str_keys(obj)


def load_torch(path: str | Path, *, encoding: str = "latin1") -> Any:
    """Load a `torch.save` file with the restricted unpickler (tensors come back as numpy arrays).

    Raises as `load_pickle`; a TorchScript archive is refused with `UnsafePickleError`.
    """
    import torch

    path = Path(path)
    _require_file(path)
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError) as err:
            raise _explain(path, err, "torch.save file", encoding) from err
        if any(n.rsplit("/", 1)[-1] == "constants.pkl" or "/code/" in n for n in names):
            raise UnsafePickleError(
                f"Refused to load {path}: it is a TorchScript archive, which torch.load would hand to "
                "torch.jit.load and so run the code it contains. Dataset files must be plain torch.save files of "
                "numpy arrays / tensors in dicts and lists. Make sure the file is the original download.")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False, mmap=False,
                         pickle_module=_torch_pickle_module(), encoding=encoding)
    except MemoryError:
        raise
    except Exception as err:
        raise _explain(path, err, "torch.save file", encoding) from err
    return str_keys(obj, tensors_to_numpy=True)


def load(path: str | Path, *, encoding: str = "latin1") -> Any:
    """`load_torch` for `.pt` / `.pth` files, `load_pickle` for anything else."""
    if Path(path).suffix.lower() in (".pt", ".pth"):
        return load_torch(path, encoding=encoding)
    return load_pickle(path, encoding=encoding)


def _text(key: Any) -> Any:
    if isinstance(key, bytes):
        try:
            return key.decode("utf-8")
        except UnicodeDecodeError:
            return key.decode("latin1")
    return key


def str_keys(obj: Any, tensors_to_numpy: bool = False) -> Any:
    """Copy of `obj` with `bytes` dict keys decoded to `str` (recursing into dicts, lists and tuples), and, with
    `tensors_to_numpy`, torch tensors turned into numpy arrays."""
    if isinstance(obj, dict):
        items = [(_text(k), str_keys(v, tensors_to_numpy)) for k, v in obj.items()]
        return collections.OrderedDict(items) if isinstance(obj, collections.OrderedDict) else dict(items)
    if isinstance(obj, list):
        return [str_keys(v, tensors_to_numpy) for v in obj]
    if isinstance(obj, tuple):
        return tuple(str_keys(v, tensors_to_numpy) for v in obj)
    if tensors_to_numpy and type(obj).__module__.startswith("torch") and hasattr(obj, "numpy"):
        return obj.detach().cpu().numpy()
    return obj
