"""What a dataset provides: its modalities (`ModalitySpec`) and its prediction task (`TaskSpec`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# The group of each built-in modality kind. Methods split modalities by group (HeLo: physiological vs behavioral)
# or by kind (Foal-Net: audio vs visual). A new kind needs no edit here: declare its group on the spec
# (`ModalitySpec("resp", 1, 640, kind="respiration", group="physiological")`).
MODALITY_GROUPS: dict[str, str] = {
    "eeg": "physiological",
    "ecg": "physiological",
    "peripheral": "physiological",
    "physio": "physiological",       # peripheral signals: EDA/GSR, respiration, plethysmograph/BVP, temperature
    "eda": "physiological",
    "ppg": "physiological",
    "text": "behavioral",
    "audio": "behavioral",
    "visual": "behavioral",
    "face": "behavioral",            # facial features (e.g. from video frames)
    "expression": "behavioral",      # eye and muscle activity: EOG, EMG (DEAP: hEOG, vEOG, zygomaticus/trapezius EMG)
    "motion": "behavioral",
}
GROUPS = ("physiological", "behavioral")
TASK_KINDS = ("multilabel", "distribution", "multiclass")


@dataclass(frozen=True)
class ModalitySpec:
    """One input stream: `(B, seq_len, dim)` float32 features of a given kind.

    `kind` is a built-in kind (`MODALITY_GROUPS`) or any new name; `group` (physiological | behavioral) defaults to
    the built-in kind's group and must be given for a new kind.
    """

    name: str
    dim: int
    seq_len: int
    kind: str
    group: str = ""

    def __post_init__(self) -> None:
        group = self.group or MODALITY_GROUPS.get(self.kind, "")
        if not group:
            raise ValueError(
                f"ModalitySpec {self.name!r}: kind {self.kind!r} is not a built-in kind ({sorted(MODALITY_GROUPS)}), "
                f"so its group must be given. Make sure to pass group='physiological' or group='behavioral'.")
        if group not in GROUPS:
            raise ValueError(f"ModalitySpec {self.name!r}: group must be one of {GROUPS}, got {group!r}.")
        object.__setattr__(self, "group", group)
        if self.dim < 1 or self.seq_len < 1:
            raise ValueError(f"ModalitySpec {self.name!r}: dim and seq_len must be >= 1, got {self.dim}, {self.seq_len}.")

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
