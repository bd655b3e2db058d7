"""WESAD reader (datamodules/wesad.py, datamodules/wesad_quest.py) on generated subject folders in the exact format:
Python-2 pickles with every label code, quest.csv with CRLF and PANAS rows of 24 and 26 values; modalities, label
mapping, the 10-s trimming and the alignment of all rates, the PANAS distribution, every fold's membership, cache
reuse and errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from emobench.datamodules import DATAMODULES, safe_pickle
from emobench.datamodules import wesad_quest as quest_lib
from emobench.datamodules.errors import DatasetFormatError, DatasetNotFoundError, UnsafePickleError
from emobench.datamodules.physio import base as physio_base
from tests.fixtures import write_python2_pickle
from tests.fixtures.hostile_files import touch_payload
from tests.fixtures.wesad_files import (
    SCHEDULE_A,
    SCHEDULE_B,
    quest_lines,
    stretch,
    wesad_subject,
    write_wesad,
    write_wesad_subject,
)

EDA, WRIST_EDA = 0, 27  # physio features: chest EDA mean, wrist EDA mean (after 15 chest, 7 EMG, 5 BVP values)


@pytest.fixture(scope="module")
def wesad(tmp_path_factory):
    root = tmp_path_factory.mktemp("wesad")
    return root, write_wesad(root)


def make(root, tmp_path, **kwargs):
    return DATAMODULES.get("wesad")(**{"root": str(root), "cache_dir": str(tmp_path / "cache"),
                                       "segment_seconds": 2, "block_seconds": 4, "batch_size": 8, **kwargs})


def window_seconds(arrays, ids_prefix: str, feature: int = EDA, offset: float = 699 / 1400) -> list[int]:
    """The pickle-clock second of every window of the samples whose id starts with `ids_prefix`."""
    rows = [i for i, name in enumerate(arrays.ids) if name.startswith(ids_prefix)]
    means = arrays.inputs["physio"][rows][:, :, feature].reshape(-1)
    return sorted(np.round(means - offset).astype(int).tolist())


def test_fixture_is_a_python2_pickle_that_the_restricted_unpickler_reads(wesad):
    root, written = wesad
    path = root / "WESAD" / "S3" / "S3.pkl"
    with pytest.raises(UnicodeDecodeError), path.open("rb") as file:
        pickle.load(file)  # as with the real S2.pkl: 'ascii' codec can't decode byte ...
    content = safe_pickle.load(path)
    assert content["subject"] == "S3" and set(content["signal"]) == {"chest", "wrist"}
    assert content["signal"]["chest"]["Temp"].dtype == np.float32 and content["label"].dtype == np.int32
    assert content["signal"]["chest"]["ACC"].shape == (len(content["label"]), 3)
    np.testing.assert_array_equal(content["signal"]["wrist"]["BVP"], written[3]["content"]["signal"]["wrist"]["BVP"])
    assert set(np.unique(content["label"]).tolist()) == set(range(8))  # every code, reading blocks included


@pytest.mark.parametrize("protocol", [0, 1])
def test_every_python2_pickle_protocol_is_read(protocol, tmp_path):
    """The release's pickle protocol is not documented: Python 2's default (0, text) and 1 load as 2 does."""
    content = wesad_subject(SCHEDULE_B, 2.0)
    path = write_wesad_subject(tmp_path / "WESAD", 3, content, protocol=protocol)
    assert path.read_bytes()[:2] != b"\x80\x02"  # no protocol-2 header
    with pytest.raises(UnicodeDecodeError), path.open("rb") as file:
        pickle.load(file)
    arrays = make(tmp_path, tmp_path).arrays
    loaded = safe_pickle.load(path)
    np.testing.assert_array_equal(loaded["signal"]["chest"]["ECG"], content["signal"]["chest"]["ECG"])
    assert loaded["signal"]["chest"]["Temp"].dtype == np.float32 and set(arrays.target.tolist()) == {0, 1, 2}


def test_questionnaire_layout_times_and_both_panas_lengths(wesad):
    root, written = wesad
    path = root / "WESAD" / "S2" / "S2_quest.csv"
    raw = path.read_bytes()
    assert raw.endswith(b"\r\n") and raw.count(b"\r\n") == raw.count(b"\n")
    assert all(line.count(b";") == 26 for line in raw.split(b"\r\n")[:-1])
    panas_lines = [line for line in raw.decode().split("\r\n") if line.startswith("# PANAS")]
    assert sorted(len([v for v in line.split(";")[1:] if v]) for line in panas_lines) == [24, 24, 24, 24, 26]
    quest = quest_lib.read_questionnaire(path)
    assert quest.order == tuple(s[0] for s in SCHEDULE_A)
    np.testing.assert_array_equal(quest.start, [s[1] for s in SCHEDULE_A])  # '1.1' is 70 s, '2.3' 150 s
    np.testing.assert_array_equal(quest.end, [s[2] for s in SCHEDULE_A])
    np.testing.assert_array_equal(quest.panas, written[2]["panas"])  # the 26-value TSST row lost Angry, Irritated
    assert [(quest.order[i], row) for i, row in quest.rated()] == [("Base", 0), ("TSST", 1), ("Medi 1", 2),
                                                                   ("Fun", 3), ("Medi 2", 4)]


@pytest.mark.parametrize(("token", "seconds"), [("7.08", 428), ("50.3", 3030), ("28", 1680), ("0.59", 59)])
def test_minutes_seconds(token, seconds):
    assert quest_lib.parse_minutes_seconds(token) == seconds


@pytest.mark.parametrize("token", ["7.60", "7.085", "a.1", "", "-1.2"])
def test_bad_minutes_seconds(token):
    with pytest.raises(ValueError):
        quest_lib.parse_minutes_seconds(token)


def test_modalities_and_condition_labels(wesad, tmp_path):
    root, written = wesad
    dm = make(root, tmp_path, segment_seconds=1, block_seconds=None)
    assert dm.protocol == "loso" and dm.task.kind == "multiclass"
    assert dm.task.labels == ("baseline", "stress", "amusement")
    assert [(s.name, s.dim, s.seq_len, s.kind, s.group) for s in dm.modalities] == [
        ("ecg", 5, 1, "ecg", "physiological"), ("physio", 37, 1, "physio", "physiological"),
        ("motion", 30, 1, "motion", "behavioral")]
    arrays = dm.arrays
    assert [p.name for p in dm.source_files()] == ["S2.pkl", "S2_quest.csv", "S3.pkl", "S3_quest.csv", "S4.pkl",
                                                   "S4_quest.csv"]
    assert sorted(np.unique(arrays.groups).tolist()) == [2, 3, 4]
    second = arrays.inputs["physio"][:, 0, EDA] - 699 / 1400
    for number, info in written.items():
        rows = arrays.groups == number
        for label, name in enumerate(("Base", "TSST", "Fun")):
            lo, hi = stretch(info["schedule"], name, info["offset"])
            inside = rows & (second >= lo - 1) & (second < hi)
            assert inside.any() and (arrays.target[inside] == label).all()
        assert set(arrays.target[rows].tolist()) == {0, 1, 2}  # codes 0, 4, 5, 6, 7 give no samples
    with_meditation = make(root, tmp_path, meditation=True)
    assert with_meditation.task.labels[-1] == "meditation" and (with_meditation.arrays.target == 3).any()


@pytest.mark.parametrize("number", [2, 3])
def test_stretches_are_the_questionnaire_intervals_shortened_by_10_s_on_every_clock(wesad, tmp_path, number):
    root, written = wesad
    info = written[number]
    arrays = make(root, tmp_path, segment_seconds=1, block_seconds=None, meditation=True).arrays
    trials = iter(range(1, 6))
    for name, _, _ in sorted((s for s in info["schedule"] if "Read" not in s[0]), key=lambda s: s[1]):
        lo, hi = stretch(info["schedule"], name, info["offset"])  # fractional: the crop offset is 3.5 s for S2
        expected = list(range(int(np.ceil(lo)), int(np.floor(hi))))
        prefix = f"S{number}-trial{next(trials):02d}-"
        assert window_seconds(arrays, prefix) == expected, name
        assert window_seconds(arrays, prefix, WRIST_EDA, 0.375) == expected, name  # 4 Hz wrist, same seconds


def test_labels_over_whole_intervals_are_cut_and_without_questionnaire_used_as_they_are(tmp_path):
    panas = np.full((5, 24), 2)
    for trim in (True, False):
        folder = tmp_path / ("trimmed" if trim else "whole")
        write_wesad_subject(folder, 2, wesad_subject(SCHEDULE_A, 3.5, trim=trim), quest_lines(2, SCHEDULE_A, panas))
        write_wesad_subject(folder / "no-quest", 2, wesad_subject(SCHEDULE_A, 3.5, trim=trim))
    seconds = {}
    for name in ("trimmed", "whole", "trimmed/no-quest", "whole/no-quest"):
        dm = make(tmp_path / name, tmp_path / name, segment_seconds=1, block_seconds=None)
        seconds[name] = window_seconds(dm.arrays, "S2-trial01-")  # the baseline
    assert seconds["trimmed"] == seconds["whole"] == seconds["trimmed/no-quest"] == list(range(15, 22))
    assert seconds["whole/no-quest"] == list(range(5, 32))  # no questionnaire: the label runs, 10 s longer each side


def test_disagreeing_label_array_and_questionnaire_name_both_files(tmp_path):
    content = wesad_subject(SCHEDULE_B, 2.0)
    content["label"][content["label"] == 3] = 0  # no amusement run, but the questionnaire has Fun
    write_wesad_subject(tmp_path / "missing", 3, content, quest_lines(3, SCHEDULE_B, np.full((5, 24), 2)))
    with pytest.raises(DatasetFormatError, match=r"S3\.pkl and .*S3_quest\.csv disagree: the label array has 0 "
                                                 r"run\(s\) of code 3, the questionnaire 1 \(\['Fun'\]\)"):
        _ = make(tmp_path / "missing", tmp_path).arrays
    shifted = [(name, a + 30, b + 30) if name == "TSST" else (name, a, b) for name, a, b in SCHEDULE_A]
    write_wesad_subject(tmp_path / "clock", 2, wesad_subject(SCHEDULE_A, 3.5),
                        quest_lines(2, tuple(shifted), np.full((5, 24), 2)))
    with pytest.raises(DatasetFormatError, match=r"disagree: condition TSST is \+30\.0 s off the clock offset"):
        _ = make(tmp_path / "clock", tmp_path).arrays


def test_distribution_target_from_each_conditions_panas_row(wesad, tmp_path):
    root, written = wesad
    dm = make(root, tmp_path, target="distribution")
    assert dm.task.kind == "distribution" and dm.task.labels == quest_lib.EMOTIONS and len(dm.task.labels) == 24
    arrays = dm.arrays
    assert (arrays.target >= 0).all()
    np.testing.assert_allclose(arrays.target.sum(axis=1), 1.0, rtol=1e-6)
    condition = make(root, tmp_path).arrays.target
    for number in (2, 3):
        order = [s[0] for s in (SCHEDULE_A if number == 2 else SCHEDULE_B) if "Read" not in s[0]]
        for label, name in enumerate(("Base", "TSST", "Fun")):
            rows = (arrays.groups == number) & (condition == label)
            ratings = written[number]["panas"][order.index(name)]
            np.testing.assert_allclose(arrays.target[rows], np.tile((ratings - 1) / (ratings - 1).sum(),
                                                                     (rows.sum(), 1)), rtol=1e-6)


def test_panas_distribution_recipe():
    ratings = np.array([[1] * 22 + [5, 3], [1] * 24])
    expected = np.zeros(24)
    expected[22], expected[23] = 4 / 6, 2 / 6  # happy 5, sad 3: rating - 1, normalised
    np.testing.assert_allclose(quest_lib.panas_distribution(ratings), [expected, np.full(24, 1 / 24)], rtol=1e-6)


def test_distribution_without_a_questionnaire_names_it(wesad, tmp_path):
    root = tmp_path / "data"
    write_wesad_subject(root, 2, wesad_subject(SCHEDULE_A), quest_lines(2, SCHEDULE_A, np.full((5, 24), 2)))
    write_wesad_subject(root, 3, wesad_subject(SCHEDULE_B, 2.0))
    with pytest.raises(DatasetNotFoundError, match=r"target 'distribution' .*S3_quest\.csv is missing.*uni-siegen"):
        _ = make(root, tmp_path, target="distribution").arrays
    assert len(make(root, tmp_path).arrays) > 0  # the condition target needs no questionnaire


def test_loso_folds_hold_out_each_subject_in_order(wesad, tmp_path):
    root, _ = wesad
    dm = make(root, tmp_path)
    assert dm.num_folds == 3
    arrays = dm.arrays
    for fold, subject in enumerate((2, 3, 4)):
        rows = make(root, tmp_path, fold=fold).split_rows()
        assert set(arrays.groups[rows["test"]]) == {subject}
        for part in ("train", "valid"):
            assert subject not in set(arrays.groups[rows[part]])
        assert set(arrays.groups[rows["valid"]]).isdisjoint(arrays.groups[rows["train"]])


def test_subject_dependent_folds_split_each_subjects_blocks(wesad, tmp_path):
    root, _ = wesad
    dm = make(root, tmp_path, protocol="subject-dependent", num_folds=2, target="distribution")
    assert dm.num_folds == 3 * 2
    arrays = dm.arrays
    tested = []
    for fold in range(dm.num_folds):
        rows = make(root, tmp_path, protocol="subject-dependent", num_folds=2, fold=fold,
                    target="distribution").split_rows()
        assert set(arrays.groups[np.concatenate(list(rows.values()))]) == {(2, 3, 4)[fold // 2]}
        for part in ("train", "valid"):
            assert rows[part].size and not set(arrays.trials[rows[part]]) & set(arrays.trials[rows["test"]])
        tested.extend(rows["test"].tolist())
    assert sorted(tested) == list(range(len(arrays)))


def test_second_setup_reads_the_cache(wesad, tmp_path, monkeypatch):
    root, _ = wesad
    make(root, tmp_path).setup()
    calls = {"load": 0}
    load = safe_pickle.load

    def counted(*args, **kwargs):
        calls["load"] += 1
        return load(*args, **kwargs)

    def refuse(*args, **kwargs):
        raise AssertionError("features recomputed")

    monkeypatch.setattr("emobench.datamodules.wesad.safe_pickle.load", counted)
    monkeypatch.setattr(physio_base.feats, "stream_features", refuse)
    make(root, tmp_path).setup()  # same options: the whole-dataset cache
    make(root, tmp_path, target="distribution", segment_seconds=4).setup()  # the per-subject feature caches
    assert calls["load"] == 0
    with pytest.raises(AssertionError, match="recomputed"):
        make(root, tmp_path, block_seconds=2).setup()  # other trials: features computed again
    assert calls["load"] == 1


def test_block_seconds_must_hold_whole_segments(wesad, tmp_path):
    with pytest.raises(ValueError, match=r"<block_seconds=5> must be None or a whole multiple of <segment_seconds=2>"):
        make(wesad[0], tmp_path, block_seconds=5)


def test_missing_files_say_how_to_obtain_wesad(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"does not exist.*ubi29\.informatik\.uni-siegen\.de"):
        _ = make(tmp_path / "nowhere", tmp_path).arrays
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match=r"no S<k>/ subject folder .*S2/S2\.pkl.*non-commercial"):
        _ = make(tmp_path / "empty", tmp_path).arrays
    (tmp_path / "partial" / "WESAD" / "S5").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError, match=r"S5/S5\.pkl not found"):
        _ = make(tmp_path / "partial", tmp_path).arrays


@pytest.mark.parametrize("case", ["corrupt", "no_wrist", "ecg_shape", "label_length", "code", "wrist_length",
                                  "panas", "hostile"])
def test_bad_files_give_one_paragraph_naming_the_file(case, tmp_path):
    root = tmp_path / "bad"
    content = wesad_subject(SCHEDULE_A, 3.5)
    lines = quest_lines(2, SCHEDULE_A, np.full((5, 24), 2))
    chest, wrist = content["signal"]["chest"], content["signal"]["wrist"]
    error, match = DatasetFormatError, None
    if case == "no_wrist":
        del content["signal"]["wrist"]
        match = r"S2\.pkl: 'signal' has no dict 'wrist' \(it holds \['chest'\]\)"
    elif case == "ecg_shape":
        chest["ECG"] = np.repeat(chest["ECG"], 2, axis=1)
        match = r"S2\.pkl: 'signal'\['chest'\]\['ECG'\] is float64 of shape \(\d+, 2\), expected \(samples, 1\)"
    elif case == "label_length":
        content["label"] = content["label"][:-700]
        match = r"S2\.pkl: 'signal'\['chest'\]\['ACC'\] has \d+ samples, 'label' \d+"
    elif case == "code":
        content["label"][5] = 9
        match = r"S2\.pkl: 'label' holds codes \[9\] besides 0-7"
    elif case == "wrist_length":
        wrist["BVP"] = wrist["BVP"][: len(wrist["BVP"]) // 2]
        match = r"'signal'\['wrist'\]\['BVP'\] lasts 78\.00 s at 64 Hz, the label array 156\.00 s"
    elif case == "panas":
        lines[5] = ";".join(["# PANAS"] + ["2"] * 20 + [""] * 6)
        match = r"S2_quest\.csv: line 6 \(# PANAS\) has 20 values, expected 24 or 26"
    path = write_wesad_subject(root / "WESAD", 2, content, lines)
    if case == "corrupt":
        path.write_bytes(path.read_bytes()[:100_000])
        match = r"S2\.pkl .*truncated or corrupt"
    if case == "hostile":
        with path.open("wb") as file:
            pickle.dump({"signal": touch_payload(tmp_path / "ran"), "label": np.zeros(3)}, file, protocol=2)
        error, match = UnsafePickleError, r"S2\.pkl.*refers to the global"
    with pytest.raises(error, match=match):
        _ = make(root, tmp_path).arrays
    assert not (tmp_path / "ran").exists()


def test_readme_key_spelling_and_bytes_keys_are_read(tmp_path):
    """The readme writes the chest keys RESP and TEMP (the files: Resp, Temp); byte-string keys decode to str."""
    content = wesad_subject(SCHEDULE_A, 3.5)
    chest = content["signal"]["chest"]
    chest["RESP"], chest["TEMP"] = chest.pop("Resp"), chest.pop("Temp")
    path = tmp_path / "WESAD" / "S2" / "S2.pkl"
    path.parent.mkdir(parents=True)
    as_bytes = {b"signal": {b"chest": {k.encode(): v for k, v in chest.items()},
                            b"wrist": {k.encode(): v for k, v in content["signal"]["wrist"].items()}},
                b"label": content["label"], b"subject": b"S2"}
    write_python2_pickle(as_bytes, path)
    arrays = make(tmp_path, tmp_path).arrays
    assert len(arrays) > 0 and np.isfinite(arrays.inputs["physio"]).all()
