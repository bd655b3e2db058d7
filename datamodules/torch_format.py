"""Reading `torch.save` files without `torch.load`: tensors come back as numpy arrays and no code in the file runs.

`torch.load(weights_only=False)` hands a zip that holds TorchScript records to `torch.jit.load`, which runs the
archive's code (its `__setstate__` methods, for one); deciding beforehand whether a file is such an archive means
agreeing with torch on what the file is, which `zipfile.is_zipfile` (it reads the end of the file, torch the first
bytes) does not. So torch's loader is never called. Both layouts of `torch/serialization.py` are read here:

- zip archive (torch >= 1.6; a file starting with the local-header magic ``PK\\x03\\x04``, the test torch uses):
  records ``<prefix>/data.pkl`` (the pickled object), ``<prefix>/data/<key>`` (raw storage bytes, stored
  uncompressed) and ``<prefix>/byteorder`` ("little" when absent). Archives with TorchScript records (``code/``,
  ``constants.pkl``, ``constants/``, ``bytecode.pkl``) are refused.
- legacy (``_use_new_zipfile_serialization=False``): consecutive pickles (magic number, protocol version 1001,
  system info, the object, the list of storage keys), then per key an int64 element count and the raw bytes,
  little-endian. Its storages follow the object, so the object is unpickled twice (first to learn the storages).
  The older tar layout (torch < 0.4) is refused with a request to re-save the file.

``data.pkl`` goes through `RestrictedUnpickler` with the numpy allow-list plus storage types (``torch.FloatStorage``,
..., ``torch.storage.UntypedStorage``), torch dtypes and `torch._utils._rebuild_tensor_v2` / `_v3`, which build a
copy of the tensor's elements (offset, size, stride into the storage, as `as_strided`) as a numpy array in native
byte order; bfloat16 becomes float32 (numpy has no bfloat16). A view that needs elements past its storage, or more
elements than the storage holds (an expanded view), is refused.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import numpy as np

from emobench.datamodules.unpickler import (
    ALLOWED_GLOBALS,
    OversizedDataError,
    RefusedContentError,
    RestrictedUnpickler,
    charge,
    element_count,
    remaining,
)

ZIP_MAGIC = b"PK\x03\x04"
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch/serialization.py MAGIC_NUMBER
LEGACY_PROTOCOL = 1001
_TORCHSCRIPT_RECORDS = ("constants.pkl", "bytecode.pkl")
_TORCHSCRIPT_FOLDERS = ("code/", "constants/")


@dataclass(frozen=True)
class ElementType:
    """A torch storage / tensor element type: the numpy dtype of its stored elements; bfloat16 is stored as
    uint16 (the upper half of a float32) and widened on rebuild."""

    name: str
    stored: str
    bfloat16: bool = False


_STORAGES = {"DoubleStorage": "<f8", "FloatStorage": "<f4", "HalfStorage": "<f2", "BFloat16Storage": "<u2",
             "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1",
             "ByteStorage": "u1", "BoolStorage": "?", "ComplexFloatStorage": "<c8", "ComplexDoubleStorage": "<c16"}
_DTYPES = {"float64": "<f8", "double": "<f8", "float32": "<f4", "float": "<f4", "float16": "<f2", "half": "<f2",
           "bfloat16": "<u2", "int64": "<i8", "long": "<i8", "int32": "<i4", "int": "<i4", "int16": "<i2",
           "short": "<i2", "int8": "i1", "uint8": "u1", "uint16": "<u2", "uint32": "<u4", "uint64": "<u8",
           "bool": "?", "complex64": "<c8", "cfloat": "<c8", "complex128": "<c16", "cdouble": "<c16"}


def _element(name: str, stored: str) -> ElementType:
    return ElementType(name, stored, bfloat16=name.startswith(("BFloat16", "bfloat16")))


@dataclass
class _Storage:
    """A storage of `numel` elements of `kind`: `raw` bytes (uint8, None while a legacy file is scanned) in byte
    `order` ("<" or ">")."""

    kind: ElementType
    numel: int
    raw: np.ndarray | None
    order: str = "<"


def _check_hooks(hooks: Any) -> None:
    if hooks is not None and (not isinstance(hooks, dict) or hooks):
        raise pickle.UnpicklingError("a tensor with backward hooks")


def _rebuild(storage: Any, offset: Any, size: Any, stride: Any, kind: ElementType) -> np.ndarray | None:
    """A copy of the elements `storage[offset + sum(i_k * stride_k)]` for every index i < size (as_strided)."""
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError(f"a tensor whose storage is a {type(storage).__name__}")
    dims, steps = tuple(size), tuple(stride)
    count = element_count(dims)
    if type(offset) is not int or offset < 0 or len(steps) != len(dims) \
            or not all(type(s) is int and s >= 0 for s in steps):
        raise pickle.UnpicklingError(f"tensor geometry offset={offset!r:.40}, size={size!r:.60}, "
                                     f"stride={stride!r:.60} is not valid")
    dtype = np.dtype(kind.stored).newbyteorder(storage.order)
    available = storage.numel * np.dtype(storage.kind.stored).itemsize // dtype.itemsize
    last = offset + sum((n - 1) * s for n, s in zip(dims, steps, strict=True))
    if count and (last >= available or count > available):
        raise OversizedDataError(f"a tensor of size {dims} (stride {steps}, offset {offset}) over a storage of "
                                 f"{available:,} elements")
    if storage.raw is None:
        return None
    charge(count * dtype.itemsize, f"a tensor of size {dims} ({count * dtype.itemsize:,} bytes)")
    elements = storage.raw[:available * dtype.itemsize].view(dtype)
    view = np.lib.stride_tricks.as_strided(elements[offset:] if count else elements[:0], shape=dims,
                                           strides=[s * dtype.itemsize for s in steps], writeable=False)
    array = np.array(view, dtype=dtype.newbyteorder("="), order="C")
    if kind.bfloat16:
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array


def _rebuild_tensor_v2(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                       hooks: Any = None, metadata: Any = None) -> np.ndarray | None:
    _check_hooks(hooks)
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError(f"a tensor whose storage is a {type(storage).__name__}")
    return _rebuild(storage, offset, size, stride, storage.kind)


def _rebuild_tensor_v3(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any, hooks: Any,
                       dtype: Any, metadata: Any = None) -> np.ndarray | None:
    _check_hooks(hooks)
    if not isinstance(dtype, ElementType):
        raise pickle.UnpicklingError(f"tensor dtype {dtype!r:.60} is not a torch dtype")
    return _rebuild(storage, offset, size, stride, dtype)


def _torch_globals() -> dict[tuple[str, str], Any]:
    table: dict[tuple[str, str], Any] = {
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
        ("torch", "UntypedStorage"): ElementType("UntypedStorage", "u1"),
        ("torch.storage", "UntypedStorage"): ElementType("UntypedStorage", "u1"),
    }
    for name, stored in _STORAGES.items():
        table[("torch", name)] = table[("torch.cuda", name)] = _element(name, stored)
    for name, stored in _DTYPES.items():
        table[("torch", name)] = _element(name, stored)
    return table


class TorchUnpickler(RestrictedUnpickler):
    """`RestrictedUnpickler` plus storage types, dtypes and tensor rebuilds; `storage(fields)` resolves the
    persistent id ``('storage', *fields)`` of a storage."""

    allowed: ClassVar[dict[tuple[str, str], Any]] = {**ALLOWED_GLOBALS, **_torch_globals()}

    def __init__(self, file: BinaryIO, storage: Callable[[tuple], _Storage], **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self._storage = storage

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or not pid or _text(pid[0]) != "storage":
            raise pickle.UnpicklingError(f"persistent id {pid!r:.80}; only tensor storages are read")
        return self._storage(pid[1:])


def _text(value: Any) -> Any:
    return value.decode("ascii") if isinstance(value, bytes) else value


def _storage_fields(fields: tuple, length: int) -> tuple[ElementType, str, int, tuple]:
    """(kind, key, numel, rest) from a storage persistent id, checked."""
    if len(fields) != length:
        raise pickle.UnpicklingError(f"storage id {fields!r:.80} has {len(fields)} fields, expected {length}")
    kind, key, _location, numel, *rest = fields
    key = _text(key)
    if not isinstance(kind, ElementType) or not isinstance(key, str) or type(numel) is not int or numel < 0:
        raise pickle.UnpicklingError(f"storage id {fields!r:.80} is not (storage type, key, location, numel)")
    return kind, key, numel, tuple(rest)


# ---- zip archives ---------------------------------------------------------------------------------------------
def _refuse_torchscript(records: Iterable[str]) -> None:
    script = sorted(r for r in records if r in _TORCHSCRIPT_RECORDS or r.startswith(_TORCHSCRIPT_FOLDERS))
    if script:
        raise RefusedContentError(
            f"it is a TorchScript archive (records {', '.join(script[:4])}), whose code torch.load would run "
            "through torch.jit.load")


def _records_torch_sees(path: Path) -> list[str]:
    """The records torch's own zip reader finds ([] when it cannot read the file): Python's `zipfile` locates the
    archive differently and may see other records, or none, in a crafted file."""
    try:
        import torch

        return list(torch._C.PyTorchFileReader(str(path)).get_all_records())
    except Exception:  # no torch, or torch cannot read it either
        return []


def _records(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Record name (without the archive's folder prefix) -> entry, refusing TorchScript and odd archives."""
    infos = archive.infolist()
    prefix = infos[0].filename.split("/", 1)[0] + "/" if infos and "/" in infos[0].filename else None
    if prefix is None or not all(i.filename.startswith(prefix) for i in infos):
        raise pickle.UnpicklingError("the zip does not hold torch's single <name>/ folder of records")
    records = {i.filename[len(prefix):]: i for i in infos}
    _refuse_torchscript(records)
    packed = [r for r, i in records.items() if i.compress_type != zipfile.ZIP_STORED]
    if packed:
        raise pickle.UnpicklingError(f"records {packed[:4]} are compressed; torch.save stores records uncompressed")
    return records


