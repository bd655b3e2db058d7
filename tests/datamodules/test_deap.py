"""DEAP reader (datamodules/deap.py) on generated `sNN.dat` files in the exact format: true Python-2 pickles,
a stray file in the folder, a rating of exactly 5.0; features against TorchEEG written out, baseline handling,
targets, every fold's membership, cache reuse, face features, errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from emobench.datamodules import DATAMODULES
from emobench.datamodules.errors import DatasetFormatError, DatasetNotFoundError, UnsafePickleError
from emobench.datamodules.physio import base as physio_base
from emobench.datamodules.physio import targets
from tests.fixtures import torcheeg_reference, write_python2_pickle
from tests.fixtures.deap_files import deap_subject, write_deap, write_deap_subject, write_face_features
from tests.fixtures.hostile_files import touch_payload

SEGMENTS_PER_TRIAL = 2  # 4-s stimuli in 2-s segments


@pytest.fixture(scope="module")
def deap(tmp_path_factory):
    root = tmp_path_factory.mktemp("deap") / "data_preprocessed_python"
    return root, write_deap(root)


def make(root, tmp_path, **kwargs):
    return DATAMODULES.get("deap")(**{"root": str(root), "cache_dir": str(tmp_path / "cache"),
                                      "segment_seconds": 2, "batch_size": 8, **kwargs})


def test_fixture_is_a_python2_pickle_with_byte_keys(deap):
    root, _ = deap
    with pytest.raises(UnicodeDecodeError), (root / "s01.dat").open("rb") as file:
        pickle.load(file)
    with (root / "s01.dat").open("rb") as file:
        assert set(pickle.load(file, encoding="bytes")) == {b"data", b"labels"}


def test_reads_every_subject_and_ignores_stray_files(deap, tmp_path):
    root, written = deap
    dm = make(root.parent, tmp_path)  # the folder above data_preprocessed_python works too
    task, specs = dm.describe()
    assert task.labels == targets.EMOTIONS
    assert [(s.name, s.dim, s.seq_len, s.kind, s.group) for s in specs] == [
        ("eeg", 128, 2, "eeg", "physiological"), ("physio", 20, 2, "physio", "physiological"),
        ("expression", 28, 2, "expression", "behavioral")]
    arrays = dm.arrays
    assert len(arrays) == 3 * 4 * SEGMENTS_PER_TRIAL
    assert arrays.groups.tolist() == np.repeat([1, 2, 3], 4 * SEGMENTS_PER_TRIAL).tolist()
    assert len(np.unique(arrays.trials)) == 12
    assert arrays.ids[[0, 2, -1]].tolist() == ["s01-trial01-seg000", "s01-trial02-seg000", "s03-trial04-seg001"]
    assert [p.name for p in dm.source_files()] == ["s01.dat", "s02.dat", "s03.dat"]
    assert (arrays.target >= 0).all()
    np.testing.assert_allclose(arrays.target.sum(axis=1), 1.0, rtol=1e-5)
    ratings = written[2]["labels"][1]  # subject 2, video 2
    expected = targets.emotion_distribution(targets.rescale(ratings[None, :3], 1, 9))
    np.testing.assert_allclose(arrays.target[8 + 2], expected[0], rtol=1e-6)


def test_eeg_features_equal_torcheeg_de_with_baseline_removal(deap, tmp_path):
    root, written = deap
    arrays = make(root, tmp_path).arrays
    for subject, video in ((1, 1), (3, 4)):
        reference = torcheeg_reference.deap_trial(written[subject]["data"][video - 1])  # (4 chunks, 32, 4)
        rows = [i for i, name in enumerate(arrays.ids) if name.startswith(f"s{subject:02d}-trial{video:02d}-")]
        ours = arrays.inputs["eeg"][rows].reshape(4, 32, 4)
        np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-5)  # float32 cache of values around 1-10


def test_baseline_removal_subtracts_the_baseline_features(deap, tmp_path):
    root, written = deap
    kept = make(root, tmp_path, baseline_removal=False).arrays
    removed = make(root, tmp_path).arrays
    trial = written[1]["data"][0]
    baseline = torcheeg_reference.band_differential_entropy(trial[:32, :384].reshape(32, 3, 128).mean(axis=1))
    np.testing.assert_allclose(kept.inputs["eeg"][0] - removed.inputs["eeg"][0],
                               np.tile(baseline.reshape(-1), (2, 1)), rtol=1e-4, atol=1e-4)
    gsr = trial[36, 384:384 + 128]  # raw GSR of the first window, statistics channel-major
    np.testing.assert_allclose(kept.inputs["physio"][0, 0, :4], [gsr.mean(), gsr.std(), gsr.min(), gsr.max()],
                               rtol=1e-5)


@pytest.mark.parametrize(("operator", "high"), [(">=", 1.0), (">", 0.0)])
def test_binary_and_quadrant_targets_with_the_tie_at_five(deap, tmp_path, operator, high):
    root, written = deap
    binary = make(root, tmp_path, target="binary", binary_operator=operator)
    assert binary.task.labels == ("valence", "arousal", "dominance", "liking")
    y = binary.arrays.target
    assert written[1]["labels"][0, 0] == 5.0 and y[0, 0] == high  # s01 video 1 valence is exactly 5.0
    np.testing.assert_array_equal(y[:8:2], targets.binarise(written[1]["labels"], 5.0, operator))
    quadrant = make(root, tmp_path, target="quadrant", binary_operator=operator).arrays.target
    v, a = written[1]["labels"][:, 0], written[1]["labels"][:, 1]
    np.testing.assert_array_equal(quadrant[:8:2], targets.quadrant(v, a, 5.0, operator))


def test_loso_folds_hold_out_one_subject_in_order_without_leakage(deap, tmp_path):
    root, _ = deap
    dm = make(root, tmp_path)
    assert dm.protocol == "loso" and dm.num_folds == 3
    arrays = dm.arrays
    for fold in range(3):
        rows = make(root, tmp_path, fold=fold).split_rows()
        assert set(arrays.groups[rows["test"]]) == {fold + 1}
        for part in ("train", "valid"):
            assert not set(arrays.groups[rows[part]]) & set(arrays.groups[rows["test"]])
            assert not set(arrays.trials[rows[part]]) & set(arrays.trials[rows["test"]])
        assert set(arrays.groups[rows["valid"]]).isdisjoint(arrays.groups[rows["train"]])


def test_subject_dependent_folds_split_each_subject_by_trial(deap, tmp_path):
    root, _ = deap
    dm = make(root, tmp_path, protocol="subject-dependent", num_folds=2)
    assert dm.num_folds == 3 * 2
    arrays = dm.arrays
    tested = []
    for fold in range(dm.num_folds):
        rows = make(root, tmp_path, protocol="subject-dependent", num_folds=2, fold=fold).split_rows()
        assert set(arrays.groups[np.concatenate(list(rows.values()))]) == {fold // 2 + 1}
        for part in ("train", "valid"):
            assert not set(arrays.trials[rows[part]]) & set(arrays.trials[rows["test"]])
        tested.extend(rows["test"].tolist())
    assert sorted(tested) == list(range(len(arrays)))


def test_second_setup_reads_the_cache(deap, tmp_path, monkeypatch):
    root, _ = deap
    make(root, tmp_path).setup()

    def refuse(*args, **kwargs):
        raise AssertionError("features recomputed")

    monkeypatch.setattr(physio_base.feats, "stream_features", refuse)
    monkeypatch.setattr("emobench.datamodules.deap.safe_pickle.load", refuse)
    make(root, tmp_path).setup()  # same options: the whole-dataset cache
    make(root, tmp_path, target="binary", segment_seconds=1).setup()  # per-subject feature caches
    with pytest.raises(AssertionError, match="recomputed"):
        make(root, tmp_path, features="raw").setup()


def test_face_features_join_presentation_order_and_mask_missing(deap, tmp_path):
    root, written = deap
    face = tmp_path / "face"
    features = write_face_features(face, {1: written[1], 2: written[2]}, skip=((2, 3),))  # no s03 at all
    dm = make(root, tmp_path, face_root=str(face))
    assert dm.modalities[-1].name == "face" and dm.modalities[-1].dim == 3 and dm.modalities[-1].group == "behavioral"
    arrays = dm.arrays
    rows = [i for i, name in enumerate(arrays.ids) if name.startswith("s02-trial02-")]
    expected = np.stack([features[(2, 2)][lo:hi].mean(axis=0) for lo, hi in ((0, 2), (2, 5), (5, 7), (7, 10))])
    np.testing.assert_allclose(arrays.inputs["face"][rows].reshape(4, 3), expected, rtol=1e-5)
    missing = [i for i, name in enumerate(arrays.ids) if name.startswith(("s02-trial03-", "s03-"))]
    assert not arrays.masks["face"][missing].any() and (arrays.inputs["face"][missing] == 0).all()
    assert arrays.masks["face"].sum() == (len(arrays) - len(missing)) * 2
    assert arrays.masks["eeg"].all()


def test_missing_or_empty_root_says_how_to_obtain_deap(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="EULA|End User Licence Agreement"):
        _ = make(tmp_path / "nowhere", tmp_path).arrays
    (tmp_path / "only_stray").mkdir()
    (tmp_path / "only_stray" / "s1.dat").write_bytes(b"x")
    with pytest.raises(DatasetNotFoundError, match=r"no sNN\.dat file.*s1\.dat.*End User Licence Agreement"):
        _ = make(tmp_path / "only_stray", tmp_path).arrays


@pytest.mark.parametrize("case", ["corrupt", "channels", "labels", "keys", "hostile"])
def test_bad_files_give_one_paragraph_naming_the_file(case, tmp_path):
    root = tmp_path / "bad"
    write_deap(root, subjects=(1,), stray=False)
    arrays = deap_subject(trials=2, seconds=2)
    path = root / "s02.dat"
    if case == "corrupt":
        path.write_bytes((root / "s01.dat").read_bytes()[:5000])
        error, match = DatasetFormatError, r"s02\.dat.*truncated or corrupt"
    elif case == "channels":
        write_deap_subject(path, {"data": arrays["data"][:, :39], "labels": arrays["labels"]})
        error, match = DatasetFormatError, r"s02\.dat: 'data' is float64 \(2, 39, 640\)"
    elif case == "labels":
        write_deap_subject(path, {"data": arrays["data"], "labels": arrays["labels"][:, :3]})
        error, match = DatasetFormatError, r"s02\.dat: 'labels' has shape \(2, 3\)"
    elif case == "keys":
        write_python2_pickle({b"data": arrays["data"]}, path)
        error, match = DatasetFormatError, r"s02\.dat: holds \['data'\], not a dict"
    else:
        with path.open("wb") as file:
            pickle.dump({"data": touch_payload(tmp_path / "ran")}, file, protocol=2)
        error, match = UnsafePickleError, r"s02\.dat.*refers to the global"
    with pytest.raises(error, match=match):
        _ = make(root, tmp_path).arrays
    assert not (tmp_path / "ran").exists()


def test_subject_protocols_count_folds_without_reading_signals(deap, tmp_path, monkeypatch):
    root, _ = deap

    def refuse(*args, **kwargs):
        raise AssertionError("signals read")

    monkeypatch.setattr("emobench.datamodules.deap.safe_pickle.load", refuse)
    assert make(root, tmp_path).num_folds == 3
    assert make(root, tmp_path, protocol="subject-dependent", num_folds=4).num_folds == 12
