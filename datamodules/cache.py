"""Content-keyed, atomically written cache of `DatasetArrays` (one .npy per array, memory-mapped on read)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np

from emobench.datamodules.arrays import DatasetArrays

log = logging.getLogger(__name__)
OPTIONAL_FIELDS = ("groups", "split", "ids", "trials")


def default_cache_dir() -> Path:
    return Path(os.environ.get("EMOBENCH_CACHE_DIR", Path.home() / ".cache" / "emobench"))


def cache_key(reader: str, version: int, options: dict, files: list[Path]) -> str:
    """Hash of the reader, its options and every source file's name, size and mtime."""
    stats = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in sorted(files)]
    blob = json.dumps({"reader": reader, "version": version, "options": options, "files": stats}, sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_cached(folder: Path) -> DatasetArrays | None:
    """Read a finished cache folder, or None when it does not exist."""
    meta_file = folder / "meta.json"
    if not meta_file.is_file():
        return None
    meta = json.loads(meta_file.read_text())
    mm = "r"
    inputs = {m: np.load(folder / f"inputs.{m}.npy", mmap_mode=mm) for m in meta["modalities"]}
    masks = {m: np.load(folder / f"masks.{m}.npy") for m in meta["modalities"]}
    extra = {k: (np.load(folder / f"{k}.npy", allow_pickle=False) if k in meta["present"] else None)
             for k in OPTIONAL_FIELDS}
    return DatasetArrays(inputs=inputs, masks=masks, target=np.load(folder / "target.npy"), **extra)


def save_cached(arrays: DatasetArrays, folder: Path) -> None:
    """Write into a temporary folder, then rename it into place; a failure leaves nothing behind."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        for m, x in arrays.inputs.items():
            np.save(tmp / f"inputs.{m}.npy", np.ascontiguousarray(x, dtype=np.float32))
            np.save(tmp / f"masks.{m}.npy", arrays.masks[m].astype(bool))
        np.save(tmp / "target.npy", arrays.target)
        present = []
        for k in OPTIONAL_FIELDS:
            value = getattr(arrays, k)
            if value is not None:
                np.save(tmp / f"{k}.npy", value.astype(str) if value.dtype == object else value)
                present.append(k)
        (tmp / "meta.json").write_text(json.dumps({"modalities": list(arrays.inputs), "present": present}))
        try:
            os.replace(tmp, folder)
        except OSError:  # another process finished the same cache first
            if not (folder / "meta.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def save_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez into a temporary file in the same folder, then rename it into place."""
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}.npz")
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
