"""PhysioDataModule (datamodules/physio/base.py) through a toy reader: streams at several rates, an optional stream,
baselines, segments, groups/trials/ids, masks, targets, the per-subject cache and its reuse, reader errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emobench.datamodules.errors import DatasetFormatError
from emobench.datamodules.physio import (
    PhysioDataModule,
    PhysioModality,
    Stream,
    SubjectRecording,
    SubjectSource,
    features,
    targets,
)
from emobench.datamodules.physio import base as physio_base
from emobench.datamodules.physio.recording import TrialRecording

EEG = Stream("eeg", ("c1", "c2"), 16, "de", bands=((1.0, 3.0), (3.0, 6.0)))
GSR = Stream("gsr", ("gsr",), 4, "stats")
FACE = Stream("face", ("f1", "f2"), 1, "raw", optional=True)
SECONDS = (5, 7, 4)  # trial lengths: 2, 3 and 2 segments of 2 s
SUBJECTS = (4, 1, 2)


class ToyPhysio(PhysioDataModule, name="toy-physio"):
    signal_modalities = (PhysioModality("eeg", "eeg", (EEG,)), PhysioModality("physio", "physio", (GSR,)),
                         PhysioModality("face", "face", (FACE,)))
    rating_names = ("valence", "arousal")
    rating_scale = (1.0, 5.0)
    default_threshold = 3.0

    def subject_sources(self) -> list[SubjectSource]:
        return [SubjectSource(int(p.stem[1:]), p.stem, (p,)) for p in sorted(self.root.glob("t*.npz"))]

    def read_subject(self, source: SubjectSource) -> SubjectRecording:
        data = np.load(source.files[0])
        trials = []
        for t in range(len(SECONDS)):
            signals = {"eeg": data[f"eeg{t}"], "gsr": data[f"gsr{t}"]}
            if f"face{t}" in data:
                signals["face"] = data[f"face{t}"]
            trials.append(TrialRecording(t + 1, signals, {"eeg": data[f"beeg{t}"], "gsr": data[f"bgsr{t}"]},
                                         data["ratings"][t]))
        return SubjectRecording(source, trials)


def write_toy(root: Path, eeg_channels: int = 2) -> dict[int, dict[str, np.ndarray]]:
    root.mkdir(parents=True, exist_ok=True)
    written = {}
    for number in SUBJECTS:
        rng = np.random.default_rng(number)
        arrays = {"ratings": np.array([[1.0, 5.0], [3.0, 3.0], [5.0, 1.0]])}
        for t, seconds in enumerate(SECONDS):
            arrays[f"eeg{t}"] = rng.normal(size=(eeg_channels, 16 * seconds + 5))  # 5 samples past the last window
            arrays[f"gsr{t}"] = rng.normal(size=(1, 4 * seconds))
            arrays[f"beeg{t}"], arrays[f"bgsr{t}"] = rng.normal(size=(eeg_channels, 48)), rng.normal(size=(1, 12))
            if (number, t) != (1, 1):  # subject 1 has no face features for its second trial
                arrays[f"face{t}"] = rng.normal(size=(2, seconds))
        np.savez(root / f"t{number:02d}.npz", **arrays)
        written[number] = arrays
    return written


@pytest.fixture
def toy(tmp_path):
    return tmp_path / "toy", write_toy(tmp_path / "toy")


def _make(root: Path, tmp_path: Path, **kwargs) -> ToyPhysio:
    return ToyPhysio(**{"root": str(root), "cache_dir": str(tmp_path / "cache"), "segment_seconds": 2,
                        "batch_size": 4, **kwargs})


def test_segments_carry_subject_trial_and_targets(toy, tmp_path):
    root, written = toy
    dm = _make(root, tmp_path)
    task, specs = dm.describe()
    assert [(s.name, s.dim, s.seq_len, s.group) for s in specs] == [
        ("eeg", 4, 2, "physiological"), ("physio", 5, 2, "physiological"), ("face", 2, 2, "behavioral")]
    arrays = dm.arrays
    per_subject = sum(s // 2 for s in SECONDS)
    assert len(arrays) == 3 * per_subject
    assert arrays.groups.tolist() == [1] * per_subject + [2] * per_subject + [4] * per_subject  # sorted by number
    assert len(np.unique(arrays.trials)) == 9
    assert arrays.ids[:3].tolist() == ["t01-trial01-seg000", "t01-trial01-seg001", "t01-trial02-seg000"]
    expected = targets.rating_targets("distribution", written[1]["ratings"], ("valence", "arousal"), (1, 5), 3.0)
    np.testing.assert_allclose(arrays.target[[0, 2, 5]], expected, rtol=1e-6)
    np.testing.assert_allclose(arrays.target.sum(axis=1), 1.0, rtol=1e-5)


def test_features_are_the_trials_windows_minus_their_baseline(toy, tmp_path):
    root, written = toy
    arrays = _make(root, tmp_path).arrays
    data = written[2]
    row = per_subject = sum(s // 2 for s in SECONDS)  # first segment of subject 2's trial 1
    gsr = data["gsr0"][0, 4:8]  # its second window
    base = data["bgsr0"][0].reshape(3, 4).mean(axis=0)
    expected = [gsr.mean() - base.mean(), gsr.std() - base.std(), gsr.min() - base.min(), gsr.max() - base.max(),
                np.abs(np.diff(gsr)).mean() - np.abs(np.diff(base)).mean()]
    np.testing.assert_allclose(arrays.inputs["physio"][row, 1], expected, rtol=1e-5, atol=1e-6)
    eeg = features.to_windows(data["eeg1"], 16, 7)[2:4]  # subject 2, trial 2, segment 1
    template = features.baseline_template(data["beeg1"], 16)[None]
    de = features.differential_entropy(eeg, 16, EEG.bands) - features.differential_entropy(template, 16, EEG.bands)
    np.testing.assert_allclose(arrays.inputs["eeg"][per_subject + 3], de.reshape(2, 4), rtol=1e-5)
    assert arrays.inputs["eeg"].dtype == np.float32


def test_optional_stream_is_masked_where_missing(toy, tmp_path):
    root, written = toy
    arrays = _make(root, tmp_path).arrays
    trial2 = [i for i, name in enumerate(arrays.ids) if name.startswith("t01-trial02")]
    assert not arrays.masks["face"][trial2].any() and (arrays.inputs["face"][trial2] == 0).all()
    assert arrays.masks["face"].sum() == arrays.masks["face"].size - 2 * len(trial2)
    np.testing.assert_allclose(arrays.inputs["face"][0], written[1]["face0"][:, :2].T, rtol=1e-6)
    assert arrays.masks["eeg"].all()


def test_raw_features_keep_each_window_without_baseline_removal(toy, tmp_path):
    root, written = toy
    dm = _make(root, tmp_path, features="raw", baseline_removal=False)
    assert [s.dim for s in dm.modalities] == [2 * 16, 4, 2]
    np.testing.assert_allclose(dm.arrays.inputs["eeg"][0, 1], written[1]["eeg0"][:, 16:32].reshape(-1), rtol=1e-6)


def test_features_are_cached_per_subject_and_reused(toy, tmp_path, monkeypatch):
    root, _ = toy
    calls = []
    assert _make(root, tmp_path).prepare(lambda s, cached: calls.append((s.number, cached)))
    assert calls == [(1, False), (2, False), (4, False)]
    first = _make(root, tmp_path)
    first.setup()

    def refuse(*args, **kwargs):
        raise AssertionError("features recomputed")

    monkeypatch.setattr(physio_base.feats, "stream_features", refuse)
    again = _make(root, tmp_path)
    again.setup()  # the whole-dataset cache
    np.testing.assert_array_equal(again.arrays.inputs["eeg"], first.arrays.inputs["eeg"])
    other_target = _make(root, tmp_path, target="quadrant", segment_seconds=3)
    other_target.setup()  # new segments and targets from the per-subject caches, no feature computed
    assert other_target.task.kind == "multiclass" and other_target.arrays.inputs["eeg"].shape[1] == 3
    calls.clear()
    other_target.prepare(lambda s, cached: calls.append(cached))
    assert calls == [True, True, True]
    with pytest.raises(AssertionError, match="recomputed"):  # other signal options do compute
        _make(root, tmp_path, baseline_removal=False).setup()
    (root / "t04.npz").touch()  # a changed file (mtime) invalidates its subject only
    with pytest.raises(AssertionError, match="recomputed"):
        _make(root, tmp_path).setup()


def test_subject_dependent_protocol_over_segments(toy, tmp_path):
    root, _ = toy
    dm = _make(root, tmp_path, protocol="subject-dependent", num_folds=3, val_fraction=0.1)
    assert dm.num_folds == 3 * 3
    arrays = dm.arrays
    for fold in range(dm.num_folds):
        rows = _make(root, tmp_path, protocol="subject-dependent", num_folds=3, fold=fold).split_rows()
        assert len(set(arrays.groups[np.concatenate(list(rows.values()))])) == 1
        assert not set(arrays.trials[rows["test"]]) & set(arrays.trials[np.r_[rows["train"], rows["valid"]]])


def test_reader_errors_name_the_file(tmp_path):
    root = tmp_path / "bad"
    write_toy(root, eeg_channels=3)
    with pytest.raises(DatasetFormatError, match=r"t01\.npz.*subject t01, trial 1.*eeg signal has shape \(3, 85\)"):
        _ = _make(root, tmp_path).arrays
    with pytest.raises(ValueError, match="target"):
        _make(root, tmp_path, target="condition")
    with pytest.raises(ValueError, match="features"):
        _make(root, tmp_path, features="psd")
