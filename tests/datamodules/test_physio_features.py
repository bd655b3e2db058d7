"""Window features of datamodules/physio/features.py against references written out in the test: TorchEEG 1.1.3's
BandDifferentialEntropy(sampling_rate=128, apply_to_baseline=True) + BaselineRemoval() on DEAP-style 1-s chunks,
statistics, band power, raw windows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, lfilter

from emobench.datamodules.physio import features
from emobench.datamodules.physio.recording import Stream
from tests.fixtures import torcheeg_reference


def test_differential_entropy_with_baseline_removal_equals_torcheeg():
    rng = np.random.default_rng(0)
    trials = rng.normal(0, 20, size=(3, 40, 384 + 4 * 128)) + rng.normal(0, 5, size=(3, 40, 1))
    stream = Stream("eeg", tuple(f"c{i}" for i in range(32)), 128, "de")
    windows = np.concatenate([features.to_windows(t[:32, 384:], 128, 4) for t in trials])
    window_trial = np.repeat(np.arange(3), 4)
    templates = np.stack([features.baseline_template(t[:32, :384], 128) for t in trials])
    ours = features.remove_baseline(features.stream_features(windows, stream), templates, window_trial, stream)
    reference = np.concatenate([torcheeg_reference.deap_trial(t) for t in trials]).reshape(12, -1)  # (channel, band)
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=0)
    assert np.abs(ours).max() > 0.1  # the baseline did not cancel everything


def test_window_statistics_and_raw_windows():
    rng = np.random.default_rng(1)
    signal = rng.normal(size=(2, 4 * 7 + 3))  # 4 whole windows at 7 Hz and 3 samples left over
    windows = features.to_windows(signal, 7, 4)
    assert windows.shape == (4, 2, 7)
    np.testing.assert_array_equal(windows[2, 1], signal[1, 14:21])
    stats = features.window_statistics(windows)
    w = signal[1, 14:21]
    np.testing.assert_allclose(stats[2, 1], [w.mean(), w.std(), w.min(), w.max(), np.abs(np.diff(w)).mean()])
    stream = Stream("gsr", ("a", "b"), 7, "stats")
    np.testing.assert_allclose(features.stream_features(windows, stream)[2], stats[2].reshape(-1))
    raw = features.stream_features(windows, stream, raw=True)
    assert raw.shape == (4, 14)
    np.testing.assert_array_equal(raw[2], np.concatenate([signal[0, 14:21], signal[1, 14:21]]))


def test_stats_stream_appends_log_band_power():
    rng = np.random.default_rng(2)
    windows = rng.normal(size=(5, 3, 128))
    stream = Stream("emg", ("x", "y", "z"), 128, "stats", bands=((20.0, 45.0),))
    x = features.stream_features(windows, stream).reshape(5, 3, 6)
    b, a = butter(5, [20 / 64, 45 / 64], btype="band")
    np.testing.assert_allclose(x[:, :, 5], np.log(lfilter(b, a, windows, axis=-1).var(axis=-1)))
    assert stream.feature_dim(raw=False) == 18 and stream.feature_dim(raw=True) == 3 * 128


def test_baseline_template_averages_whole_windows_only():
    baseline = np.arange(2 * 10, dtype=float).reshape(2, 10)  # 3 windows of 3 samples and one sample left over
    np.testing.assert_array_equal(features.baseline_template(baseline, 3), (baseline[:, 0:3] + baseline[:, 3:6]
                                                                            + baseline[:, 6:9]) / 3)
    with pytest.raises(ValueError, match="no whole 1-s window"):
        features.baseline_template(baseline[:, :2], 3)


@pytest.mark.parametrize(("kwargs", "match"), [({"rate": 128.5}, "whole number"), ({"feature": "psd"}, "feature"),
                                               ({"bands": ((4.0, 70.0),)}, "half the")])
def test_stream_declaration_is_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Stream(**{"name": "eeg", "channels": ("a",), "rate": 128, "feature": "de", **kwargs})
