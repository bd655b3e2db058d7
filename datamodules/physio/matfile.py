"""Reading MATLAB `.mat` files (v5/v7, via `scipy.io.loadmat`) and walking their structs and cells the same way
whichever mode scipy returned them in: record arrays (`struct_as_record=True`, scipy's default and TorchEEG's),
`mat_struct` objects (`struct_as_record=False`), squeezed or not, or plain dicts and lists (`simplify_cells`).
A v7.3 file (HDF5, which scipy cannot read) and a corrupt file each give one paragraph naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy.io import loadmat
from scipy.io.matlab import mat_struct

from emobench.datamodules.errors import DatasetFormatError, DatasetNotFoundError

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def load_mat(path: Path, fix: str, **options: Any) -> dict[str, Any]:
    """`loadmat(path, verify_compressed_data_integrity=False, **options)` (as TorchEEG reads DREAMER.mat), or a
    readable error; `fix` says how to get the right file."""
    if not path.is_file():
        raise DatasetNotFoundError(f"{path} does not exist. {fix}")
    with path.open("rb") as file:
        head = file.read(640)
    if b"MATLAB 7.3" in head[:128] or HDF5_MAGIC in head[:8] or head[512:520] == HDF5_MAGIC:
        raise DatasetFormatError(
            f"{path} is a MATLAB v7.3 (HDF5) file, which scipy.io.loadmat cannot read. The original file is MATLAB "
            "v5/v7; it was probably re-saved. Make sure to use the original download, or re-save it in MATLAB "
            f"with save(..., '-v7'). {fix}")
    try:
        return loadmat(path, verify_compressed_data_integrity=False, **options)
    except MemoryError:
        raise
    except Exception as err:  # scipy raises ValueError, TypeError, zlib.error, MatReadError... on bad files
        raise DatasetFormatError(
            f"{path} ({path.stat().st_size} bytes) could not be read as a MATLAB file: {type(err).__name__}: {err}. "
            f"The file is probably truncated or corrupt (an interrupted download?). {fix}") from err


def single(value: Any) -> Any:
    """The element of a 1-element cell / struct array (any nesting of (1, 1) object arrays), else `value`."""
    while isinstance(value, np.ndarray) and value.size == 1 and (value.dtype == object or value.dtype.names):
        value = value.reshape(-1)[0]
    return value


def field(struct: Any, name: str, where: str) -> Any:
    """Field `name` of a MATLAB struct in any of scipy's forms; KeyError naming `where` and the fields found."""
    struct = single(struct)
    if isinstance(struct, mat_struct):
        names = list(struct._fieldnames)
        if name in names:
            return getattr(struct, name)
    elif isinstance(struct, np.void) and struct.dtype.names:
        names = list(struct.dtype.names)
        if name in names:
            return struct[name]
    elif isinstance(struct, dict):
        names = [k for k in struct if not str(k).startswith("__")]
        if name in struct:
            return struct[name]
    else:
        raise KeyError(f"{where} is a {type(struct).__name__}, not a struct with a field {name!r}")
    raise KeyError(f"{where} has no field {name!r} (fields: {', '.join(map(str, names))})")


def cells(value: Any) -> list[Any]:
    """The elements of a MATLAB cell array (k x 1, 1 x k, squeezed, or a list); a lone non-cell value (what
    `squeeze_me` makes of a 1-element cell) is a one-element list."""
    if isinstance(value, list):
        return value
    if isinstance(value, np.ndarray) and value.dtype == object:
        return list(value.reshape(-1))
    return [value]


def number(value: Any, where: str) -> float:
    """A MATLAB scalar (any wrapping) as a float; ValueError naming `where` otherwise."""
    value = single(value)
    array = np.asarray(value)
    if array.size != 1 or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{where} is {array.dtype} of shape {array.shape}, expected one number")
    return float(array.reshape(-1)[0])
