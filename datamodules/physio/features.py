"""Per-window features of physiological signals, vectorised over all windows of a subject (no per-window loops).

A stream's signal (channels, samples) is cut into non-overlapping 1-s windows of `rate` samples (`to_windows`).

- EEG: differential entropy per band, exactly TorchEEG 1.1.3's `BandDifferentialEntropy` (torcheeg/torcheeg
  v1.1.3, `torcheeg/transforms/numpy/band.py`): each window of each channel is filtered on its own (zero initial
  state) by `scipy.signal.lfilter` with the (b, a) of `scipy.signal.butter(5, [low, high] / (rate / 2),
  btype="band")`, and DE = 1/2 log2(2 pi e var(filtered)) with the population variance; bands theta 4-8, alpha
  8-14, beta 14-31, gamma 31-49 Hz; output (channels, bands) per window.
- Other signals: `STATISTICS` (mean, std, min, max, mean absolute first difference) per channel, then, for the
  bands a stream names, the log band power ln(var) of the window filtered as above.
- raw: the window's samples, (channels, samples) flattened channel-major.

Baseline removal (`remove_baseline`) follows TorchEEG's `apply_to_baseline=True` + `BaselineRemoval()`: the
baseline's whole 1-s windows are averaged into one window per trial (`baseline_template`; DEAP: the 3 pre-trial
seconds, DREAMER: the 61 s), that window goes through the same feature function, and its features are subtracted
from every window of the trial.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, lfilter

from emobench.datamodules.physio.recording import Stream

FILTER_ORDER = 5  # TorchEEG BandTransform default
_BLOCK_VALUES = 1 << 20  # windows are filtered in blocks of about this many samples (8 MiB of float64)


def to_windows(signal: np.ndarray, rate: int, count: int) -> np.ndarray:
    """The first `count` 1-s windows of `signal` (channels, samples) as a (count, channels, rate) view."""
    channels = signal.shape[0]
    return signal[:, : count * rate].reshape(channels, count, rate).transpose(1, 0, 2)


def baseline_template(baseline: np.ndarray, rate: int) -> np.ndarray:
    """The mean of the whole 1-s windows of `baseline` (channels, samples): one (channels, rate) window."""
    count = baseline.shape[1] // rate
    if count < 1:
        raise ValueError(f"a baseline of {baseline.shape[1]} samples holds no whole 1-s window of {rate} samples")
    return to_windows(baseline, rate, count).mean(axis=0)


def band_filter(low: float, high: float, rate: float, order: int = FILTER_ORDER) -> tuple[np.ndarray, np.ndarray]:
    """(b, a) of the Butterworth band-pass that TorchEEG's `butter_bandpass` designs."""
    nyquist = 0.5 * rate
    return butter(order, [low / nyquist, high / nyquist], btype="band")


def _band_variances(windows: np.ndarray, rate: int, bands: tuple[tuple[float, float], ...]) -> np.ndarray:
    """(N, C, B) population variance (as `np.var`) of each window filtered on its own by each band's filter."""
    n, channels, width = windows.shape
    out = np.empty((n, channels, len(bands)), dtype=np.float64)
    step = max(1, _BLOCK_VALUES // max(1, channels * width))
    filters = [band_filter(low, high, rate) for low, high in bands]
    for start in range(0, n, step):
        block = np.asarray(windows[start:start + step], dtype=np.float64)
        for j, (b, a) in enumerate(filters):
            y = lfilter(b, a, block, axis=-1)
            y -= y.mean(axis=-1, keepdims=True)
            out[start:start + step, :, j] = np.einsum("ncw,ncw->nc", y, y) / width
    return out


def differential_entropy(windows: np.ndarray, rate: int, bands: tuple[tuple[float, float], ...]) -> np.ndarray:
    """(N, C, B) differential entropy 1/2 log2(2 pi e var) of each band of each window (N, C, rate)."""
    with np.errstate(divide="ignore"):  # a flat window gives -inf, which the datamodule's `nonfinite` check reports
        return 0.5 * np.log2(2 * np.pi * np.e * _band_variances(windows, rate, bands))


def log_band_power(windows: np.ndarray, rate: int, bands: tuple[tuple[float, float], ...]) -> np.ndarray:
    """(N, C, B) natural log of the band-filtered window's variance (its mean power)."""
    with np.errstate(divide="ignore"):
        return np.log(_band_variances(windows, rate, bands))


def window_statistics(windows: np.ndarray) -> np.ndarray:
    """(N, C, 5) mean, std, min, max and mean absolute first difference of each window (N, C, W)."""
    x = np.asarray(windows, dtype=np.float64)
    diff = np.abs(np.diff(x, axis=-1)).mean(axis=-1) if x.shape[-1] > 1 else np.zeros(x.shape[:-1])
    return np.stack([x.mean(axis=-1), x.std(axis=-1), x.min(axis=-1), x.max(axis=-1), diff], axis=-1)


def stream_features(windows: np.ndarray, stream: Stream, raw: bool = False) -> np.ndarray:
    """(N, F) features of the windows (N, channels, rate) of `stream`, channel-major (channel, then feature)."""
    n = windows.shape[0]
    if raw or stream.feature == "raw":
        return np.asarray(windows, dtype=np.float64).reshape(n, -1)
    if stream.feature == "de":
        return differential_entropy(windows, stream.rate, stream.bands).reshape(n, -1)
    stats = window_statistics(windows)
    if stream.bands:
        stats = np.concatenate([stats, log_band_power(windows, stream.rate, stream.bands)], axis=-1)
    return stats.reshape(n, -1)


def remove_baseline(features: np.ndarray, templates: np.ndarray, window_trial: np.ndarray, stream: Stream,
                    raw: bool = False) -> np.ndarray:
    """`features` (N, F) of windows belonging to trials `window_trial` (N,) minus the features of each trial's
    baseline window `templates` (T, channels, rate) (TorchEEG `apply_to_baseline=True` + `BaselineRemoval()`)."""
    return features - stream_features(templates, stream, raw)[window_trial]
