"""The results store: one JSON record per cell under `<output>/<sweep>/cells/`, written atomically. The only writer
of results; tables, plots and W&B read from here."""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any


def cells_dir(output: str | Path, sweep: str) -> Path:
    return Path(output) / sweep / "cells"


def write_record(record: dict[str, Any], folder: Path) -> Path:
    """Write `<folder>/<cell_id>.json` through a temp file + rename: a crash never leaves a partial record."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record['cell_id']}.json"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{record['cell_id']}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle, indent=1, sort_keys=True, default=str)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_record(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def load_records(folder: Path) -> list[dict[str, Any]]:
    """All finished records in `folder` (temp files of cells in flight are ignored)."""
    if not folder.is_dir():
        return []
    records = []
    for path in sorted(folder.glob("*.json")):
        try:
            records.append(read_record(path))
        except (OSError, ValueError) as err:  # written atomically, so only an outside edit can break one
            warnings.warn(f"{path}: unreadable result record ({err}); skipped. Make sure nothing else writes "
                          "into the cells folder, or delete the file to recompute the cell.", stacklevel=2)
    return records
