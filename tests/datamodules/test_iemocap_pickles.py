"""IEMOCAP from MulT's pickles (fixed split, rows without exactly one emotion dropped, -inf audio zeroed, caps) and
from DialogueRNN's Python-2 pickle (6-class ids mapped, sessions from the dialogue ids), and their errors."""

from __future__ import annotations

import logging
import pickle

import numpy as np
import pytest

from emobench.datamodules import DATAMODULES
from emobench.datamodules.errors import DatasetFormatError
from tests.fixtures import write_python2_pickle
from tests.fixtures.iemocap_files import (
    DIALOGUERNN_LABELS,
    DIALOGUERNN_TEST,
    MULT_ROWS,
    write_dialoguernn,
    write_mult,
)

pytestmark = pytest.mark.filterwarnings("ignore:The given NumPy array is not writable")

MULT_NAMES = ("neutral", "happy", "sad", "angry")  # the label block's order
DIALOGUERNN_NAMES = ("happy", "sad", "neutral", "angry", "excited", "frustrated")


def _dm(tmp_path, name="iemocap", **kwargs):
    kwargs.setdefault("cache_dir", str(tmp_path / "cache"))
    return DATAMODULES.get(name)(root=str(tmp_path / "data"), **kwargs)


@pytest.mark.parametrize("aligned", [True, False])
def test_mult_keeps_rows_with_exactly_one_emotion_in_its_own_split(tmp_path, aligned, caplog):
    data = write_mult(tmp_path / "data", aligned=aligned)
    dm = _dm(tmp_path, aligned=aligned)
    with caplog.at_level(logging.INFO, logger="emobench.datamodules.iemocap_pickles"):
        dm.setup()
    assert "train: dropped 1 of 5 rows without exactly one" in caplog.text
    assert "valid: dropped 1 of 2 rows" in caplog.text
    assert dm.protocol == "official" and not dm.normalize
    steps = (20, 20, 20) if aligned else (20, 400, 500)
    assert {m.name: (m.dim, m.seq_len) for m in dm.modalities} == dict(zip(
        ("text", "audio", "visual"), zip((300, 74, 35), steps, strict=True), strict=True))
    expected, features = [], []
    for split, rows in MULT_ROWS.items():
        for i, row in enumerate(rows):
            if sum(row) == 1:
                expected.append((split, MULT_NAMES[row.index(1)]))
                features.append(data[split]["vision"][i])
    assert dm.split_sizes() == {s: sum(e[0] == s for e in expected) for s in MULT_ROWS}
    assert [dm.task.labels[t] for t in dm.arrays.target] == [e[1] for e in expected]
    visual, mask = dm.arrays.inputs["visual"], dm.arrays.masks["visual"]
    real = 20 if aligned else 40  # the fixture's unaligned vision has 40 steps, padded to 500
    for row, x in enumerate(features):
        np.testing.assert_array_equal(visual[row, :real], x)
        assert mask[row].sum() == real and not visual[row, real:].any()
    assert np.isfinite(dm.arrays.inputs["audio"]).all() and dm.arrays.inputs["audio"][0, 0, 0] == 0, "-inf -> 0"


def test_mult_with_utterance_ids_has_sessions(tmp_path):
    write_mult(tmp_path / "data", with_ids=True)
    dm = _dm(tmp_path)
    assert set(dm.arrays.groups.tolist()) == {1, 2}


def test_mult_refuses_a_wrong_label_block(tmp_path):
    data = write_mult(tmp_path / "data")
    data["valid"]["labels"] = data["valid"]["labels"][:, :, 0]
    with open(tmp_path / "data" / "iemocap_data.pkl", "wb") as file:
        pickle.dump(data, file)
    with pytest.raises(DatasetFormatError, match=r"iemocap_data.pkl: valid/labels has shape \(2, 4\)"):
        _dm(tmp_path).setup()


@pytest.mark.parametrize("name", ["iemocap", "iemocap-6"])
def test_dialoguernn_flattens_utterances_and_maps_its_six_classes(tmp_path, name):
    items = write_dialoguernn(tmp_path / "data")
    with pytest.raises(UnicodeDecodeError), open(tmp_path / "data" / "IEMOCAP_features.pkl", "rb") as file:
        pickle.load(file)  # the fixture really is a Python-2 pickle
    dm = _dm(tmp_path, name)
    four = {"happy": "happy", "excited": "happy", "neutral": "neutral", "sad": "sad", "angry": "angry"}
    expected = []
    for dialogue, labels in DIALOGUERNN_LABELS.items():
        for k, label in enumerate(labels):
            label_name = DIALOGUERNN_NAMES[label]
            if name == "iemocap-6" or label_name in four:
                target = label_name if name == "iemocap-6" else four[label_name]
                expected.append((items[0][dialogue][k], int(dialogue[4]), target, items[5][dialogue][k]))
    assert dm.arrays.ids.tolist() == [e[0] for e in expected]
    assert dm.arrays.groups.tolist() == [e[1] for e in expected]
    assert [dm.task.labels[t] for t in dm.arrays.target] == [e[2] for e in expected]
    np.testing.assert_allclose(dm.arrays.inputs["visual"][:, 0], np.array([e[3] for e in expected]), rtol=1e-6)
    assert dm.num_folds == 3
    last = DATAMODULES.get(name)(root=str(tmp_path / "data"), cache_dir=str(tmp_path / "cache"), fold=2)
    test_ids = last.arrays.ids[last.split_rows()["test"]].tolist()
    assert {i.rsplit("_", 1)[0] for i in test_ids} == set(DIALOGUERNN_TEST), "fold 2 = the file's test dialogues"


def test_dialoguernn_refuses_an_extended_tuple(tmp_path):
    items = write_dialoguernn(tmp_path / "data")
    write_python2_pickle((*items, {"extra": 1}), tmp_path / "data" / "IEMOCAP_features.pkl")
    with pytest.raises(DatasetFormatError, match="10 items, expected DialogueRNN's 9-item tuple"):
        _dm(tmp_path).setup()


def test_dialoguernn_refuses_labels_outside_its_map(tmp_path):
    items = list(write_dialoguernn(tmp_path / "data"))
    items[2] = {**items[2], "Ses01F_impro01": [2, 0, 4, 1, 7]}
    write_python2_pickle(tuple(items), tmp_path / "data" / "IEMOCAP_features.pkl")
    with pytest.raises(DatasetFormatError, match=r"videoLabels\['Ses01F_impro01'\] holds .*expected 0..5"):
        _dm(tmp_path).setup()