def read_zip(path: Path, *, encoding: str) -> Any:
    """The object of a zip-format `torch.save` file, tensors as numpy arrays."""
    _refuse_torchscript(_records_torch_sees(path))
    with zipfile.ZipFile(path) as archive:
        records = _records(archive)
        if "data.pkl" not in records:
            raise pickle.UnpicklingError(f"no data.pkl record (records: {sorted(records)[:8]})")
        order = archive.read(records["byteorder"]).decode("ascii", "replace") if "byteorder" in records else "little"
        if order not in ("little", "big"):
            raise pickle.UnpicklingError(f"byteorder record is {order!r:.20}, expected 'little' or 'big'")
        storages: dict[str, _Storage] = {}

        def storage(fields: tuple) -> _Storage:
            kind, key, numel, _ = _storage_fields(fields, 4)
            if key not in storages:
                info = records.get(f"data/{key}")
                dtype = np.dtype(kind.stored).newbyteorder("<" if order == "little" else ">")
                if info is None or info.file_size != numel * dtype.itemsize:
                    found = "is missing" if info is None else f"holds {info.file_size:,} bytes"
                    raise OversizedDataError(f"storage data/{key} of {numel:,} elements x {dtype.itemsize} bytes, "
                                             f"whose record {found}")
                raw = np.frombuffer(archive.read(info), np.uint8)
                storages[key] = _Storage(kind, numel, raw, "<" if order == "little" else ">")
            found = storages[key]
            if found.kind != kind or found.numel != numel:
                raise pickle.UnpicklingError(f"storage data/{key} is declared twice, differently")
            return found

        data = archive.read(records["data.pkl"])
        return TorchUnpickler(io.BytesIO(data), storage, encoding=encoding).load()


