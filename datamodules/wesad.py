"""WESAD: chest (RespiBAN) and wrist (Empatica E4) signals of 15 subjects in a baseline, a stress (TSST) and an
amusement condition and two meditations, with per-condition self-reports.

Schmidt, Reiss, Duerichen, Marberger and Van Laerhoven, "Introducing WESAD, a Multimodal Dataset for Wearable
Stress and Affect Detection", ICMI 2018, doi 10.1145/3242969.3242985. Download: WESAD.zip (2.2 GB, no request)
from https://ubi29.informatik.uni-siegen.de/usi/data_wesad.html (also UCI, doi 10.24432/C57K5T). Terms: "You may
use this data for scientific, non-commercial purposes, provided that you give credit to the owners when
publishing any work based on this data."

Files (root = the unzipped `WESAD/` folder, or the folder above it)::

    WESAD/
        S2/ ... S11/ S13/ ... S17/      (15 subjects; S1 and S12 were discarded by the authors)
            S<k>.pkl                    Python-2 pickle (read with latin1, through the restricted unpickler)
            S<k>_quest.csv              questionnaire: condition times and self-reports (`datamodules.wesad_quest`)
            S<k>_E4_Data.zip, S<k>_readme.txt, S<k>_respiban.txt    (not used)

`S<k>.pkl` = {'subject': 'S<k>', 'label': (N,) int at 700 Hz, 'signal': {'chest': {'ACC' (N, 3), 'ECG', 'EMG',
'EDA', 'Temp', 'Resp' (N, 1)} at 700 Hz, 'wrist': {'ACC' (32 Hz, 3), 'BVP' (64 Hz), 'EDA', 'TEMP' (4 Hz)}}}.
Label codes: 1 baseline, 2 stress, 3 amusement, 4 meditation; 0 (transient) and 5-7 (reading blocks) are ignored.
Every stream starts at the pickle's t = 0 and lasts the same whole number of seconds, so each signal keeps its own
rate and second s of every stream is samples [s * rate, (s + 1) * rate): the 1-s windows of all streams are aligned
without resampling; a condition's stretch is cut to the whole seconds inside it.

Each condition's labelled stretch is its questionnaire interval shortened by 10 s at both ends: the release's label
runs already are (the reader checks them against `S<k>_quest.csv` where present, and cuts runs that reach further;
`datamodules.wesad_quest.condition_stretches`). Stretches are split into blocks of `block_seconds`, the trials
that folds keep whole (subject-dependent folds split each subject's blocks; one block per condition would leave
nothing to train on).

Modalities (one step per 1-s window, per-window statistics `datamodules.physio.features.STATISTICS`):
`ecg` (chest ECG; physiological), `physio` (chest EDA, respiration, temperature, EMG with log band power 20-100
and 100-300 Hz, wrist BVP, EDA and temperature; physiological: the WESAD paper counts chest EMG among the
physiological signals) and `motion` (chest and wrist accelerometers; behavioral). WESAD has no video: the
accelerometers are its only behavioural signal. `features=raw` gives each window's samples at the native rates.

Targets: `condition` (default; 3-class baseline / stress / amusement, the dataset's standard task, with
`meditation=True` a fourth class) and `distribution` (24 PANAS emotion items of the condition's questionnaire,
`datamodules.wesad_quest`; needs every `S<k>_quest.csv`). Default protocol: leave-one-subject-out (fold k = the
k-th subject in sorted order, S2 first); `subject-dependent` and `group-kfold` work too.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from emobench.datamodules import safe_pickle
from emobench.datamodules.errors import DatasetFormatError, DatasetNotFoundError
from emobench.datamodules.physio import (
    PhysioDataModule,
    PhysioModality,
    Stream,
    SubjectRecording,
    SubjectSource,
    TrialRecording,
)
from emobench.datamodules.specs import TaskSpec
from emobench.datamodules.wesad_quest import (
    EMOTIONS,
    condition_stretches,
    panas_distribution,
    read_questionnaire,
)

log = logging.getLogger(__name__)

LABEL_RATE = 700
CONDITIONS = ("baseline", "stress", "amusement", "meditation")  # label codes 1-4
IGNORED_CODES = (0, 5, 6, 7)
SUBJECT_FOLDER = re.compile(r"S(\d+)")
_XYZ = ("x", "y", "z")
_OBTAIN = ("download WESAD.zip from https://ubi29.informatik.uni-siegen.de/usi/data_wesad.html (free; scientific, "
           "non-commercial use, credit the owners) and unzip it")
_DOCS = "emobench.datamodules.wesad.WesadDataModule"

CHEST_ECG = Stream("chest_ecg", ("ECG",), LABEL_RATE)
CHEST_PHYSIO = Stream("chest_physio", ("EDA", "Resp", "Temp"), LABEL_RATE)
CHEST_EMG = Stream("chest_emg", ("EMG",), LABEL_RATE, bands=((20.0, 100.0), (100.0, 300.0)))
WRIST_BVP = Stream("wrist_bvp", ("BVP",), 64)
WRIST_SLOW = Stream("wrist_eda_temp", ("EDA", "TEMP"), 4)
CHEST_ACC = Stream("chest_acc", tuple(f"ACC_{a}" for a in _XYZ), LABEL_RATE)
WRIST_ACC = Stream("wrist_acc", tuple(f"ACC_{a}" for a in _XYZ), 32)
#: stream -> (device, keys of `signal[device]` whose columns it concatenates, in channel order)
SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "chest_ecg": ("chest", ("ECG",)), "chest_physio": ("chest", ("EDA", "Resp", "Temp")),
    "chest_emg": ("chest", ("EMG",)), "chest_acc": ("chest", ("ACC",)), "wrist_bvp": ("wrist", ("BVP",)),
    "wrist_eda_temp": ("wrist", ("EDA", "TEMP")), "wrist_acc": ("wrist", ("ACC",))}
#: (device, key) -> (columns, rate)
LAYOUT: dict[tuple[str, str], tuple[int, int]] = {
    ("chest", "ACC"): (3, LABEL_RATE), **{("chest", k): (1, LABEL_RATE) for k in ("ECG", "EMG", "EDA", "Temp", "Resp")},
    ("wrist", "ACC"): (3, 32), ("wrist", "BVP"): (1, 64), ("wrist", "EDA"): (1, 4), ("wrist", "TEMP"): (1, 4)}


class WesadDataModule(PhysioDataModule, name="wesad"):
    """WESAD (see the module docstring for the files, signals, labels and how they are aligned).

    Args:
        target: "condition" (multiclass baseline / stress / amusement) or "distribution" (PANAS emotions).
        block_seconds: the conditions' stretches are cut into trials of this many seconds (a multiple of
            `segment_seconds`; the last one of a stretch may be shorter); None = one trial per condition.
        meditation: also use the two meditation stretches (code 4; a fourth class of the condition target).
        **kwargs: PhysioDataModule options (features, segment_seconds; baseline_removal and the rating options do
            not apply: no pre-trial baselines, no rating targets) and EmotionDataModule options (root, protocol,
            fold, ...).
    """

    signal_modalities = (
        PhysioModality("ecg", "ecg", (CHEST_ECG,)),
        PhysioModality("physio", "physio", (CHEST_PHYSIO, CHEST_EMG, WRIST_BVP, WRIST_SLOW)),
        PhysioModality("motion", "motion", (CHEST_ACC, WRIST_ACC)),
    )
    targets = ("condition", "distribution")
    signal_options = (*PhysioDataModule.signal_options, "block_seconds", "meditation")

    def __init__(self, target: str = "condition", block_seconds: int | None = 60, meditation: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(target=target, **kwargs)
        if block_seconds is not None and (int(block_seconds) != block_seconds or block_seconds < 1
                                          or block_seconds % self.segment_seconds):
            raise ValueError(f"<block_seconds={block_seconds}> must be None or a whole multiple of "
                             f"<segment_seconds={self.segment_seconds}>, so that blocks split into whole segments.")
        self.block_seconds = None if block_seconds is None else int(block_seconds)
        self.meditation = meditation

    @property
    def codes(self) -> tuple[int, ...]:
        return (1, 2, 3, 4) if self.meditation else (1, 2, 3)

    def task_for_target(self) -> TaskSpec:
        if self.target == "condition":
            return TaskSpec("multiclass", CONDITIONS[: len(self.codes)])
        return TaskSpec("distribution", EMOTIONS)

    def trial_targets(self, ratings: np.ndarray, labels: np.ndarray) -> np.ndarray:
        if self.target == "condition":
            return np.asarray(labels, dtype=np.int64)
        if ratings.ndim != 2 or ratings.shape[1] != len(EMOTIONS):
            raise DatasetFormatError(f"wesad: trials carry ratings of shape {ratings.shape}, not (trials, "
                                     f"{len(EMOTIONS)}) PANAS items. Make sure every S<k>_quest.csv is present.")
        return panas_distribution(ratings)

    # ---- files ----------------------------------------------------------------------------------------------
    def data_folder(self) -> Path:
        """`root`, or its `WESAD/` sub-folder when `root` holds no `S<k>/` folder itself."""
        if self.root is None or not self.root.is_dir():
            where = "no root folder given" if self.root is None else f"root folder {self.root} does not exist"
            raise DatasetNotFoundError(f"wesad: {where}. Point root at the WESAD folder holding S2/S2.pkl ... "
                                       f"S17/S17.pkl ({_OBTAIN}). The folder tree and terms are in the docstring of "
                                       f"{_DOCS}.")
        inner = self.root / "WESAD"
        if not _subject_folders(self.root) and inner.is_dir():
            return inner
        return self.root

    def subject_sources(self) -> list[SubjectSource]:
        folder = self.data_folder()
        folders = _subject_folders(folder)
        if not folders:
            present = sorted(p.name for p in folder.iterdir())
            shown = ", ".join(present[:12]) + (", ..." if len(present) > 12 else "") if present else "nothing"
            raise DatasetNotFoundError(f"wesad: no S<k>/ subject folder in {folder} (it holds: {shown}). Expected "
                                       f"S2/S2.pkl ... S17/S17.pkl ({_OBTAIN}). The folder tree and terms are in the "
                                       f"docstring of {_DOCS}.")
        sources, no_quest = [], []
        for number, path in folders:
            pickle_path, quest = path / f"{path.name}.pkl", path / f"{path.name}_quest.csv"
            if not pickle_path.is_file():
                raise DatasetNotFoundError(f"wesad: {pickle_path} not found; the subject folder {path.name}/ of "
                                           f"WESAD.zip holds {pickle_path.name}. Make sure the download was unzipped "
                                           f"completely ({_OBTAIN}), or remove the folder.")
            if not quest.is_file():
                no_quest.append(str(quest))
            files = (pickle_path, quest) if quest.is_file() else (pickle_path,)
            sources.append(SubjectSource(number, path.name, files))
        if no_quest and self.target == "distribution":
            raise DatasetNotFoundError(f"wesad: target 'distribution' is built from each subject's questionnaire, "
                                       f"but {', '.join(no_quest)} is missing. It is part of every subject folder of "
                                       f"WESAD.zip ({_OBTAIN}); make sure it is there, or use target=condition.")
        return sources

    # ---- reading --------------------------------------------------------------------------------------------
    def read_subject(self, source: SubjectSource) -> SubjectRecording:
        path = source.files[0]
        quest = read_questionnaire(source.files[1]) if len(source.files) > 1 else None
        label, arrays, seconds = _check_content(path, safe_pickle.load(path), source.name)
        trials = []
        for stretch in condition_stretches(label, LABEL_RATE, self.codes, quest, path):
            first = -(-stretch.start // LABEL_RATE)  # whole seconds inside the stretch, on every stream's clock
            last = min(stretch.stop // LABEL_RATE, seconds)
            if last <= first:
                log.warning("%s: the %s stretch holds no whole second; left out", path, CONDITIONS[stretch.code - 1])
                continue
            ratings = quest.panas[stretch.panas] if quest is not None else np.zeros(0)
            step = self.block_seconds or last - first
            for begin in range(first, last, step):
                end = min(begin + step, last)
                signals = {stream: _slice(arrays, device, keys, begin, end)
                           for stream, (device, keys) in SOURCES.items()}
                trials.append(TrialRecording(len(trials) + 1, signals, ratings=ratings, label=stretch.code - 1))
        return SubjectRecording(source, trials)


def _subject_folders(folder: Path) -> list[tuple[int, Path]]:
    found = [(int(m.group(1)), p) for p in folder.iterdir() if p.is_dir() and (m := SUBJECT_FOLDER.fullmatch(p.name))]
    return sorted(found)


def _slice(arrays: dict[tuple[str, str], np.ndarray], device: str, keys: tuple[str, ...], begin: int,
           end: int) -> np.ndarray:
    """Seconds [begin, end) of the columns of `keys` as (channels, samples) float64."""
    parts = []
    for key in keys:
        rate = LAYOUT[(device, key)][1]
        parts.append(arrays[(device, key)][begin * rate:end * rate])
    return np.concatenate(parts, axis=1).astype(np.float64).T


def _check_content(path: Path, content: Any, subject: str) -> tuple[np.ndarray, dict[tuple[str, str], np.ndarray],
                                                                   int]:
    """(label, (device, key) -> (samples, columns) array, whole seconds every stream covers) of a pickle, or one
    paragraph naming the file and what was found."""
    def fail(what: str) -> None:
        raise DatasetFormatError(f"{path}: {what}. Expected a WESAD subject pickle: a dict with 'label' ((N,) "
                                 "integer codes 0-7 at 700 Hz) and 'signal' = {'chest': {'ACC' (N, 3), 'ECG', 'EMG', "
                                 "'EDA', 'Temp', 'Resp' (N, 1)}, 'wrist': {'ACC' (32 Hz, 3), 'BVP' (64 Hz, 1), "
                                 "'EDA', 'TEMP' (4 Hz, 1)}}. Make sure the file is the original, complete "
                                 f"{subject}.pkl from WESAD.zip.")

    if not isinstance(content, dict) or not {"signal", "label"} <= set(content):
        keys = sorted(map(str, content)) if isinstance(content, dict) else type(content).__name__
        fail(f"holds {keys}, not a dict with keys 'signal' and 'label'")
    if "subject" in content and str(content["subject"]) != subject:
        log.warning("%s: its 'subject' is %r, but it lies in folder %s", path, content["subject"], subject)
    label = content["label"]
    if not isinstance(label, np.ndarray) or label.ndim != 1 or not np.issubdtype(label.dtype, np.number) \
            or not len(label):
        fail(f"'label' is {getattr(label, 'dtype', type(label).__name__)} of shape {np.shape(label)}")
    codes = np.unique(label)
    unknown = codes[~np.isin(codes, (1, 2, 3, 4, *IGNORED_CODES))]
    if len(unknown):
        fail(f"'label' holds codes {unknown.tolist()} besides 0-7")
    label = label.astype(np.int64)
    duration = len(label) / LABEL_RATE
    signal, arrays, seconds = content["signal"], {}, int(duration)
    for (device, key), (columns, rate) in LAYOUT.items():
        group = signal.get(device) if isinstance(signal, dict) else None
        if not isinstance(group, dict):
            fail(f"'signal' has no dict {device!r} (it holds {_keys(signal)})")
        value = _lookup(group, key)
        if value is None:
            fail(f"'signal'['{device}'] has no {key!r} (it holds {_keys(group)})")
        shape = np.shape(value)
        if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.number) \
                or value.ndim not in (1, 2) or (value.ndim == 2 and shape[1] != columns) \
                or (value.ndim == 1 and columns != 1):
            fail(f"'signal'['{device}']['{key}'] is {getattr(value, 'dtype', type(value).__name__)} of shape {shape}, "
                 f"expected (samples, {columns})")
        if device == "chest" and shape[0] != len(label):
            fail(f"'signal'['chest']['{key}'] has {shape[0]} samples, 'label' {len(label)}")
        if abs(shape[0] / rate - duration) > 1.0:
            fail(f"'signal'['{device}']['{key}'] lasts {shape[0] / rate:.2f} s at {rate} Hz, the label array "
                 f"{duration:.2f} s")
        arrays[(device, key)] = value.reshape(shape[0], columns)
        seconds = min(seconds, shape[0] // rate)
    return label, arrays, seconds


def _lookup(group: dict, key: str) -> Any:
    """group[key], else the one entry whose name matches it ignoring case (the readme writes RESP and TEMP)."""
    if key in group:
        return group[key]
    matches = [k for k in group if str(k).lower() == key.lower()]
    return group[matches[0]] if len(matches) == 1 else None


def _keys(value: Any) -> str:
    return str(sorted(map(str, value))) if isinstance(value, dict) else type(value).__name__
