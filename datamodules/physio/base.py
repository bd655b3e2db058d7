"""`PhysioDataModule`: the base of readers of trial-based physiological datasets (DEAP, DREAMER, WESAD, ...).

A reader declares its streams and modalities (`signal_modalities`), lists its subjects (`subject_sources()`) and
reads one subject's trials (`read_subject()`, or `read_subjects()` where subjects share a file); this base computes
the 1-s window features per subject (`datamodules.physio.features`, vectorised over the subject), caches them per
subject (`datamodules.physio.subject_cache`), cuts each trial into segments of `segment_seconds` windows (the
samples) and derives the targets (`datamodules.physio.targets`, or the reader's own `trial_targets`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from emobench.datamodules.arrays import DatasetArrays
from emobench.datamodules.base import EmotionDataModule
from emobench.datamodules.errors import DatasetFormatError
from emobench.datamodules.physio import features as feats
from emobench.datamodules.physio import targets as targets_lib
from emobench.datamodules.physio.recording import (
    PhysioModality,
    Stream,
    SubjectRecording,
    SubjectSource,
    TrialRecording,
)
from emobench.datamodules.physio.subject_cache import load_subject, save_subject, subject_cache_path
from emobench.datamodules.specs import ModalitySpec, TaskSpec

log = logging.getLogger(__name__)
FEATURE_MODES = ("handcrafted", "raw")
#: progress(source, cached): called once per subject by `prepare` (cached: features were already on disk).
Progress = Callable[[SubjectSource, bool], None]


class PhysioDataModule(EmotionDataModule):
    """Trial-based physiological dataset: samples are segments of `segment_seconds` 1-s windows of one trial, each
    carrying its trial, subject (group) and the trial's targets. Subclass with `name=` and implement
    `subject_sources()` and `read_subject()` (or `read_subjects()`), set `signal_modalities`, and either
    `rating_names` / `rating_scale` / `default_threshold` (rating targets) or override `targets`, `task_for_target`
    and `trial_targets`.

    Args:
        features: "handcrafted" (EEG differential entropy per band, statistics for other signals; see
            `datamodules.physio.features`) or "raw" (each window's samples, channels x rate values per step).
        segment_seconds: windows per sample; a trial gives floor(windows / segment_seconds) segments.
        baseline_removal: subtract the features of each trial's averaged baseline window (TorchEEG
            `apply_to_baseline=True` + `BaselineRemoval()`), for streams that have a baseline.
        target: distribution | binary | quadrant (`datamodules.physio.targets`), or the reader's own.
        binary_threshold: threshold of the binary and quadrant targets; None = the dataset's `default_threshold`.
        binary_operator: ">=" (high when rating >= threshold, TorchEEG) or ">".
        kernel_sigma: width of the Gaussian kernel of the distribution target (ratings rescaled to -1..1).
        use_dominance: use the dominance rating (where there is one) in the distribution target.
        **kwargs: EmotionDataModule options (root, protocol, fold, num_folds, ...).
    """

    default_protocol = "loso"
    default_normalize = True
    signal_modalities: ClassVar[tuple[PhysioModality, ...]] = ()
    rating_names: ClassVar[tuple[str, ...]] = ()
    rating_scale: ClassVar[tuple[float, float]] = (1.0, 9.0)
    default_threshold: ClassVar[float] = 5.0
    targets: ClassVar[tuple[str, ...]] = targets_lib.TARGETS
    #: Options that change the per-subject features (the rest only change segments and targets).
    signal_options: ClassVar[tuple[str, ...]] = ("features", "baseline_removal")
    #: Whether `prepare(workers=k)` may read subjects in separate processes (False where they share one file).
    subjects_in_parallel: ClassVar[bool] = True

    def __init__(self, features: str = "handcrafted", segment_seconds: int = 10, baseline_removal: bool = True,
                 target: str = "distribution", binary_threshold: float | None = None, binary_operator: str = ">=",
                 kernel_sigma: float = targets_lib.DEFAULT_SIGMA, use_dominance: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if features not in FEATURE_MODES:
            raise ValueError(f"<features={features!r}> must be one of {list(FEATURE_MODES)}.")
        if int(segment_seconds) != segment_seconds or segment_seconds < 1:
            raise ValueError(f"<segment_seconds={segment_seconds}> must be a whole number >= 1.")
        if target not in self.targets:
            raise ValueError(f"<target={target!r}> must be one of {list(self.targets)} for {self.dataset_name}.")
        if binary_operator not in targets_lib.OPERATORS:
            raise ValueError(f"<binary_operator={binary_operator!r}> must be one of "
                             f"{list(targets_lib.OPERATORS)}.")
        if kernel_sigma <= 0:
            raise ValueError(f"<kernel_sigma={kernel_sigma}> must be > 0.")
        self.features = features
        self.segment_seconds = int(segment_seconds)
        self.baseline_removal = baseline_removal
        self.target = target
        self.binary_threshold = self.default_threshold if binary_threshold is None else float(binary_threshold)
        self.binary_operator = binary_operator
        self.kernel_sigma = kernel_sigma
        self.use_dominance = use_dominance

    # ---- to implement in readers ----------------------------------------------------------------------------
    def subject_sources(self) -> list[SubjectSource]:
        """Every subject found under `root` (cheap: no signal is read); raises DatasetNotFoundError if none."""
        raise NotImplementedError

    def read_subject(self, source: SubjectSource) -> SubjectRecording:
        """One subject's trials, signals as (channels, samples) per stream."""
        raise NotImplementedError

    def read_subjects(self, sources: Iterable[SubjectSource]) -> Iterator[SubjectRecording]:
        """The recordings of `sources`, one at a time (override where subjects share one file)."""
        for source in sources:
            yield self.read_subject(source)

    def physio_modalities(self) -> tuple[PhysioModality, ...]:
        """The modalities under the current options (default `signal_modalities`)."""
        return self.signal_modalities

    def task_for_target(self) -> TaskSpec:
        return targets_lib.task_spec(self.target, self.rating_names)

    def trial_targets(self, ratings: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Targets of each trial from its (T, R) ratings and (T,) labels."""
        return targets_lib.rating_targets(self.target, ratings, self.rating_names, self.rating_scale,
                                          self.binary_threshold, self.binary_operator, self.kernel_sigma,
                                          self.use_dominance)

    # ---- EmotionDataModule ----------------------------------------------------------------------------------
    def describe(self) -> tuple[TaskSpec, tuple[ModalitySpec, ...]]:
        raw = self.features == "raw"
        return self.task_for_target(), tuple(m.spec(self.segment_seconds, raw) for m in self.physio_modalities())

    def source_files(self) -> list[Path]:
        return sorted({f for source in self.subject_sources() for f in source.files})

    @property
    def num_folds(self) -> int:
        """As the base, but loso and subject-dependent count the subjects found on disk, without reading them (so
        a sweep can list its cells before any feature is computed)."""
        if self.protocol == "loso":
            return len(self.subject_sources())
        if self.protocol == "subject-dependent":
            return len(self.subject_sources()) * self._num_folds
        return super().num_folds

    def read(self) -> DatasetArrays:
        paths = self.prepare()
        return self._assemble([(source, self._load_subject(paths[source])) for source in paths])

    # ---- features and their cache ---------------------------------------------------------------------------
    def prepare(self, progress: Progress | None = None, workers: int = 1) -> dict[SubjectSource, Path]:
        """Compute and cache the features of every subject that has none cached yet, in `workers` processes
        where the reader's subjects are independent files (`subjects_in_parallel`); returns each subject's cache
        file, subjects in the order of their numbers."""
        sources = sorted(self.subject_sources(), key=lambda s: s.number)
        paths = {source: self.subject_cache_path(source) for source in sources}
        todo = [source for source in sources if not paths[source].is_file()]
        for source in sources:
            if source not in todo and progress is not None:
                progress(source, True)
        if workers > 1 and self.subjects_in_parallel and len(todo) > 1:
            with ProcessPoolExecutor(max_workers=min(workers, len(todo))) as pool:
                futures = {pool.submit(_prepare_subject, self, source, paths[source]): source for source in todo}
                for future in as_completed(futures):
                    future.result()
                    if progress is not None:
                        progress(futures[future], False)
            return paths
        for recording in self.read_subjects(todo):
            save_subject(paths[recording.source], self.subject_features(recording))
            if progress is not None:
                progress(recording.source, False)
        return paths

    def subject_cache_path(self, source: SubjectSource) -> Path:
        options = {k: self.hparams[k] for k in self.signal_options}
        options["modalities"] = [repr(m) for m in self.physio_modalities()]
        return subject_cache_path(self.cache_dir / f"{self.dataset_name}-subjects", type(self).__name__,
                                  self.reader_version, options, source)

    def _load_subject(self, path: Path) -> dict[str, np.ndarray]:
        arrays = load_subject(path)
        if arrays is None:  # removed or unreadable since prepare(): compute it again
            path.unlink(missing_ok=True)
            self.prepare()
            arrays = load_subject(path)
        if arrays is None:
            raise DatasetFormatError(f"{path}: the feature cache could not be written or read back. Make sure the "
                                     "cache folder (cache_dir / $EMOBENCH_CACHE_DIR) is writable and not full.")
        return arrays

    def subject_features(self, recording: SubjectRecording) -> dict[str, np.ndarray]:
        """Window features of one subject: `x.<modality>` (windows, features) float32, `m.<modality>` (windows,)
        bool, `window_trial` (windows,) index into the trials, and per trial `trial_numbers`, `ratings`, `labels`."""
        trials = recording.trials
        modalities = self.physio_modalities()
        if not trials:
            raise DatasetFormatError(f"{_where(recording.source)}: subject {recording.source.name} has no trials. "
                                     "Make sure the file is the original, complete download.")
        for trial in trials:
            _check_trial(recording.source, trial, modalities, len(self.rating_names))
        ratings = np.array([np.asarray(t.ratings, dtype=np.float64).reshape(-1) for t in trials])
        counts = np.array([_window_count(t, modalities) for t in trials])
        window_trial = np.repeat(np.arange(len(trials)), counts)
        out = {"window_trial": window_trial.astype(np.int32),
               "trial_numbers": np.array([t.number for t in trials], dtype=np.int64),
               "ratings": ratings.reshape(len(trials), ratings.shape[-1] if ratings.ndim == 2 else 0),
               "labels": np.array([t.label for t in trials], dtype=np.int64)}
        for modality in modalities:
            parts, mask = [], np.ones(len(window_trial), dtype=bool)
            for stream in modality.streams:
                x, present = self._stream_features(recording.source, trials, counts, window_trial, stream)
                parts.append(x)
                mask &= present
            x = np.concatenate(parts, axis=1).astype(np.float32)
            x[~mask] = 0.0
            out[f"x.{modality.name}"], out[f"m.{modality.name}"] = x, mask
        return out

    def _stream_features(self, source: SubjectSource, trials: list[TrialRecording], counts: np.ndarray,
                         window_trial: np.ndarray, stream: Stream) -> tuple[np.ndarray, np.ndarray]:
        """(windows, features) float64 of one stream over all trials at once, and which windows hold data."""
        raw = self.features == "raw"
        starts = np.concatenate([[0], np.cumsum(counts)])
        windows = np.empty((int(starts[-1]), len(stream.channels), stream.rate))
        present = np.zeros(len(windows), dtype=bool)
        for i, trial in enumerate(trials):
            signal = trial.signals.get(stream.name)
            if signal is None:
                windows[starts[i]:starts[i + 1]] = 0.0
                continue
            n = min(int(counts[i]), signal.shape[1] // stream.rate)
            windows[starts[i]:starts[i] + n] = feats.to_windows(signal, stream.rate, n)
            windows[starts[i] + n:starts[i + 1]] = 0.0
            present[starts[i]:starts[i] + n] = True
        if present.all():  # no copy of the windows
            x = feats.stream_features(windows, stream, raw)
        else:
            x = np.zeros((len(windows), stream.feature_dim(raw)))
            if present.any():
                x[present] = feats.stream_features(windows[present], stream, raw)
        with_baseline = [stream.name in t.baselines for t in trials if stream.name in t.signals]
        if self.baseline_removal and any(with_baseline):
            if not all(with_baseline):
                raise DatasetFormatError(f"{_where(source)}: subject {source.name} has a {stream.name} baseline for "
                                         "some trials but not for others. Make sure the file is the original.")
            templates = np.stack([feats.baseline_template(t.baselines[stream.name], stream.rate)
                                  if stream.name in t.baselines else np.zeros((len(stream.channels), stream.rate))
                                  for t in trials])
            x[present] = feats.remove_baseline(x[present], templates, window_trial[present], stream, raw)
        return x, present

    # ---- segments and targets -------------------------------------------------------------------------------
    def _assemble(self, subjects: list[tuple[SubjectSource, dict[str, np.ndarray]]]) -> DatasetArrays:
        seg = self.segment_seconds
        names = [m.name for m in self.physio_modalities()]
        rows: list[np.ndarray] = []        # window indices of every segment, per subject
        trial_ids, groups, ids, per_trial = [], [], [], []
        next_trial, skipped = 0, 0
        for source, arrays in subjects:
            window_trial = arrays["window_trial"]
            counts = np.bincount(window_trial, minlength=len(arrays["trial_numbers"]))
            starts = np.concatenate([[0], np.cumsum(counts)])
            segments = counts // seg
            skipped += int((segments == 0).sum())
            index = [np.arange(starts[t], starts[t] + segments[t] * seg) for t in range(len(counts))]
            rows.append(np.concatenate(index) if index else np.zeros(0, dtype=np.int64))
            targets = self.trial_targets(arrays["ratings"], arrays["labels"])
            per_trial.append(np.repeat(targets, segments, axis=0))
            trial_ids.append(np.repeat(np.arange(next_trial, next_trial + len(counts)), segments))
            groups.append(np.full(int(segments.sum()), source.number, dtype=np.int64))
            ids.extend(f"{source.name}-trial{number:02d}-seg{j:03d}"
                       for number, k in zip(arrays["trial_numbers"].tolist(), segments.tolist(), strict=True)
                       for j in range(k))
            next_trial += len(counts)
        if skipped:
            log.warning("%s: %d trial(s) shorter than segment_seconds=%d were left out", self.dataset_name,
                        skipped, seg)
        if not ids:
            raise DatasetFormatError(f"{self.dataset_name}: no trial is at least segment_seconds={seg} s long, so "
                                     "there are no samples. Make sure segment_seconds fits the recordings.")
        inputs, masks = {}, {}
        for name in names:
            parts = [arrays[f"x.{name}"][r] for r, (_, arrays) in zip(rows, subjects, strict=True)]
            x = np.concatenate(parts)
            inputs[name] = x.reshape(-1, seg, x.shape[-1])
            mask = np.concatenate([arrays[f"m.{name}"][r] for r, (_, arrays) in zip(rows, subjects, strict=True)])
            masks[name] = mask.reshape(-1, seg)
        return DatasetArrays(inputs=inputs, masks=masks, target=np.concatenate(per_trial),
                             groups=np.concatenate(groups), ids=np.array(ids), trials=np.concatenate(trial_ids))


def _prepare_subject(datamodule: PhysioDataModule, source: SubjectSource, path: Path) -> None:
    """One subject's features into its cache file (in a worker process of `prepare`)."""
    save_subject(path, datamodule.subject_features(datamodule.read_subject(source)))


def _where(source: SubjectSource) -> str:
    return ", ".join(str(f) for f in source.files) or source.name


def _window_count(trial: TrialRecording, modalities: tuple[PhysioModality, ...]) -> int:
    """Whole 1-s windows of the trial: the shortest of its required streams."""
    return min(trial.signals[s.name].shape[1] // s.rate for m in modalities for s in m.streams if not s.optional)


def _check_trial(source: SubjectSource, trial: TrialRecording, modalities: tuple[PhysioModality, ...],
                 num_ratings: int) -> None:
    """Every required stream is present as (channels, samples) with the declared channel count."""
    def fail(what: str) -> None:
        raise DatasetFormatError(f"{_where(source)}: subject {source.name}, trial {trial.number}: {what}. Make sure "
                                 "the file is the original, complete download.")

    for stream in (s for m in modalities for s in m.streams):
        for kind, arrays in (("signal", trial.signals), ("baseline", trial.baselines)):
            if stream.name not in arrays:
                if kind == "signal" and not stream.optional:
                    fail(f"no {stream.name} signal")
                continue
            x = arrays[stream.name]
            if x.ndim != 2 or x.shape[0] != len(stream.channels):
                fail(f"the {stream.name} {kind} has shape {x.shape}, expected ({len(stream.channels)}, samples)")
            if kind == "signal" and not stream.optional and x.shape[1] < stream.rate:
                fail(f"the {stream.name} signal has {x.shape[1]} samples, less than one 1-s window ({stream.rate})")
    if num_ratings and np.asarray(trial.ratings).shape != (num_ratings,):
        fail(f"{np.asarray(trial.ratings).shape} ratings, expected {num_ratings}")
