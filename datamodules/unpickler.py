"""`RestrictedUnpickler`, the pickle reader behind `datamodules.safe_pickle`: numpy arrays, dtypes and scalars in
plain containers only, and nothing allocated that the file does not hold.

`find_class` returns only the objects in `ALLOWED_GLOBALS` and refuses every other global (`os.system`, ...) with a
`RefusedGlobalError` before anything from the file has run. Admitted: numpy arrays (`_reconstruct` under both
`numpy.core.multiarray` (numpy 1.x files) and `numpy._core.multiarray` (numpy 2.x files), `_frombuffer` for
protocol-5 pickles), `numpy.dtype`, numpy scalars (`multiarray.scalar`), the containers dict / list / tuple / set /
frozenset / `collections.OrderedDict`, and what protocol-2 pickles use for bytes and numbers (`_codecs.encode`
with latin1, `bytes`, `bytearray`, `complex`). Python-2 module names (`__builtin__`, `copy_reg`) are mapped as the
standard unpickler maps them.

Sizes are checked before allocation, so a 60-byte file cannot ask for a terabyte (`OversizedDataError`):
`numpy.ndarray` is admitted only as the argument of `_reconstruct` (calling it would allocate any shape the file
names), `_reconstruct` only with the empty template numpy writes (shape (0,)), an array's state (BUILD) must bring
exactly shape x itemsize bytes (or one item per element for object arrays), `_frombuffer` likewise, `bytes(n)` /
`bytearray(n)` with an integer are refused, every length read from the stream must fit in what is left of the
file (`file.read(n)` would allocate n bytes first), and BUILD is allowed on numpy arrays and dtypes only. A pickle
can also reuse one stored piece many times (memo), e.g. encode one 10 MB string a hundred times: every admitted
constructor that copies data charges an allocation budget of 4 x the file size + 64 MiB per load
(`allocation_budget`; legitimate files build about 2 x their size), and exceeding it is an `OversizedDataError`.

Built on the pure-Python `pickle._Unpickler` because the C `pickle.Unpickler` offers no hook at BUILD or at
length-prefixed reads. Speed measured here: the same for large arrays (I/O bound), about 3x slower for pickles of
many small objects (2.4 s against 0.8 s for 70,000 small arrays); paid once per dataset, since arrays are cached.
"""

from __future__ import annotations

import _compat_pickle
import codecs
import collections
import contextlib
import contextvars
import importlib
import io
import math
import pickle
import struct
import types
from collections.abc import Iterator
from typing import Any, BinaryIO, ClassVar

import numpy as np

__all__ = ["ALLOWED_GLOBALS", "NDARRAY", "OversizedDataError", "RefusedContentError", "RefusedGlobalError",
           "RestrictedUnpickler", "allocation_budget", "charge", "element_count", "remaining"]


class RefusedGlobalError(pickle.UnpicklingError):
    """A global outside the allow-list; the loaders turn it into an `UnsafePickleError` naming the file."""

    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"refused global {module}.{name}")
        self.global_name = f"{module}.{name}"


class RefusedContentError(pickle.UnpicklingError):
    """Content refused because loading it the usual way would run code (e.g. a TorchScript archive)."""


class OversizedDataError(pickle.UnpicklingError):
    """Data that declares more bytes (or items) than the file provides; raised before anything is allocated."""


