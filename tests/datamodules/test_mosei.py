"""CMU-MOSEI reader: TAILOR/CARAT's aligned `.pt` and the MulT unaligned pickle through the full datamodule into
batches, label ids read from the file, every error path, the cache, and the refused unaligned pairings."""

from __future__ import annotations

import logging
import os
import pickle

import numpy as np
import pytest
import torch

from emobench.datamodules import DATAMODULES
from emobench.datamodules.errors import DatasetFormatError, DatasetNotFoundError, UnsafePickleError
from emobench.datamodules.mosei import LABELS, MoseiDataModule
from emobench.datamodules.validate import NonFiniteFeaturesWarning
from tests.fixtures.mosei_files import FILE_LABEL_ORDER, SPLITS, write_mosei_pt, write_mosei_unaligned_pkl

# With normalize=False the base turns the read-only memory-mapped cache into tensors directly, which torch warns
# about (reported to the lead: datamodules/base.py setup()); the values are only read here.
pytestmark = pytest.mark.filterwarnings("ignore:The given NumPy array is not writable")

CMU_ORDER = ("happy", "sad", "anger", "surprise", "disgust", "fear")


def _expected_target(tokens: list[int], order: tuple[str, ...] = FILE_LABEL_ORDER) -> np.ndarray:
    """Multi-hot in the reader's column order (LABELS) from tokens numbered in the file's `order`."""
    y = np.zeros(len(LABELS), np.float32)
    for token in tokens[1:-1]:
        y[LABELS.index(order[token - 4])] = 1
    return y


def _datamodule(tmp_path, **kwargs) -> MoseiDataModule:
    kwargs.setdefault("cache_dir", str(tmp_path / "cache"))
    return DATAMODULES.get("mosei")(root=str(tmp_path / "mosei"), **kwargs)


def _all_batches(dm, split: str):
    loader = {"train": dm.train_dataloader, "valid": dm.val_dataloader, "test": dm.test_dataloader}[split]()
    return list(loader)


def _resave(path, change) -> None:
    """Load our own fixture (trusted), change it, save it again."""
    data = torch.load(path, weights_only=False)
    change(data)
    torch.save(data, path)


@pytest.mark.parametrize("stacked", [False, True])
def test_aligned_file_through_the_datamodule(tmp_path, stacked, caplog):
    written = write_mosei_pt(tmp_path / "mosei", stacked=stacked)
    dm = _datamodule(tmp_path, normalize=False, batch_size=3)
    with caplog.at_level(logging.INFO, logger="emobench.datamodules.mosei"):
        dm.setup()
    assert "audio (train_valid_test.pt): replaced 9 -inf values by 0" in caplog.text, "3 per split, logged"
    assert dm.split_sizes() == {"train": 4, "valid": 2, "test": 2}
    assert dm.task.kind == "multilabel" and dm.task.labels == CMU_ORDER
    for split in SPLITS:
        batches = _all_batches(dm, split)
        order = torch.cat([b.index for b in batches]).argsort()
        target = torch.cat([b.target for b in batches])[order]
        expected = np.stack([_expected_target(t) for t in written[split]["tgt"]])
        np.testing.assert_array_equal(target.numpy(), expected)
        for modality, key in (("text", "src-text"), ("audio", "src-audio"), ("visual", "src-visual")):
            x = torch.cat([b.inputs[modality] for b in batches])[order]
            m = torch.cat([b.masks[modality] for b in batches])[order]
            assert x.shape == (len(expected), 60, {"text": 300, "audio": 74, "visual": 35}[modality])
            assert x.dtype == torch.float32 and m.dtype == torch.bool and bool(m.all()), "masks are all ones"
            values = written[split][key]
            np.testing.assert_array_equal(x.numpy(), np.where(np.isfinite(values), values, 0.0))
    train = _all_batches(dm, "train")
    assert torch.isfinite(torch.cat([b.inputs["audio"] for b in train])).all()
    empty = [i for i, t in enumerate(written["train"]["tgt"]) if t == [2, 3]]
    assert empty and (dm.arrays.target[empty] == 0).all(), "[2, 3] gives an all-zero target"
    assert (dm.arrays.target.sum(1) >= 2).any(), "a sample with two or more emotions"


