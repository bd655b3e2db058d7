"""`DatasetArrays`: what a reader returns (whole dataset in memory or memory-mapped), and its validation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emobench.datamodules.specs import ModalitySpec, TaskSpec


@dataclass
class DatasetArrays:
    """A whole dataset as arrays.

    inputs: modality -> (N, T, D) float32, zero-padded.  masks: modality -> (N, T) bool, True = real step.
    target: (N, L) float32 (multilabel / distribution) or (N,) int64 (multiclass).
    groups: (N,) int64 subject / session / series ids, used by group protocols.
    split: (N,) str in {"train", "valid", "test"} where the dataset has an official split.
    ids: (N,) str sample identifiers, where known.
    trials: (N,) int64 trial ids (unique over the dataset) where rows are segments of trials; every protocol then
        keeps a trial's rows on one side of a split (`datamodules.folds`).
    """

    inputs: dict[str, np.ndarray]
    masks: dict[str, np.ndarray]
    target: np.ndarray
    groups: np.ndarray | None = None
    split: np.ndarray | None = None
    ids: np.ndarray | None = None
    trials: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.target.shape[0])

    def check(self, task: TaskSpec, modalities: tuple[ModalitySpec, ...], source: str) -> None:
        """Raise a clear error if shapes disagree with the declared specs."""
        n = len(self)

        def fail(what: str) -> None:
            raise ValueError(f"{source}: {what}. Make sure the reader and its declared ModalitySpec/TaskSpec agree.")

        for spec in modalities:
            if spec.name not in self.inputs:
                fail(f"modality {spec.name!r} declared but not read (read: {sorted(self.inputs)})")
            x, m = self.inputs[spec.name], self.masks.get(spec.name)
            if x.shape != (n, spec.seq_len, spec.dim):
                fail(f"modality {spec.name!r} has shape {x.shape}, expected {(n, spec.seq_len, spec.dim)}")
            if m is None or m.shape != (n, spec.seq_len):
                fail(f"mask of {spec.name!r} has shape {None if m is None else m.shape}, expected {(n, spec.seq_len)}")
        if task.kind == "multiclass":
            if self.target.shape != (n,) or not np.issubdtype(self.target.dtype, np.integer):
                fail(f"multiclass target must be (N,) integers, got {self.target.shape} {self.target.dtype}")
            if n and (self.target.min() < 0 or self.target.max() >= task.num_labels):
                fail(f"class ids must lie in [0, {task.num_labels}), got [{self.target.min()}, {self.target.max()}]")
        elif self.target.shape != (n, task.num_labels):
            fail(f"{task.kind} target must be (N, {task.num_labels}), got {self.target.shape}")
        for name in ("groups", "split", "ids", "trials"):
            value = getattr(self, name)
            if value is not None and value.shape != (n,):
                fail(f"{name} must be (N,) = ({n},), got {value.shape}")
        if self.split is not None:
            bad = set(np.unique(self.split)) - {"train", "valid", "test"}
            if bad:
                fail(f"split values must be train/valid/test, got {sorted(bad)}")
