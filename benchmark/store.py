"""The results store: one JSON record per cell under `<output>/<sweep>/cells/`, written atomically. The only writer
of results; tables, plots and W&B read from here."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any


class UnreadableRecordsError(ValueError):
    """Result records that exist but cannot be read or parsed (the CLI prints it and exits with code 1)."""


def cells_dir(output: str | Path, sweep: str) -> Path:
    return Path(output) / sweep / "cells"


def _create_temp(folder: Path, cell_id: str) -> tuple[int, Path]:
    """A new hidden temp file opened for writing with mode 0o666 less the umask, as `open()` creates files:
    `tempfile.mkstemp` makes them 0o600, so colleagues sharing the output folder could not read the records. The
    kernel applies the umask (and a folder's default ACL) at creation, so nothing has to read the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        path = folder / f".{cell_id}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue


def write_record(record: dict[str, Any], folder: Path) -> Path:
    """Write `<folder>/<cell_id>.json` through a temp file + rename: a crash never leaves a partial record."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record['cell_id']}.json"
    fd, tmp = _create_temp(folder, record["cell_id"])
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle, indent=1, sort_keys=True, default=str)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def read_record(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def load_records(folder: Path) -> list[dict[str, Any]]:
    """All finished records in `folder` (temp files of cells in flight are ignored). A record that cannot be read
    raises `UnreadableRecordsError` naming every such file: tables built from part of the cells would look whole."""
    if not folder.is_dir():
        return []
    records, unreadable = [], []
    for path in sorted(folder.glob("*.json")):
        try:
            records.append(read_record(path))
        except (OSError, ValueError) as err:  # written atomically, so only permissions or an outside edit
            unreadable.append(f"{path} ({type(err).__name__}: {err})")
    if unreadable:
        raise UnreadableRecordsError(
            f"{len(unreadable)} result record(s) in <cells={folder}> cannot be read: {'; '.join(unreadable)}. "
            "Leaderboards without them would silently leave those cells out. Make sure you can read the files (on "
            "shared storage, ask their owner to run `chmod a+r` on them); delete a corrupt file to have "
            "`emobench sweep` compute its cell again.")
    return records