def test_label_ids_are_read_from_the_files_vocabulary(tmp_path):
    write_mosei_pt(tmp_path / "a" / "mosei", order=CMU_ORDER)
    write_mosei_pt(tmp_path / "b" / "mosei", order=FILE_LABEL_ORDER)
    cmu = _datamodule(tmp_path / "a").arrays
    mmesgn = _datamodule(tmp_path / "b").arrays
    row = 4 + 1  # valid sample 1 has tokens [2, 6, 7, 3]: token 7 is surprise in one file, disgust in the other
    assert [LABELS[j] for j in np.flatnonzero(cmu.target[row])] == ["anger", "surprise"]
    assert [LABELS[j] for j in np.flatnonzero(mmesgn.target[row])] == ["anger", "disgust"]


def test_normalised_batches_are_standardised_on_train(tmp_path):
    write_mosei_pt(tmp_path / "mosei", sizes=(12, 3, 3))
    dm = _datamodule(tmp_path, batch_size=64, normalize=True)  # MOSEI is fed raw by default, as officially
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    text = batch.inputs["text"].reshape(-1, 300)
    torch.testing.assert_close(text.mean(0), torch.zeros(300), atol=1e-4, rtol=0)
    assert dm.label_statistics().cooccurrence.shape == (6, 6)


def test_unaligned_features_with_aligned_labels(tmp_path):
    written_pt = write_mosei_pt(tmp_path / "mosei")
    written = write_mosei_unaligned_pkl(tmp_path / "mosei")
    dm = _datamodule(tmp_path, aligned=False, normalize=False, batch_size=8)
    assert {m.name: m.seq_len for m in dm.modalities} == {"text": 50, "audio": 500, "visual": 500}
    dm.setup()
    batch = next(iter(dm.test_dataloader()))
    assert batch.inputs["audio"].shape == (2, 500, 74) and batch.masks["visual"].shape == (2, 500)
    np.testing.assert_array_equal(batch.inputs["visual"].numpy(), written["test"]["vision"])
    audio = written["test"]["audio"]
    np.testing.assert_array_equal(batch.inputs["audio"].numpy(), np.where(np.isfinite(audio), audio, 0.0))
    np.testing.assert_array_equal(batch.target.numpy(), np.stack([_expected_target(t)
                                                                  for t in written_pt["test"]["tgt"]]))
    assert batch.ids == ["vid0003_0.0_4.5", "vid0003_5.0_9.5"]
    assert dm.arrays.groups.tolist() == [0, 0, 1, 1, 2, 2, 3, 3], "groups are the video ids"


def test_unaligned_split_sizes_must_match(tmp_path):
    write_mosei_pt(tmp_path / "mosei", sizes=(4, 2, 2))
    write_mosei_unaligned_pkl(tmp_path / "mosei", sizes=(4, 2, 3))
    with pytest.raises(DatasetFormatError, match=r"disagree on the split sizes.*\[4, 2, 3\].*\[4, 2, 2\]"):
        _datamodule(tmp_path, aligned=False).setup()


def test_unaligned_ids_must_match_where_both_files_have_them(tmp_path):
    write_mosei_pt(tmp_path / "mosei", with_ids=True)
    path = tmp_path / "mosei" / "mosei_senti_data_noalign.pkl"
    written = write_mosei_unaligned_pkl(tmp_path / "mosei")
    assert len(_datamodule(tmp_path, aligned=False).arrays) == 8  # same ids: accepted
    written["valid"]["id"] = written["valid"]["id"][::-1].copy()
    path.write_bytes(pickle.dumps(written, protocol=4))
    with pytest.raises(DatasetFormatError, match=r"different sample ids \(first difference at row 4"):
        _datamodule(tmp_path, aligned=False, cache_dir=str(tmp_path / "cache2")).setup()


