"""DEAP: EEG and peripheral physiological signals of 32 participants watching 40 one-minute music videos.

Koelstra, Muhl, Soleymani, Lee, Yazdani, Ebrahimi, Pun, Nijholt and Patras, "DEAP: A Database for Emotion
Analysis Using Physiological Signals", IEEE Transactions on Affective Computing 3(1), 18-31, 2012.
Download: https://www.eecs.qmul.ac.uk/mmv/datasets/deap/ (sign the End User Licence Agreement and send it to the
authors; they send download credentials; academic research only, no redistribution). Reader like TorchEEG's
`DEAPDataset` (torcheeg/torcheeg v1.1.3, `torcheeg/datasets/module/emotion_recognition/deap.py`), with the
restricted unpickler instead of `pickle.load` and only `sNN.dat` files as records (TorchEEG takes every file).

Files (root = the folder holding the `sNN.dat` files, or the folder above `data_preprocessed_python/`)::

    data_preprocessed_python/
        s01.dat ... s32.dat     Python-2 pickle: {'data': (40 trials, 40 channels, 8064), 'labels': (40, 4)}
    face/                       optional (face_root): your own per-trial face features, see below
        participant_ratings.csv     from DEAP's metadata archive
        s01/s01_trial01.npy ...     (rows, D) float array per video of s01..s22, trialYY in presentation order

`data` is at 128 Hz, trials in video (Experiment_id) order; each trial is 3 s of pre-trial baseline (samples
0-383) followed by the 60-s video (384-8063). Channels: 0-31 EEG (Geneva order, `EEG_CHANNELS`), 32 hEOG, 33
vEOG, 34 zEMG (zygomaticus), 35 tEMG (trapezius), 36 GSR (Ohm), 37 respiration belt, 38 plethysmograph,
39 temperature. `labels`: valence, arousal, dominance, liking, continuous on 1-9 (self-assessment manikins).

Modalities (one step per 1-s window; `datamodules.physio.features`): `eeg` (32 channels x 4 bands of
differential entropy, physiological), `physio` (GSR, respiration, plethysmograph, temperature: statistics;
physiological), `expression` (hEOG, vEOG, zEMG, tEMG: statistics and log band power 4-20 / 20-60 Hz; eye and
muscle activity, behavioral), and, with `face_root`, `face` (behavioral). The baseline's three 1-s windows are
averaged and its features subtracted (TorchEEG `BaselineRemoval`). Targets: rating-based
(`datamodules.physio.targets`, scale 1-9, binary threshold 5).

Face features: DEAP's frontal face videos (`face_video.zip`, participants 1-22 only, some trials missing) are
numbered in presentation order (`sNN_trialYY.avi`, YY = the `Trial` column of `participant_ratings.csv`), the
`.dat` rows in video order (`Experiment_id`); this reader joins them through `participant_ratings.csv`. Extract
features from each video with any face model and save one `sNN/sNN_trialYY.npy` of shape (rows, D) per video,
rows evenly spread over the 60-s stimulus (e.g. one per frame); they are averaged per second. Trials and subjects
without a file get a masked-out `face` modality.
"""

from __future__ import annotations

import csv
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
)
from emobench.datamodules.physio.recording import TrialRecording

RATE = 128
BASELINE_SAMPLES = 3 * RATE
NUM_CHANNELS = 40
EEG_CHANNELS = ("Fp1", "AF3", "F3", "F7", "FC5", "FC1", "C3", "T7", "CP5", "CP1", "P3", "P7", "PO3", "O1", "Oz",
                "Pz", "Fp2", "AF4", "Fz", "F4", "F8", "FC6", "FC2", "Cz", "C4", "T8", "CP6", "CP2", "P4", "P8",
                "PO4", "O2")
EXPRESSION_CHANNELS = ("hEOG", "vEOG", "zEMG", "tEMG")  # channels 32-35
PHYSIO_CHANNELS = ("GSR", "respiration", "plethysmograph", "temperature")  # channels 36-39
FILE_PATTERN = re.compile(r"s(\d\d)\.dat")
FACE_FILE = re.compile(r"s(\d\d)_trial(\d\d)\.npy")
RATINGS_CSV = "participant_ratings.csv"
_OBTAIN = ("sign the DEAP End User Licence Agreement at https://www.eecs.qmul.ac.uk/mmv/datasets/deap/ and "
           "download data_preprocessed_python.zip with the credentials the authors send")
_DOCS = "emobench.datamodules.deap.DeapDataModule"

EEG = Stream("eeg", EEG_CHANNELS, RATE, "de")
EXPRESSION = Stream("expression", EXPRESSION_CHANNELS, RATE, "stats", bands=((4.0, 20.0), (20.0, 60.0)))
PHYSIO = Stream("physio", PHYSIO_CHANNELS, RATE, "stats")


