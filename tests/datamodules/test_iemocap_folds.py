"""IEMOCAP leave-one-session-out on every layout and EVERY fold: fold k tests session k + 1 only, no test-session
utterance in train or validation, validation speakers unseen in training; layout detection and the errors that
say how to obtain IEMOCAP."""

from __future__ import annotations

import numpy as np
import pytest

from emobench.datamodules import DATAMODULES
from emobench.datamodules.errors import DatasetNotFoundError
from emobench.datamodules.iemocap_release import speakers_of
from emobench.datamodules.synthetic.twins import SyntheticIemocap
from tests.fixtures.iemocap_files import write_dialoguernn, write_foalnet, write_release

pytestmark = pytest.mark.filterwarnings("ignore:The given NumPy array is not writable")

WRITERS = {"raw": write_release, "foalnet": write_foalnet, "dialoguernn": write_dialoguernn}


def _dm(tmp_path, **kwargs):
    kwargs.setdefault("cache_dir", str(tmp_path / "cache"))
    kwargs.setdefault("root", str(tmp_path / "data"))
    return DATAMODULES.get("iemocap")(audio_steps=8, visual_steps=4, **kwargs)


@pytest.mark.parametrize("layout", list(WRITERS))
def test_every_fold_holds_out_exactly_one_session(tmp_path, layout):
    WRITERS[layout](tmp_path / "data")
    first = _dm(tmp_path)
    sessions = sorted(set(first.arrays.groups.tolist()))
    assert first.protocol == "loso" and first.num_folds == len(sessions) >= 2
    for fold in range(first.num_folds):
        dm = _dm(tmp_path, fold=fold)
        rows = dm.split_rows()
        ids = dm.arrays.ids
        session = {split: {int(i[4]) for i in ids[r]} for split, r in rows.items()}
        assert session["test"] == {sessions[fold]}, f"fold {fold} tests session {sessions[fold]} (sorted order)"
        assert sessions[fold] not in session["train"] | session["valid"], "no test-session row in train/valid"
        speakers = {split: set(speakers_of(ids[r]).tolist()) for split, r in rows.items()}
        assert speakers["valid"] and not speakers["valid"] & speakers["train"], "validation: held-out speakers"
        assert len(speakers["valid"]) == 1, "val_fraction 0.1 of the training speakers, at least one"
        assert sorted(np.concatenate(list(rows.values())).tolist()) == list(range(len(ids)))
        assert all((batch.subject == sessions[fold]).all() for batch in dm.test_dataloader())


def test_session_validation_holds_out_a_whole_training_session(tmp_path):
    write_dialoguernn(tmp_path / "data")
    for fold in range(3):
        dm = _dm(tmp_path, fold=fold, validation="session")
        groups = dm.arrays.groups
        rows = dm.split_rows()
        valid, train = set(groups[rows["valid"]].tolist()), set(groups[rows["train"]].tolist())
        assert len(valid) == 1 and not valid & train and fold + 1 not in valid | train


def test_several_layouts_need_a_choice(tmp_path):
    write_release(tmp_path / "data")
    write_foalnet(tmp_path / "data")
    with pytest.raises(DatasetNotFoundError, match=r"several layouts \(raw, foalnet\).*layout="):
        _dm(tmp_path).setup()
    dm = _dm(tmp_path, layout="foalnet")
    assert [m.name for m in dm.modalities] == ["audio", "visual"] and len(dm.arrays) == 12


def test_missing_data_says_what_is_expected_and_how_to_obtain_iemocap(tmp_path):
    for root in (None, str(tmp_path / "nowhere"), str(tmp_path)):
        with pytest.raises(DatasetNotFoundError) as err:
            _dm(tmp_path, root=root).setup()
        message = str(err.value)
        assert "sail.usc.edu" in message and "release form" in message
        assert "IEMOCAP_full_release" in message and "IEMOCAP_features.pkl" in message


def test_without_a_root_it_describes_foal_nets_inputs_like_the_twin():
    real = {m.name: (m.dim, m.kind) for m in DATAMODULES.get("iemocap")().modalities}
    twin = {m.name: (m.dim, m.kind) for m in SyntheticIemocap().modalities}
    assert real == twin and DATAMODULES.get("iemocap")().task == SyntheticIemocap().task