def test_second_setup_uses_the_cache(tmp_path, monkeypatch):
    write_mosei_pt(tmp_path / "mosei")
    calls = []
    original = MoseiDataModule.read

    def counting_read(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(MoseiDataModule, "read", counting_read)
    first = _datamodule(tmp_path)
    first.setup()
    second = _datamodule(tmp_path)
    second.setup()
    assert len(calls) == 1
    np.testing.assert_array_equal(first.arrays.inputs["audio"], second.arrays.inputs["audio"])
    np.testing.assert_array_equal(first.arrays.target, second.arrays.target)
    assert [p for p in (tmp_path / "cache").iterdir() if p.name.startswith("mosei-")]
    os.utime(tmp_path / "mosei" / "train_valid_test.pt", ns=(1, 1))
    _datamodule(tmp_path).setup()
    assert len(calls) == 2, "a changed file is read again"


def test_missing_root_and_files_name_what_to_get(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"no root folder given.*train_valid_test\.pt.*TAILOR"):
        DATAMODULES.get("mosei")(cache_dir=str(tmp_path / "cache")).setup()
    with pytest.raises(DatasetNotFoundError, match=r"root folder .*mosei does not exist.*train_valid_test\.pt"):
        _datamodule(tmp_path).setup()
    write_mosei_pt(tmp_path / "mosei")
    with pytest.raises(DatasetNotFoundError, match=r"mosei_senti_data_noalign\.pkl not found in .*train_valid_test"):
        _datamodule(tmp_path, aligned=False).setup()


def test_truncated_file_is_a_format_error(tmp_path):
    write_mosei_pt(tmp_path / "mosei")
    path = tmp_path / "mosei" / "train_valid_test.pt"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DatasetFormatError, match=r"train_valid_test\.pt \(\d+ bytes\).*truncated or corrupt"):
        _datamodule(tmp_path).setup()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["valid"].pop("src-audio"), r"split 'valid' has no key\(s\) \['src-audio'\]"),
        (lambda d: d.pop("dict"), r"top-level dict has no key\(s\) \['dict'\]"),
        (lambda d: d["test"].__setitem__("src-audio", [np.zeros((60, 73), np.float32)] * 2),
         r"test/src-audio\[0\] has shape \(60, 73\), expected \(60, 74\)"),
        (lambda d: d["train"].__setitem__("src-text", d["train"]["src-text"][:3]),
         r"train/src-text has 3 samples but its split has 4 label rows"),
        (lambda d: d["dict"]["tgt"].__setitem__("joy", d["dict"]["tgt"].pop("happy")) or
         d["dict"]["tgt"].__setitem__("boredom", d["dict"]["tgt"].pop("sad")), r"does not name each of the emotions"),
        (lambda d: d["train"]["tgt"].__setitem__(1, [2, 12, 3]), r"train/tgt\[1\] = \[2, 12, 3\] holds token 12"),
        (lambda d: d["train"]["tgt"].__setitem__(1, [2, 4.7, 3]), r"train/tgt\[1\]\[1\] is 4\.7, which is not a whole "
                                                                  r"number"),
        (lambda d: d["dict"]["tgt"].__setitem__("fear", 9.5), r"dict\['tgt'\]\['fear'\] is 9\.5, which is not a whole"),
    ],
)
def test_wrong_content_is_a_one_paragraph_error(tmp_path, change, message):
    write_mosei_pt(tmp_path / "mosei")
    _resave(tmp_path / "mosei" / "train_valid_test.pt", change)
    with pytest.raises(DatasetFormatError, match=rf"train_valid_test\.pt: .*{message}"):
        _datamodule(tmp_path).setup()
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir()), "no cache left behind"


