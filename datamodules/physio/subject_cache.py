"""Per-subject cache of window features: one `.npz` per subject (float32 features), written atomically, named by a
hash of the reader, its signal options and the subject's files' names, sizes and mtimes (never their folder)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from emobench.datamodules import cache as cache_lib
from emobench.datamodules.physio.recording import SubjectSource

log = logging.getLogger(__name__)


def subject_cache_path(folder: Path, reader: str, version: int, options: dict[str, Any],
                       source: SubjectSource) -> Path:
    """Where `source`'s features live under `folder` for these options."""
    key = cache_lib.cache_key(reader, version, {**options, "subject": source.name, "part": source.part},
                              list(source.files))
    return folder / f"{source.name}-{key}.npz"


def load_subject(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of a finished cache file, or None if there is none (or it cannot be read: it is rebuilt)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as err:  # e.g. a file truncated by a full disk: rebuild it
        log.warning("ignoring unreadable feature cache %s (%s); recomputing it", path, err)
        return None


def save_subject(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` to `path` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cache_lib.save_npz_atomic(path, arrays)
