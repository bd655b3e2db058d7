"""What a dataset provides: its modalities (`ModalitySpec`) and its prediction task (`TaskSpec`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Each modality kind belongs to one group; methods such as HeLo split modalities by group.
MODALITY_GROUPS: dict[str, str] = {
    "eeg": "physiological",
    "ecg": "physiological",
    "peripheral": "physiological",
    "eda": "physiological",
    "ppg": "physiological",
    "text": "behavioral",
    "audio": "behavioral",
    "visual": "behavioral",
    "motion": "behavioral",
}
TASK_KINDS = ("multilabel", "distribution", "multiclass")


@dataclass(frozen=True)
class ModalitySpec:
    """One input stream: `(B, seq_len, dim)` float32 features of a given kind."""

    name: str
    dim: int
    seq_len: int
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in MODALITY_GROUPS:
            raise ValueError(
                f"ModalitySpec {self.name!r}: kind must be one of {sorted(MODALITY_GROUPS)}, got {self.kind!r}."
            )
        if self.dim < 1 or self.seq_len < 1:
            raise ValueError(f"ModalitySpec {self.name!r}: dim and seq_len must be >= 1, got {self.dim}, {self.seq_len}.")

    @property
    def group(self) -> str:
        """`physiological` or `behavioral`."""
        return MODALITY_GROUPS[self.kind]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TaskSpec:
    """The target: `kind` in TASK_KINDS and `labels`, the class names in the order of the target's last axis."""

    kind: str
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.kind not in TASK_KINDS:
            raise ValueError(f"TaskSpec: kind must be one of {TASK_KINDS}, got {self.kind!r}.")
        if len(self.labels) < 2:
            raise ValueError(f"TaskSpec: need at least 2 labels, got {list(self.labels)}.")
        object.__setattr__(self, "labels", tuple(self.labels))

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "labels": list(self.labels)}