def test_unsafe_file_is_refused_through_the_datamodule(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch '{marker}'",)

    (tmp_path / "mosei").mkdir()
    torch.save({"train": Payload()}, tmp_path / "mosei" / "train_valid_test.pt")
    with pytest.raises(UnsafePickleError, match=r"train_valid_test\.pt"):
        _datamodule(tmp_path).setup()
    assert not marker.exists()


def test_non_finite_features_are_an_error_naming_file_split_and_modality(tmp_path):
    write_mosei_pt(tmp_path / "mosei", visual_nan=True)
    with pytest.raises(DatasetFormatError, match=r"train_valid_test\.pt: the visual features hold 3 non-finite or "
                                                 r"out-of-range values \(train 1, valid 1, test 1; in 3 of 8 rows; "
                                                 r"NaN 3\).*Make sure.*nonfinite='zero'"):
        _datamodule(tmp_path).setup()
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir()), "no cache left behind"


def test_nonfinite_zero_replaces_them_with_a_warning_and_keys_the_cache(tmp_path):
    written = write_mosei_pt(tmp_path / "mosei", visual_nan=True)
    with pytest.warns(NonFiniteFeaturesWarning, match=r"train_valid_test\.pt: replaced 3 non-finite or out-of-range "
                                                      r"values of the visual features by 0 \(train 1, valid 1, test 1; in 3"):
        arrays = _datamodule(tmp_path, nonfinite="zero").arrays
    visual = np.concatenate([written[s]["src-visual"] for s in SPLITS])
    np.testing.assert_array_equal(arrays.inputs["visual"], np.where(np.isnan(visual), 0.0, visual))
    with pytest.raises(DatasetFormatError, match=r"visual features hold 3"):
        _datamodule(tmp_path).setup()  # same cache folder: the "zero" arrays are not reused for "error"
    with pytest.raises(ValueError, match=r"<nonfinite='drop'> must be one of \['error', 'zero'\]"):
        _datamodule(tmp_path, nonfinite="drop")


@pytest.mark.parametrize(
    ("key", "value", "found"),
    [("src-audio", np.nan, r"NaN 1"), ("src-audio", np.inf, r"\+inf 1"), ("src-text", -np.inf, r"-inf 1"),
     ("src-text", 3e38, r"\|x\| > 1e\+18 1"), ("src-visual", -1e39, r"-inf 1")],
    ids=["audio NaN", "audio +inf", "text -inf", "finite but huge", "float64 beyond float32"],
)
def test_only_audio_minus_inf_is_exempt(tmp_path, key, value, found):
    write_mosei_pt(tmp_path / "mosei")

    def change(data):
        x = np.stack(data["test"][key]).astype(np.float64)
        x[1, 4, 0] = value
        data["test"][key] = list(x)

    _resave(tmp_path / "mosei" / "train_valid_test.pt", change)
    modality = key.removeprefix("src-")
    with pytest.raises(DatasetFormatError, match=rf"the {modality} features hold 1 non-finite or out-of-range values "
                                                 rf"\(test 1; in 1 of 8 rows; {found}\)"):
        _datamodule(tmp_path).setup()


def test_unaligned_non_finite_features_name_the_pickle(tmp_path):
    write_mosei_pt(tmp_path / "mosei")
    written = write_mosei_unaligned_pkl(tmp_path / "mosei")
    written["valid"]["vision"][0, 3, 3] = np.nan
    (tmp_path / "mosei" / "mosei_senti_data_noalign.pkl").write_bytes(pickle.dumps(written, protocol=4))
    with pytest.raises(DatasetFormatError, match=r"mosei_senti_data_noalign\.pkl: the visual features hold 1 .*"
                                                 r"valid 1; in 1 of 8 rows; NaN 1"):
        _datamodule(tmp_path, aligned=False).setup()