# ---- legacy files ---------------------------------------------------------------------------------------------
def is_legacy_tar(head: bytes) -> bool:
    """torch < 0.4 wrote a tar archive (`ustar` magic at offset 257)."""
    return head[257:262] == b"ustar"


def read_legacy(file: BinaryIO, *, encoding: str) -> Any:
    """The object of a legacy `torch.save` file whose magic-number pickle `file` has just been read."""
    protocol = RestrictedUnpickler(file, encoding=encoding).load()
    if protocol != LEGACY_PROTOCOL:
        raise pickle.UnpicklingError(f"legacy protocol version {protocol!r:.20}, expected {LEGACY_PROTOCOL}")
    if not isinstance(RestrictedUnpickler(file, encoding=encoding).load(), dict):
        raise pickle.UnpicklingError("the system-info pickle is not a dict")
    start = file.tell()
    roots: dict[str, tuple[ElementType, int]] = {}

    def declare(fields: tuple) -> _Storage:
        kind, key, numel, (view,) = _storage_fields(fields, 5)
        if roots.setdefault(key, (kind, numel)) != (kind, numel):
            raise pickle.UnpicklingError(f"storage {key} is declared twice, differently")
        return _view(kind, numel, None, view)

    TorchUnpickler(file, declare, encoding=encoding).load()  # first pass: which storages, how large
    keys = RestrictedUnpickler(file, encoding=encoding).load()
    if not isinstance(keys, list) or sorted(map(str, keys)) != sorted(roots):
        raise pickle.UnpicklingError(f"storage key list {keys!r:.80} does not match the storages used")
    buffers: dict[str, np.ndarray] = {}
    for key in keys:
        kind, numel = roots[str(key)]
        header = file.read(8)
        if len(header) != 8 or struct.unpack("<q", header)[0] != numel:
            raise pickle.UnpicklingError(f"storage {key}: element count header does not match {numel:,}")
        size, left = numel * np.dtype(kind.stored).itemsize, remaining(file)
        if size > left:
            raise OversizedDataError(f"storage {key} of {size:,} bytes where {left:,} bytes are left in the file")
        buffers[str(key)] = np.frombuffer(file.read(size), np.uint8)

    def resolve(fields: tuple) -> _Storage:
        kind, key, numel, (view,) = _storage_fields(fields, 5)
        return _view(kind, numel, buffers[key], view)

    file.seek(start)
    return TorchUnpickler(file, resolve, encoding=encoding).load()


def _view(kind: ElementType, numel: int, data: np.ndarray | None, view: Any) -> _Storage:
    """The root storage, or its (view key, offset, size) slice."""
    if view is None:
        return _Storage(kind, numel, data)
    if not (isinstance(view, tuple) and len(view) == 3 and all(type(v) is int and v >= 0 for v in view[1:])):
        raise pickle.UnpicklingError(f"storage view {view!r:.60} is not (key, offset, size)")
    _, offset, size = view
    if offset + size > numel:
        raise OversizedDataError(f"a storage view of {size:,} elements at {offset:,} into {numel:,} elements")
    itemsize = np.dtype(kind.stored).itemsize
    return _Storage(kind, size, None if data is None else data[offset * itemsize:(offset + size) * itemsize])
