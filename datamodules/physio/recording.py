"""What a physiological reader declares (`Stream`, `PhysioModality`) and returns (`SubjectSource`,
`SubjectRecording` of `TrialRecording`s); `datamodules.physio.base.PhysioDataModule` turns these into features."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emobench.datamodules.specs import ModalitySpec

#: Per-window feature of a stream: differential entropy per band, statistics (plus log band power), or the window.
STREAM_FEATURES = ("de", "stats", "raw")
#: TorchEEG 1.1.3 `BandTransform` default bands (Hz), in its order: theta, alpha, beta, gamma.
EEG_BANDS: tuple[tuple[float, float], ...] = ((4.0, 8.0), (8.0, 14.0), (14.0, 31.0), (31.0, 49.0))
#: Statistics per channel and window, in this order (`datamodules.physio.features.window_statistics`).
STATISTICS = ("mean", "std", "min", "max", "mean_abs_diff")


@dataclass(frozen=True)
class Stream:
    """Channels recorded at one rate, cut into 1-s windows of `rate` samples.

    feature: "de" (differential entropy per band of `bands`, default `EEG_BANDS`; EEG), "stats" (`STATISTICS` per
    channel, then the log band power of each band in `bands`), or "raw" (the window's samples; e.g. precomputed
    face features at 1 Hz). optional: trials may lack the stream (its windows are then masked out).
    """

    name: str
    channels: tuple[str, ...]
    rate: int
    feature: str = "stats"
    bands: tuple[tuple[float, float], ...] = ()
    optional: bool = False

    def __post_init__(self) -> None:
        if self.feature not in STREAM_FEATURES:
            raise ValueError(f"Stream {self.name!r}: feature must be one of {STREAM_FEATURES}, got {self.feature!r}.")
        if int(self.rate) != self.rate or self.rate < 1:
            raise ValueError(f"Stream {self.name!r}: rate must be a whole number of samples per second, "
                             f"got {self.rate}.")
        object.__setattr__(self, "channels", tuple(self.channels))
        if self.feature == "de" and not self.bands:
            object.__setattr__(self, "bands", EEG_BANDS)
        for low, high in self.bands:
            if not 0 < low < high < self.rate / 2:
                raise ValueError(f"Stream {self.name!r}: band ({low}, {high}) Hz must satisfy 0 < low < high < "
                                 f"{self.rate / 2} (half the {self.rate} Hz rate).")

    def feature_dim(self, raw: bool) -> int:
        """Features per window: channels x (samples if raw, bands for de, statistics + bands for stats)."""
        per_channel = {"de": len(self.bands), "stats": len(STATISTICS) + len(self.bands), "raw": self.rate}
        return len(self.channels) * (self.rate if raw else per_channel[self.feature])


@dataclass(frozen=True)
class PhysioModality:
    """One model input: the concatenated per-window features of its `streams` (any rates), of one `kind`
    (`datamodules.specs.MODALITY_GROUPS`; `group` for a new kind)."""

    name: str
    kind: str
    streams: tuple[Stream, ...]
    group: str = ""

    def spec(self, segment_seconds: int, raw: bool) -> ModalitySpec:
        """(segment_seconds windows, features per window)."""
        dim = sum(s.feature_dim(raw) for s in self.streams)
        return ModalitySpec(self.name, dim, segment_seconds, self.kind, self.group)


@dataclass(frozen=True)
class SubjectSource:
    """One subject as found on disk, before reading: `number` (its group id, e.g. 1 for DEAP's s01; folds and loso
    order follow it), `name` (as the dataset names it) and the `files` whose size/mtime key its feature cache.
    `part` tells a reader where the subject is inside shared files (e.g. its index in DREAMER.mat)."""

    number: int
    name: str
    files: tuple[Path, ...]
    part: int = 0


@dataclass
class TrialRecording:
    """One trial of one subject.

    number: the trial's number as the dataset counts it (DEAP: video / Experiment_id 1..40).
    signals: stream name -> (channels, samples) float array of the stimulus part (an optional stream may be absent).
    baselines: stream name -> (channels, samples) pre-stimulus baseline; none = no baseline removal for it.
    ratings: the trial's self-reports in the order of the reader's `rating_names` (may be empty).
    label: the trial's class (e.g. a WESAD condition), or -1.
    """

    number: int
    signals: dict[str, np.ndarray]
    baselines: dict[str, np.ndarray] = field(default_factory=dict)
    ratings: np.ndarray = field(default_factory=lambda: np.zeros(0))
    label: int = -1


@dataclass
class SubjectRecording:
    """A subject's trials, in the order the dataset stores them."""

    source: SubjectSource
    trials: list[TrialRecording]