class _NdarrayClass:
    """Stands for `numpy.ndarray` in a pickle: `_reconstruct` names the class as an argument, but calling it
    (`ndarray(shape)`) would allocate whatever shape the file asks for, so the class itself is never handed out."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "numpy.ndarray"

    def __call__(self, *args: Any) -> None:
        raise OversizedDataError(f"an array numpy.ndarray{args!r:.60} allocated without any data")


NDARRAY = _NdarrayClass()

_BUDGET: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("unpickle_budget", default=None)


def _budget_for(file_size: int) -> int:
    return 4 * file_size + (64 << 20)


@contextlib.contextmanager
def allocation_budget(file_size: int) -> Iterator[None]:
    """Bytes that the constructors may copy while one file of `file_size` bytes loads (all its pickles)."""
    token = _BUDGET.set([_budget_for(file_size), file_size])
    try:
        yield
    finally:
        _BUDGET.reset(token)


def charge(nbytes: int, what: str) -> None:
    """Take `nbytes` from the active budget (before allocating them), or raise `OversizedDataError`."""
    state = _BUDGET.get()
    if state is None:
        return
    state[0] -= nbytes
    if state[0] < 0:
        raise OversizedDataError(f"{what}, which takes what the {state[1]:,}-byte file builds past "
                                 f"{_budget_for(state[1]):,} bytes (one stored piece reused many times)")


def element_count(shape: Any) -> int:
    """Number of elements of `shape` (a tuple of non-negative ints, or one int), else `UnpicklingError`."""
    dims = (shape,) if isinstance(shape, int) else shape
    if not isinstance(dims, tuple) or not all(type(n) is int and n >= 0 for n in dims):
        raise pickle.UnpicklingError(f"array shape {shape!r:.80} is not a tuple of non-negative integers")
    return math.prod(dims)


def _byte_length(raw: Any) -> int | None:
    if isinstance(raw, (bytes, bytearray, str)):  # str: Python-2 data decoded as latin1, one char per byte
        return len(raw)
    if isinstance(raw, (memoryview, pickle.PickleBuffer)):
        return memoryview(raw).nbytes
    return None


def _require_bytes(shape: Any, dtype: Any, raw: Any) -> int:
    """The array's size in bytes, after checking that `raw` holds exactly its data."""
    if not isinstance(dtype, np.dtype):
        raise pickle.UnpicklingError(f"array dtype {dtype!r:.80} is not a numpy dtype")
    count = element_count(shape)
    if dtype.hasobject:
        provided = len(raw) if isinstance(raw, list) else None
        if provided != count:
            raise OversizedDataError(f"an object array of shape {shape} with {provided} items")
        return 8 * count
    needed, provided = count * dtype.itemsize, _byte_length(raw)
    if provided != needed:
        raise OversizedDataError(f"an array of shape {shape} and dtype {dtype} ({needed:,} bytes) with "
                                 f"{'no' if provided is None else f'{provided:,}'} bytes of data")
    return needed


def check_array_state(state: Any) -> None:
    """The state numpy's `ndarray.__setstate__` receives: ([version,] shape, dtype, is_fortran, data); its size
    is charged to the budget."""
    if not isinstance(state, tuple) or len(state) not in (4, 5):
        raise pickle.UnpicklingError(f"ndarray state {state!r:.80} is not numpy's (version, shape, dtype, "
                                     "is_fortran, data) tuple")
    nbytes = _require_bytes(state[-4], state[-3], state[-1])
    charge(nbytes, f"an array of shape {state[-4]} ({nbytes:,} bytes)")


def _numpy_module(name: str) -> types.ModuleType:
    """`numpy._core.<name>` where it exists (numpy >= 2), else `numpy.core.<name>` (numpy 1.x)."""
    try:
        return importlib.import_module(f"numpy._core.{name}")
    except ImportError:
        return importlib.import_module(f"numpy.core.{name}")


_multiarray, _numeric = _numpy_module("multiarray"), _numpy_module("numeric")


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not NDARRAY:
        raise pickle.UnpicklingError(f"_reconstruct of {subtype!r:.80}, expected numpy.ndarray")
    if element_count(shape) != 0:  # numpy writes an empty (0,) template and sends the data with BUILD
        raise OversizedDataError(f"an array template of shape {shape} allocated before any data")
    return _multiarray._reconstruct(np.ndarray, shape, dtype)


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    if isinstance(dtype, np.dtype) and dtype.hasobject:
        raise pickle.UnpicklingError("_frombuffer of an object dtype")
    _require_bytes(shape, dtype, buf)
    return _numeric._frombuffer(buf, dtype, shape, order)


def _no_size(kind: type, args: tuple) -> None:
    if args and isinstance(args[0], int):  # bytes(n) / bytearray(n) allocate n zero bytes
        raise OversizedDataError(f"a buffer of {args[0]:,} zero bytes ({kind.__name__}(n))")
    if args and hasattr(args[0], "__len__"):
        charge(len(args[0]), f"a {kind.__name__} of {len(args[0]):,} bytes")


def _bytes(*args: Any) -> bytes:
    _no_size(bytes, args)
    return bytes(*args)


def _bytearray(*args: Any) -> bytearray:
    _no_size(bytearray, args)
    return bytearray(*args)


