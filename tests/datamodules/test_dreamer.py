"""DREAMER reader (datamodules/dreamer.py) on a generated DREAMER.mat in the exact layout (savemat; full-length
baselines, stimuli of different lengths): every scipy struct mode, features against TorchEEG written out,
segments, targets, folds, the cache (which never reopens the file), and errors (v7.3, corrupt, missing fields)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import scipy.io

from emobench.datamodules import DATAMODULES
from emobench.datamodules import dreamer as dreamer_module
from emobench.datamodules.errors import DatasetFormatError, DatasetNotFoundError
from emobench.datamodules.physio import SubjectSource, targets
from emobench.datamodules.physio import base as physio_base
from tests.fixtures import torcheeg_reference
from tests.fixtures.dreamer_files import dreamer_struct, dreamer_subject, write_dreamer

SEGMENTS = (2, 3, 3)  # stimuli of 5, 6 and 7 s in 2-s segments


@pytest.fixture(scope="module")
def dreamer(tmp_path_factory):
    root = tmp_path_factory.mktemp("dreamer")
    return root, write_dreamer(root)


def make(root, tmp_path, **kwargs):
    return DATAMODULES.get("dreamer")(**{"root": str(root), "cache_dir": str(tmp_path / "cache"),
                                         "segment_seconds": 2, "batch_size": 8, **kwargs})


@pytest.mark.parametrize("mode", [{}, {"struct_as_record": False, "squeeze_me": True}, {"simplify_cells": True},
                                  {"struct_as_record": False}])
def test_every_scipy_struct_mode_gives_the_same_recording(dreamer, tmp_path, mode):
    root, content = dreamer
    path = root / "DREAMER.mat"
    subjects = dreamer_module.parse_dreamer(path, scipy.io.loadmat(path, **mode))
    assert len(subjects) == 3
    source = SubjectSource(2, "subject02", (path,), part=1)
    recording = make(root, tmp_path).subject_recording(path, source, subjects[1])
    assert [t.number for t in recording.trials] == [1, 2, 3]
    trial = recording.trials[2]
    np.testing.assert_array_equal(trial.signals["eeg"], content[1]["EEG"]["stimuli"][2, 0].T)
    np.testing.assert_array_equal(trial.baselines["ecg"], content[1]["ECG"]["baseline"][2, 0].T)
    np.testing.assert_array_equal(trial.ratings, [content[1][k][2, 0] for k in dreamer_module.SCORES])


def test_segments_of_clips_of_different_lengths(dreamer, tmp_path):
    root, content = dreamer
    dm = make(root, tmp_path)
    assert [(s.name, s.dim, s.kind, s.group) for s in dm.modalities] == [("eeg", 56, "eeg", "physiological"),
                                                                         ("ecg", 10, "ecg", "physiological")]
    arrays = dm.arrays
    assert len(arrays) == 3 * sum(SEGMENTS)
    assert arrays.groups.tolist() == np.repeat([1, 2, 3], sum(SEGMENTS)).tolist()
    per_trial = np.unique(arrays.trials, return_counts=True)[1]
    assert per_trial.tolist() == list(SEGMENTS) * 3
    assert arrays.ids[[0, 2, 5]].tolist() == ["subject01-trial01-seg000", "subject01-trial02-seg000",
                                              "subject01-trial03-seg000"]
    scores = np.stack([content[0][k][:, 0] for k in dreamer_module.SCORES], axis=1)
    expected = targets.emotion_distribution(targets.rescale(scores, 1, 5))
    np.testing.assert_allclose(arrays.target[[0, 2, 5]], expected, rtol=1e-6)


def test_eeg_features_equal_torcheeg_with_61_baseline_chunks(dreamer, tmp_path):
    root, content = dreamer
    arrays = make(root, tmp_path).arrays
    for subject, trial in ((1, 1), (3, 3)):
        stimulus = content[subject - 1]["EEG"]["stimuli"][trial - 1, 0]
        baseline = content[subject - 1]["EEG"]["baseline"][trial - 1, 0]
        reference = torcheeg_reference.dreamer_trial(stimulus, baseline)  # (chunks, 14, 4), all whole chunks
        rows = [i for i, name in enumerate(arrays.ids) if name.startswith(f"subject{subject:02d}-trial{trial:02d}-")]
        used = 2 * len(rows)  # windows in whole 2-s segments
        np.testing.assert_allclose(arrays.inputs["eeg"][rows].reshape(used, 14, 4), reference[:used],
                                   rtol=1e-4, atol=1e-5)


def test_ecg_statistics_minus_baseline_and_last_seconds(dreamer, tmp_path):
    root, content = dreamer
    arrays = make(root, tmp_path, stimulus_seconds=4).arrays
    assert len(arrays) == 3 * 3 * 2
    stim = content[0]["ECG"]["stimuli"][1, 0][:, 0]  # subject 1, clip 2 (6 s): the last 4 s start at second 2
    base = content[0]["ECG"]["baseline"][1, 0][:, 0].reshape(61, 256).mean(axis=0)
    window = stim[2 * 256:3 * 256]
    np.testing.assert_allclose(arrays.inputs["ecg"][2, 0, :4], [window.mean() - base.mean(), window.std() - base.std(),
                                                                window.min() - base.min(), window.max() - base.max()],
                               rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize(("operator", "high"), [(">=", 1.0), (">", 0.0)])
def test_binary_target_at_the_threshold_of_three(dreamer, tmp_path, operator, high):
    root, content = dreamer
    dm = make(root, tmp_path, target="binary", binary_operator=operator)
    assert dm.task.labels == ("valence", "arousal", "dominance")
    y = dm.arrays.target
    assert content[0]["ScoreValence"][0, 0] == 3.0 and y[0, 0] == high


def test_loso_folds_and_cache_that_never_reopens_the_file(dreamer, tmp_path, monkeypatch):
    root, _ = dreamer
    arrays = make(root, tmp_path).arrays
    for fold in range(3):
        rows = make(root, tmp_path, fold=fold).split_rows()
        assert set(arrays.groups[rows["test"]]) == {fold + 1}
        for part in ("train", "valid"):
            assert not set(arrays.groups[rows[part]]) & {fold + 1}
            assert not set(arrays.trials[rows[part]]) & set(arrays.trials[rows["test"]])

    def refuse(*args, **kwargs):
        raise AssertionError("recomputed")

    monkeypatch.setattr(dreamer_module, "load_mat", refuse)
    monkeypatch.setattr(physio_base.feats, "stream_features", refuse)
    make(root, tmp_path, target="quadrant", segment_seconds=3).setup()  # subject count and features from the cache
    with pytest.raises(AssertionError, match="recomputed"):
        make(root, tmp_path, baseline_removal=False).setup()


def test_missing_file_says_how_to_obtain_dreamer(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match=r"DREAMER\.mat not found.*Zenodo record 546113"):
        _ = make(tmp_path / "empty", tmp_path).arrays


def test_matlab_v73_file_is_a_clear_error(tmp_path):
    root = tmp_path / "v73"
    root.mkdir()
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 HDF5 schema 1.00 ."
    header = text.ljust(116, b" ") + bytes(8) + struct.pack("<H", 0x0200) + b"IM"
    (root / "DREAMER.mat").write_bytes(header + bytes(384) + b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(NotImplementedError):  # what scipy itself makes of it
        scipy.io.loadmat(root / "DREAMER.mat")
    with pytest.raises(DatasetFormatError, match=r"DREAMER\.mat is a MATLAB v7\.3 \(HDF5\) file.*'-v7'"):
        _ = make(root, tmp_path).arrays


@pytest.mark.parametrize("case", ["truncated", "no_scores", "channels", "rate", "variable"])
def test_bad_files_name_the_file_and_what_was_found(case, dreamer, tmp_path):
    root = tmp_path / case
    root.mkdir()
    path = root / "DREAMER.mat"
    subjects = [dreamer_subject(trials=2, seed=s, first_seconds=2) for s in range(2)]
    matches = {"truncated": r"DREAMER\.mat \(20000 bytes\) could not be read as a MATLAB file",
               "no_scores": r"DREAMER\.Data\{2\} has no field 'ScoreArousal' \(fields: .*ScoreValence",
               "channels": r"DREAMER\.Data\{1\}\.EEG\.stimuli\{2\} is float64 of shape \(384, 13\), expected "
                           r"\(time, 14\)",
               "rate": r"DREAMER\.EEG_SamplingRate is 256, expected 128",
               "variable": r"holds the variable\(s\) \['dreamer'\], not DREAMER"}
    if case == "truncated":
        path.write_bytes((dreamer[0] / "DREAMER.mat").read_bytes()[:20000])
    else:
        if case == "no_scores":
            del subjects[1]["ScoreArousal"]
        if case == "channels":
            subjects[0]["EEG"]["stimuli"][1, 0] = subjects[0]["EEG"]["stimuli"][1, 0][:, :13]
        content = dreamer_struct(subjects)
        if case == "rate":
            content["EEG_SamplingRate"] = 256.0
        scipy.io.savemat(path, {"dreamer" if case == "variable" else "DREAMER": content}, do_compression=True)
    with pytest.raises(DatasetFormatError, match=matches[case]):
        _ = make(root, tmp_path).arrays