class DeapDataModule(PhysioDataModule, name="deap"):
    """DEAP (see the module docstring for the files, signals and labels).

    Args:
        face_root: folder with `participant_ratings.csv` and your per-trial face features `sNN/sNN_trialYY.npy`
            (adds the `face` modality); None = no face modality.
        **kwargs: PhysioDataModule options (features, segment_seconds, target, ...) and EmotionDataModule
            options (root, protocol, fold, ...). Default protocol: leave-one-subject-out.
    """

    signal_modalities = (PhysioModality("eeg", "eeg", (EEG,)), PhysioModality("physio", "physio", (PHYSIO,)),
                         PhysioModality("expression", "expression", (EXPRESSION,)))
    rating_names = ("valence", "arousal", "dominance", "liking")
    rating_scale = (1.0, 9.0)
    default_threshold = 5.0

    def __init__(self, face_root: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.face_root = Path(face_root).expanduser() if face_root else None
        self._face_dim: int | None = None

    # ---- files ----------------------------------------------------------------------------------------------
    def data_folder(self) -> Path:
        """`root`, or its `data_preprocessed_python/` sub-folder when `root` holds no `sNN.dat` itself."""
        if self.root is None or not self.root.is_dir():
            where = "no root folder given" if self.root is None else f"root folder {self.root} does not exist"
            raise DatasetNotFoundError(f"deap: {where}. Point root at the data_preprocessed_python folder holding "
                                       f"s01.dat ... s32.dat ({_OBTAIN}). The folder tree and licence are in the "
                                       f"docstring of {_DOCS}.")
        inner = self.root / "data_preprocessed_python"
        if not any(FILE_PATTERN.fullmatch(p.name) for p in self.root.iterdir()) and inner.is_dir():
            return inner
        return self.root

    def subject_sources(self) -> list[SubjectSource]:
        folder = self.data_folder()
        files = sorted(p for p in folder.iterdir() if FILE_PATTERN.fullmatch(p.name) and p.is_file())
        if not files:
            present = sorted(p.name for p in folder.iterdir())
            shown = ", ".join(present[:12]) + (", ..." if len(present) > 12 else "") if present else "nothing"
            raise DatasetNotFoundError(f"deap: no sNN.dat file in {folder} (it holds: {shown}). Expected s01.dat "
                                       f"... s32.dat from data_preprocessed_python.zip ({_OBTAIN}). The folder tree "
                                       f"and licence are in the docstring of {_DOCS}.")
        sources = []
        for path in files:
            number = int(FILE_PATTERN.fullmatch(path.name).group(1))
            sources.append(SubjectSource(number, path.stem, (path, *self._face_files(number))))
        return sources

    def physio_modalities(self) -> tuple[PhysioModality, ...]:
        if self.face_root is None:
            return self.signal_modalities
        stream = Stream("face", tuple(f"face{i}" for i in range(self._face_feature_dim())), 1, "raw", optional=True)
        return (*self.signal_modalities, PhysioModality("face", "face", (stream,)))

    # ---- reading --------------------------------------------------------------------------------------------
    def read_subject(self, source: SubjectSource) -> SubjectRecording:
        path = source.files[0]
        content = safe_pickle.load(path)
        data, labels = _check_content(path, content)
        faces = self._read_faces(source.number, (data.shape[2] - BASELINE_SAMPLES) // RATE) if self.face_root else {}
        trials = []
        for t in range(data.shape[0]):
            trial = data[t]
            signals = {"eeg": trial[:32, BASELINE_SAMPLES:], "expression": trial[32:36, BASELINE_SAMPLES:],
                       "physio": trial[36:40, BASELINE_SAMPLES:]}
            baselines = {"eeg": trial[:32, :BASELINE_SAMPLES], "expression": trial[32:36, :BASELINE_SAMPLES],
                         "physio": trial[36:40, :BASELINE_SAMPLES]}
            if t + 1 in faces:
                signals["face"] = faces[t + 1]
            trials.append(TrialRecording(t + 1, signals, baselines, labels[t]))
        return SubjectRecording(source, trials)

    # ---- optional face features -----------------------------------------------------------------------------
    def _ratings_csv(self) -> Path:
        path = self.face_root / RATINGS_CSV
        if not path.is_file():
            raise DatasetNotFoundError(f"deap: face_root {self.face_root} has no {RATINGS_CSV}. Copy it there from "
                                       "DEAP's metadata archive (it maps each video's presentation order, the YY "
                                       f"of sNN_trialYY, to the .dat row); see the docstring of {_DOCS}.")
        return path

    def _face_files(self, number: int) -> list[Path]:
        if self.face_root is None:
            return []
        folder = self.face_root / f"s{number:02d}"
        files = sorted(p for p in folder.glob("*.npy") if FACE_FILE.fullmatch(p.name)) if folder.is_dir() else []
        return [self._ratings_csv(), *files]

    def _face_feature_dim(self) -> int:
        if self._face_dim is None:
            files = sorted(self.face_root.glob("s[0-9][0-9]/s[0-9][0-9]_trial[0-9][0-9].npy"))
            if not files:
                raise DatasetNotFoundError(f"deap: face_root {self.face_root} holds no sNN/sNN_trialYY.npy feature "
                                           f"file. See the docstring of {_DOCS} for the layout, or leave face_root "
                                           "unset.")
            self._face_dim = int(_face_array(files[0]).shape[1])
        return self._face_dim

    def _read_faces(self, number: int, seconds: int) -> dict[int, np.ndarray]:
        """Experiment_id -> (D, seconds) per-second means of the subject's face feature rows."""
        order = _presentation_order(self._ratings_csv(), number)
        dim, faces = self._face_feature_dim(), {}
        for path in self._face_files(number)[1:]:
            trial = int(FACE_FILE.fullmatch(path.name).group(2))
            if trial not in order:
                raise DatasetFormatError(f"{path}: {RATINGS_CSV} has no row for participant {number}, trial {trial}, "
                                         "so its video is unknown. Make sure the file names use presentation order.")
            rows = _face_array(path)
            if rows.shape[1] != dim:
                raise DatasetFormatError(f"{path}: {rows.shape[1]} features per row, but other face files have "
                                         f"{dim}. Make sure every file comes from the same feature extractor.")
            faces[order[trial]] = _per_second(rows, seconds).T
        return faces


def _check_content(path: Path, content: Any) -> tuple[np.ndarray, np.ndarray]:
    """`data` (trials, 40, samples) and `labels` (trials, 4) of a `.dat` file, or one paragraph naming it."""
    def fail(what: str) -> None:
        raise DatasetFormatError(f"{path}: {what}. Expected a DEAP preprocessed-python file: a dict with 'data' "
                                 "(40 trials, 40 channels, 8064 samples) and 'labels' (40, 4). Make sure the file is "
                                 "the original, complete s01.dat ... s32.dat download.")

    if not isinstance(content, dict) or not {"data", "labels"} <= set(content):
        keys = sorted(map(str, content)) if isinstance(content, dict) else type(content).__name__
        fail(f"holds {keys}, not a dict with keys 'data' and 'labels'")
    data, labels = content["data"], content["labels"]
    if not isinstance(data, np.ndarray) or data.ndim != 3 or data.shape[1] != NUM_CHANNELS \
            or not np.issubdtype(data.dtype, np.floating):
        fail(f"'data' is {getattr(data, 'dtype', type(data).__name__)} {np.shape(data)}")
    if data.shape[2] < BASELINE_SAMPLES + RATE:
        fail(f"'data' has {data.shape[2]} samples per trial, fewer than the 3-s baseline plus one second")
    if not isinstance(labels, np.ndarray) or labels.shape != (data.shape[0], 4):
        fail(f"'labels' has shape {np.shape(labels)} for {data.shape[0]} trials")
    labels = labels.astype(np.float64)
    if not np.isfinite(labels).all() or labels.min() < 1 or labels.max() > 9:
        fail(f"'labels' holds values outside the 1-9 rating scale (range {np.nanmin(labels)}..{np.nanmax(labels)})")
    return data, labels


def _presentation_order(path: Path, number: int) -> dict[int, int]:
    """Presentation trial -> Experiment_id (video, = .dat row + 1) of participant `number`."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(file)]
        return {int(float(r["Trial"])): int(float(r["Experiment_id"])) for r in rows
                if int(float(r["Participant_id"])) == number}
    except (KeyError, ValueError) as err:
        raise DatasetFormatError(f"{path}: could not read the columns Participant_id, Trial and Experiment_id "
                                 f"({type(err).__name__}: {err}). Make sure it is DEAP's participant_ratings.csv."
                                 ) from err


def _face_array(path: Path) -> np.ndarray:
    try:
        rows = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as err:
        raise DatasetFormatError(f"{path}: not a numpy .npy array of numbers ({err}). Save face features with "
                                 "numpy.save as a (rows, D) float array.") from err
    if rows.ndim != 2 or rows.shape[0] < 1 or not np.issubdtype(rows.dtype, np.number):
        raise DatasetFormatError(f"{path}: face features have shape {rows.shape} and dtype {rows.dtype}; expected "
                                 "(rows, D) numbers with at least one row. Make sure each file is one video's rows.")
    return rows


def _per_second(rows: np.ndarray, seconds: int) -> np.ndarray:
    """(seconds, D) means of `rows` spread evenly over `seconds` (each second gets at least its nearest row)."""
    n = len(rows)
    lo = np.minimum(np.arange(seconds) * n // seconds, n - 1)
    hi = np.maximum((np.arange(1, seconds + 1) * n) // seconds, lo + 1)
    sums = np.concatenate([np.zeros((1, rows.shape[1])), np.cumsum(np.asarray(rows, dtype=np.float64), axis=0)])
    return (sums[hi] - sums[lo]) / (hi - lo)[:, None]
