"""DREAMER: EEG and ECG of 23 participants watching 18 film clips, with valence, arousal and dominance ratings.

Katsigiannis and Ramzan, "DREAMER: A Database for Emotion Recognition Through EEG and ECG Signals From Wireless
Low-cost Off-the-Shelf Devices", IEEE Journal of Biomedical and Health Informatics 22(1), 98-107, 2018.
Download: Zenodo record 546113 (https://zenodo.org/record/546113, DREAMER v1.0.2), access granted on request;
cite the paper. Reader like TorchEEG's `DREAMERDataset` (torcheeg/torcheeg v1.1.3,
`torcheeg/datasets/module/emotion_recognition/dreamer.py`); subjects are numbered 1-23 here (0-22 there).

Files (root = the folder holding it)::

    DREAMER.mat    MATLAB v5/v7 struct `DREAMER`: Data (1 x 23 cell of structs), EEG_SamplingRate (128),
                   ECG_SamplingRate (256), EEG_Electrodes (1 x 14), noOfSubjects, noOfVideoSequences, ...

Per participant `Data{s}`: `EEG.baseline{t}` (7808 x 14: 61 s of a neutral clip shown before clip t),
`EEG.stimuli{t}` (N_t x 14, the whole clip; lengths differ per clip), `ECG.baseline{t}` (15616 x 2) and
`ECG.stimuli{t}` (M_t x 2) at 256 Hz, all time-major; `ScoreValence`, `ScoreArousal`, `ScoreDominance` (18 x 1,
integers 1-5), `Age`, `Gender`. EEG channels in file order: `ELECTRODES`.

Modalities (one step per 1-s window; `datamodules.physio.features`): `eeg` (14 channels x 4 bands of
differential entropy) and `ecg` (2 leads: statistics), both physiological. The baseline's 61 whole 1-s windows are
averaged and its features subtracted (TorchEEG `BaselineRemoval`); stimulus windows start at the clip's first
sample. `stimulus_seconds=60` keeps only each clip's last 60 s (as many papers do). Targets: rating-based
(`datamodules.physio.targets`, scale 1-5, binary threshold 3). The whole file is decompressed into memory once
(about 2 GB for the real file) when features are computed; afterwards the per-subject cache is read instead.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from emobench.datamodules.errors import DatasetFormatError, require_files
from emobench.datamodules.physio import (
    PhysioDataModule,
    PhysioModality,
    Stream,
    SubjectRecording,
    SubjectSource,
    TrialRecording,
)
from emobench.datamodules.physio.matfile import cells, field, load_mat, number

log = logging.getLogger(__name__)

FILE = "DREAMER.mat"
EEG_RATE, ECG_RATE = 128, 256
ELECTRODES = ("AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8", "AF4")
SCORES = ("ScoreValence", "ScoreArousal", "ScoreDominance")
_OBTAIN = "request access to Zenodo record 546113 (https://zenodo.org/record/546113) and download DREAMER.mat"
_DOCS = "emobench.datamodules.dreamer.DreamerDataModule"

EEG = Stream("eeg", ELECTRODES, EEG_RATE, "de")
ECG = Stream("ecg", ("ECG1", "ECG2"), ECG_RATE, "stats")


class DreamerDataModule(PhysioDataModule, name="dreamer"):
    """DREAMER (see the module docstring for the file, signals and labels).

    Args:
        stimulus_seconds: use only the last this many seconds of each clip (None = the whole clip).
        **kwargs: PhysioDataModule options (features, segment_seconds, target, ...) and EmotionDataModule
            options (root, protocol, fold, ...). Default protocol: leave-one-subject-out.
    """

    signal_modalities = (PhysioModality("eeg", "eeg", (EEG,)), PhysioModality("ecg", "ecg", (ECG,)))
    rating_names = ("valence", "arousal", "dominance")
    rating_scale = (1.0, 5.0)
    default_threshold = 3.0
    signal_options = (*PhysioDataModule.signal_options, "stimulus_seconds")
    subjects_in_parallel = False  # every subject is in the one DREAMER.mat

    def __init__(self, stimulus_seconds: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if stimulus_seconds is not None and (int(stimulus_seconds) != stimulus_seconds or stimulus_seconds < 1):
            raise ValueError(f"<stimulus_seconds={stimulus_seconds}> must be a whole number >= 1 or None.")
        self.stimulus_seconds = stimulus_seconds
        self._loaded: tuple[Path, list[Any]] | None = None

    def mat_path(self) -> Path:
        return require_files(self.root, [FILE], "dreamer", _OBTAIN, _DOCS)[0]

    def subject_sources(self) -> list[SubjectSource]:
        path = self.mat_path()
        count = self._subject_count(path)
        return [SubjectSource(i + 1, f"subject{i + 1:02d}", (path,), part=i) for i in range(count)]

    def read_subjects(self, sources: Iterable[SubjectSource]) -> Iterator[SubjectRecording]:
        sources = list(sources)
        if not sources:
            return
        path, subjects = self._open(self.mat_path())
        try:
            for source in sources:
                yield self.subject_recording(path, source, subjects[source.part])
        finally:
            self._loaded = None  # free the decompressed file

    def read_subject(self, source: SubjectSource) -> SubjectRecording:
        return next(iter(self.read_subjects([source])))

    # ---- the file -------------------------------------------------------------------------------------------
    def _open(self, path: Path) -> tuple[Path, list[Any]]:
        """(path, the per-subject structs of `Data`), loaded once until `read_subjects` is done."""
        if self._loaded is None or self._loaded[0] != path:
            self._loaded = (path, parse_dreamer(path, load_mat(path, f"Make sure it is DREAMER.mat ({_OBTAIN}).")))
        return self._loaded

    def _subject_count(self, path: Path) -> int:
        """The number of participants, remembered per file (size, mtime) so that a cached run never opens it."""
        stat = path.stat()
        index = self.cache_dir / f"{self.dataset_name}-subjects" / "index.json"
        key = f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"
        try:
            known = json.loads(index.read_text())
        except (OSError, ValueError):
            known = {}
        if key not in known:
            known[key] = len(self._open(path)[1])
            index.parent.mkdir(parents=True, exist_ok=True)
            tmp = index.with_name(f"{index.name}.tmp-{os.getpid()}")
            tmp.write_text(json.dumps(known))
            tmp.replace(index)
        return int(known[key])

    def subject_recording(self, path: Path, source: SubjectSource, subject: Any) -> SubjectRecording:
        where = f"DREAMER.Data{{{source.number}}}"
        try:
            scores = np.stack([np.asarray(field(subject, k, where), dtype=np.float64).reshape(-1) for k in SCORES],
                              axis=1)
            streams = {}
            for name, stream in (("EEG", EEG), ("ECG", ECG)):
                signal = field(subject, name, where)
                streams[stream.name] = [cells(field(signal, part, f"{where}.{name}")) for part in ("stimuli", "baseline")]
        except (KeyError, ValueError) as err:
            raise DatasetFormatError(f"{path}: {err.args[0] if err.args else err}. Make sure the file is the original "
                                     f"DREAMER.mat ({_OBTAIN}).") from err
        trials = []
        for t in range(len(scores)):
            signals, baselines = {}, {}
            for stream in (EEG, ECG):
                stimuli, baseline = streams[stream.name]
                if len(stimuli) != len(scores) or len(baseline) != len(scores):
                    raise DatasetFormatError(
                        f"{path}: {where}.{stream.name.upper()} has {len(stimuli)} stimuli and {len(baseline)} "
                        f"baselines for {len(scores)} scores. Make sure the file is the original DREAMER.mat.")
                signals[stream.name] = _time_major(path, stimuli[t], stream, f"{where}.{stream.name.upper()}.stimuli"
                                                   f"{{{t + 1}}}")
                baselines[stream.name] = _time_major(path, baseline[t], stream, f"{where}.{stream.name.upper()}"
                                                     f".baseline{{{t + 1}}}")
                if self.stimulus_seconds is not None:
                    signals[stream.name] = signals[stream.name][:, -self.stimulus_seconds * stream.rate:]
            if not ((scores[t] >= 1) & (scores[t] <= 5)).all():
                raise DatasetFormatError(f"{path}: {where} scores of clip {t + 1} are {scores[t].tolist()}, outside "
                                         "1-5. Make sure the file is the original DREAMER.mat.")
            trials.append(TrialRecording(t + 1, signals, baselines, scores[t]))
        return SubjectRecording(source, trials)


def parse_dreamer(path: Path, mat: dict[str, Any]) -> list[Any]:
    """The per-participant structs of `DREAMER.Data`, after checking the sampling rates and electrodes; works
    on every form `scipy.io.loadmat` returns (`datamodules.physio.matfile`)."""
    try:
        if "DREAMER" not in mat:
            found = sorted(k for k in mat if not k.startswith("__"))
            raise KeyError(f"it holds the variable(s) {found}, not DREAMER")
        root = mat["DREAMER"]
        for name, rate in (("EEG_SamplingRate", EEG_RATE), ("ECG_SamplingRate", ECG_RATE)):
            found_rate = number(field(root, name, "DREAMER"), f"DREAMER.{name}")
            if found_rate != rate:
                raise ValueError(f"DREAMER.{name} is {found_rate:g}, expected {rate}")
        subjects = cells(field(root, "Data", "DREAMER"))
    except (KeyError, ValueError) as err:
        raise DatasetFormatError(f"{path}: {err.args[0] if err.args else err}. Make sure the file is the original "
                                 f"DREAMER.mat ({_OBTAIN}).") from err
    if not subjects:
        raise DatasetFormatError(f"{path}: DREAMER.Data is empty. Make sure the file is the original DREAMER.mat.")
    return subjects


def _time_major(path: Path, value: Any, stream: Stream, where: str) -> np.ndarray:
    """A (time, channels) matrix as (channels, time) float64, or a readable error."""
    array = np.asarray(value)
    if array.ndim != 2 or array.shape[1] != len(stream.channels) or not np.issubdtype(array.dtype, np.number):
        raise DatasetFormatError(f"{path}: {where} is {array.dtype} of shape {array.shape}, expected (time, "
                                 f"{len(stream.channels)}) numbers. Make sure the file is the original DREAMER.mat.")
    return array.astype(np.float64).T