def _encode(text: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """`_codecs.encode` as protocol-2 pickles use it for bytes: a str encoded as latin1."""
    if not isinstance(text, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError(f"_codecs.encode({type(text).__name__}, {encoding!r}); only str as latin1 "
                                     "is admitted")
    charge(len(text), f"bytes of {len(text):,} bytes")
    return codecs.encode(text, encoding, errors)


def _counted(kind: type) -> Any:
    """`kind(items)` (set, frozenset, OrderedDict) charging a pointer per item first."""

    def build(*args: Any) -> Any:
        if args and hasattr(args[0], "__len__"):
            charge(8 * len(args[0]), f"a {kind.__name__} of {len(args[0]):,} items")
        return kind(*args)

    return build


def _scalar(dtype: Any, *args: Any) -> Any:
    if isinstance(dtype, np.dtype):
        charge(dtype.itemsize, f"a numpy scalar of {dtype.itemsize:,} bytes")
    return _multiarray.scalar(dtype, *args)


def _allowed_globals() -> dict[tuple[str, str], Any]:
    table: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): NDARRAY,
        ("numpy", "dtype"): np.dtype,
        ("collections", "OrderedDict"): _counted(collections.OrderedDict),
        ("_codecs", "encode"): _encode,
        ("builtins", "set"): _counted(set),
        ("builtins", "frozenset"): _counted(frozenset),
        ("builtins", "bytes"): _bytes,
        ("builtins", "bytearray"): _bytearray,
        ("builtins", "complex"): complex,
    }
    for core in ("numpy.core", "numpy._core"):  # files written under numpy 1.x and 2.x name different modules
        table[(f"{core}.multiarray", "_reconstruct")] = _reconstruct
        table[(f"{core}.multiarray", "scalar")] = _scalar
        table[(f"{core}.numeric", "_frombuffer")] = _frombuffer
    return table


ALLOWED_GLOBALS: dict[tuple[str, str], Any] = _allowed_globals()


def remaining(file: BinaryIO) -> int:
    """Bytes from the current position of `file` to its end."""
    here = file.tell()
    end = file.seek(0, io.SEEK_END)
    file.seek(here)
    return end - here


_SMALL_READ = 1 << 16


class _BoundedReader:
    """`read(n)` refuses n larger than what is left of the file instead of allocating n bytes first."""

    def __init__(self, file: BinaryIO, left: int) -> None:
        self._file, self.left, self.size = file, left, left

    def read(self, n: int = -1) -> bytes:
        if n > self.left and n > _SMALL_READ:  # small reads past the end fail as pickle's own "truncated" errors
            raise OversizedDataError(f"an item of {n:,} bytes where {self.left:,} bytes are left in the file")
        data = self._file.read(n if n >= 0 else self.left)
        self.left -= len(data)
        return data

    def readline(self) -> bytes:
        data = self._file.readline()
        self.left -= len(data)
        return data


class RestrictedUnpickler(pickle._Unpickler):
    """Pure-Python unpickler whose `find_class` admits only `allowed` (default `ALLOWED_GLOBALS`) and that checks
    declared sizes against the bytes the file holds (see the module docstring). Reads one pickle from the current
    position of `file` and stops right after it."""

    allowed: ClassVar[dict[tuple[str, str], Any]] = ALLOWED_GLOBALS
    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file: BinaryIO, *, encoding: str = "latin1", **kwargs: Any) -> None:
        self._reader = _BoundedReader(file, remaining(file))
        super().__init__(self._reader, encoding=encoding, **kwargs)

    def load(self) -> Any:
        if _BUDGET.get() is not None:
            return super().load()
        with allocation_budget(self._reader.size):
            return super().load()

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _compat_pickle.NAME_MAPPING:  # Python-2 names, mapped as pickle.Unpickler does
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        else:
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise RefusedGlobalError(module, name) from None

    def _load_build(self) -> None:
        inst, state = self.stack[-2], self.stack[-1]
        if type(inst) is np.ndarray:
            check_array_state(state)
        elif not isinstance(inst, np.dtype):
            raise pickle.UnpicklingError(f"BUILD (setting the state) of a {type(inst).__name__}; only numpy "
                                         "arrays and dtypes are rebuilt this way")
        pickle._Unpickler.load_build(self)

    def _load_bytearray8(self) -> None:
        (size,) = struct.unpack("<Q", self.read(8))
        if size > self._reader.size:  # the whole pickle's size: a small bytearray may sit in a frame read already
            raise OversizedDataError(f"a bytearray of {size:,} bytes in a pickle of {self._reader.size:,} bytes")
        buffer = bytearray(size)
        self.readinto(buffer)
        self.append(buffer)

    dispatch[pickle.BUILD[0]] = _load_build
    dispatch[pickle.BYTEARRAY8[0]] = _load_bytearray8
