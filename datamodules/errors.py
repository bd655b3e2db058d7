"""Errors raised by dataset readers, so that the runner can catch them and record a readable failure.

`DatasetNotFoundError`: the root or an expected file is missing (the message names the files and where they come
from). `DatasetFormatError`: a file exists but is truncated, corrupt, or holds other keys/shapes/labels than its
format (the message names the file and what was found). `UnsafePickleError`: a file that could run code: a pickle
naming a global the restricted unpickler refuses, or a TorchScript archive.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class DatasetNotFoundError(FileNotFoundError):
    """A dataset root or one of its expected files does not exist."""

    def __str__(self) -> str:  # FileNotFoundError would print "[Errno ...]" tuples for multi-argument calls
        return str(self.args[0]) if self.args else ""


class DatasetFormatError(ValueError):
    """A dataset file exists but does not have the expected format (truncated, wrong keys, shapes or labels)."""


class UnsafePickleError(DatasetFormatError):
    """A pickle refers to a global outside the allow-list of `datamodules.unpickler`, or a `.pt` is a TorchScript
    archive; the file was not loaded and nothing from it ran."""


def require_files(root: Path | None, names: Sequence[str], dataset: str, obtain: str, docs: str,
                  expected: str | None = None) -> list[Path]:
    """`root / name` for each of `names`, or a `DatasetNotFoundError` naming the missing files, where they come
    from (`obtain`, one sentence) and where the full instructions are (`docs`, e.g. the reader's class path).
    `expected` describes the files in the messages (default: `names`)."""
    expected = expected or ", ".join(names)
    if root is None:
        raise DatasetNotFoundError(
            f"{dataset}: no root folder given. Point root at the folder that holds {expected} "
            f"({obtain}). The folder tree and licence are in the docstring of {docs}.")
    if not root.is_dir():
        raise DatasetNotFoundError(
            f"{dataset}: root folder {root} does not exist. Point root at the folder that holds "
            f"{expected} ({obtain}). The folder tree and licence are in the docstring of {docs}.")
    paths = [root / name for name in names]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        present = sorted(p.name for p in root.iterdir())
        shown = ", ".join(present[:12]) + (", ..." if len(present) > 12 else "") if present else "nothing"
        raise DatasetNotFoundError(
            f"{dataset}: {', '.join(missing)} not found in {root} (it holds: {shown}). Expected "
            f"{expected} ({obtain}). The folder tree and licence are in the docstring of {docs}.")
    return paths
