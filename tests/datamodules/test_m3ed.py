"""M3ED reader: the official feature pickle (Python 3 and Python-2 style) and CARAT's `.pt` through the full
datamodule, dialogue- and utterance-level tasks, the un-swapped modalities, every error path and the cache."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from emobench.datamodules import DATAMODULES
from emobench.datamodules.errors import DatasetFormatError, DatasetNotFoundError
from emobench.datamodules.m3ed import LABELS, M3edDataModule
from emobench.datamodules.validate import NonFiniteFeaturesWarning
from tests.fixtures.m3ed_files import (
    CARAT_PICKLE,
    CARAT_PT,
    DIALOGUES,
    IS10_PICKLE,
    m3ed_content,
    write_carat_pt,
    write_m3ed_pickle,
)

# With normalize=False the base turns the read-only memory-mapped cache into tensors directly, which torch warns
# about (reported to the lead: datamodules/base.py setup()); the values are only read here.
pytestmark = pytest.mark.filterwarnings("ignore:The given NumPy array is not writable")

SPLITS = ("train", "valid", "test")
ORDER = [d for s in SPLITS for d in DIALOGUES[s]]  # dialogue order of the pickle's split lists


def _dm(tmp_path, name: str = "m3ed", **kwargs):
    kwargs.setdefault("cache_dir", str(tmp_path / "cache"))
    return DATAMODULES.get(name)(root=str(tmp_path / "m3ed"), **kwargs)


def _batches(dm, split: str):
    loader = {"train": dm.train_dataloader, "valid": dm.val_dataloader, "test": dm.test_dataloader}[split]()
    batches = list(loader)
    order = torch.cat([b.index for b in batches]).argsort()
    return batches, order


@pytest.mark.parametrize("python2", [False, True])
def test_dialogue_level_from_the_feature_pickle(tmp_path, python2):
    content = write_m3ed_pickle(tmp_path / "m3ed", python2=python2)
    if python2:
        with pytest.raises(UnicodeDecodeError):  # the fixture really needs latin1
            with (tmp_path / "m3ed" / CARAT_PICKLE).open("rb") as file:
                pickle.load(file)
    dm = _dm(tmp_path, normalize=False, batch_size=2)
    dm.setup()
    assert dm.task.kind == "multilabel" and dm.task.labels == LABELS
    assert {m.name: (m.dim, m.seq_len) for m in dm.modalities} == {"text": (768, 60), "audio": (1024, 60),
                                                                   "visual": (342, 60)}
    assert dm.split_sizes() == {"train": 3, "valid": 1, "test": 2}
    for split in SPLITS:
        batches, order = _batches(dm, split)
        ids = [i for b in batches for i in b.ids]
        ids = [ids[k] for k in order.tolist()]
        assert ids == list(DIALOGUES[split])
        for modality in ("text", "audio", "visual"):
            x = torch.cat([b.inputs[modality] for b in batches])[order].numpy()
            m = torch.cat([b.masks[modality] for b in batches])[order].numpy()
            for row, dialogue in enumerate(ids):
                written = getattr(content, modality)[dialogue]
                k = min(len(written), 60)
                np.testing.assert_array_equal(x[row, :k], written[:k])
                assert (x[row, k:] == 0).all()
                assert m[row].tolist() == [True] * k + [False] * (60 - k), "real mask for shorter dialogues"
        target = torch.cat([b.target for b in batches])[order].numpy()
        for row, dialogue in enumerate(ids):
            assert set(np.flatnonzero(target[row])) == set(DIALOGUES[split][dialogue])
    long = dm.arrays.target[ORDER.index("anjia_1")]
    assert [LABELS[j] for j in np.flatnonzero(long)] == ["Happy", "Neutral", "Sad", "Anger", "Fear", "Surprise"], \
        "the target covers the whole dialogue, also the utterances after the 60th"


def test_groups_are_series_and_official_splits_are_series_disjoint(tmp_path):
    write_m3ed_pickle(tmp_path / "m3ed")
    dm = _dm(tmp_path)
    dm.setup()
    series = {"anjia": 0, "huanle": 1, "xiaohuan": 2, "zhengyang": 3}
    assert dm.arrays.groups.tolist() == [series[d.rsplit("_", 1)[0]] for d in ORDER]
    g, s = dm.arrays.groups, dm._splits
    assert not set(g[s["train"]]) & set(g[s["test"]]) and not set(g[s["valid"]]) & set(g[s["test"]])
    batch = next(iter(dm.test_dataloader()))
    assert batch.subject.tolist() == [3, 3]


def test_max_utterances_cuts_the_sequence_not_the_target(tmp_path):
    content = write_m3ed_pickle(tmp_path / "m3ed")
    dm = _dm(tmp_path, max_utterances=4, normalize=False)
    arrays = dm.arrays
    assert arrays.inputs["text"].shape == (6, 4, 768)
    row = ORDER.index("anjia_1")
    np.testing.assert_array_equal(arrays.inputs["visual"][row], content.visual["anjia_1"][:4])
    assert arrays.target[row].sum() == 6
    assert arrays.masks["audio"][ORDER.index("anjia_2")].tolist() == [True, True, True, False]


def test_is10_audio_is_detected_from_the_file_name_and_checked(tmp_path):
    write_m3ed_pickle(tmp_path / "m3ed", audio_dim=1582)
    dm = _dm(tmp_path)
    assert [m.dim for m in dm.modalities] == [768, 1582, 342]
    dm.setup()
    assert next(iter(dm.train_dataloader())).inputs["audio"].shape[-1] == 1582
    (tmp_path / "m3ed" / IS10_PICKLE).rename(tmp_path / "m3ed" / CARAT_PICKLE)
    with pytest.raises(DatasetFormatError, match=r"videoAudio\['anjia_1'\] has 1582-d rows.*audio_dim=1582"):
        _dm(tmp_path, cache_dir=str(tmp_path / "cache2")).setup()
    assert _dm(tmp_path, audio_dim=1582, cache_dir=str(tmp_path / "cache3")).arrays.inputs["audio"].shape[-1] == 1582


@pytest.mark.parametrize("swapped", [True, False])
def test_carat_pt_gives_the_same_arrays_as_the_pickle(tmp_path, swapped):
    content = m3ed_content()
    write_m3ed_pickle(tmp_path / "pkl" / "m3ed", content)
    write_carat_pt(tmp_path / "pt" / "m3ed", content, swapped=swapped)
    from_pickle = _dm(tmp_path / "pkl", normalize=False).arrays
    dm = _dm(tmp_path / "pt", normalize=False)
    from_pt = dm.arrays
    for modality in ("text", "audio", "visual"):  # so the CARAT slots were un-swapped
        np.testing.assert_array_equal(from_pt.inputs[modality], from_pickle.inputs[modality])
        np.testing.assert_array_equal(from_pt.masks[modality], from_pickle.masks[modality])
    np.testing.assert_array_equal(from_pt.target, from_pickle.target)
    np.testing.assert_array_equal(from_pt.split, from_pickle.split)
    assert from_pt.groups is None
    dm.setup()
    batch = next(iter(dm.val_dataloader()))
    np.testing.assert_array_equal(batch.inputs["audio"][0, :5].numpy(), content.audio["xiaohuan_1"])
    np.testing.assert_array_equal(batch.inputs["visual"][0, :5].numpy(), content.visual["xiaohuan_1"])


def test_carat_pt_without_lengths_masks_the_non_zero_rows(tmp_path):
    write_carat_pt(tmp_path / "m3ed", with_lengths=False)
    masks = _dm(tmp_path).arrays.masks["text"]
    assert masks.sum(1).tolist() == [min(len(DIALOGUES[s][d]), 60) for s in SPLITS for d in DIALOGUES[s]]


def test_carat_pt_limits(tmp_path):
    write_carat_pt(tmp_path / "m3ed")
    with pytest.raises(DatasetFormatError, match=r"m3ed_data_60\.pt: dialogues have 60 rows, fewer than "
                                                 r"max_utterances=70"):
        _dm(tmp_path, max_utterances=70).setup()
    with pytest.raises(DatasetFormatError, match=r"m3ed_data_60\.pt: m3ed-utterance needs one label per utterance"):
        _dm(tmp_path, "m3ed-utterance").setup()
    with pytest.raises(DatasetFormatError, match=r"'src-visual' has 1024-d rows.*audio_dim=1024"):
        _dm(tmp_path, audio_dim=1582).setup()


def test_utterance_level_task(tmp_path):
    content = write_m3ed_pickle(tmp_path / "m3ed")
    dm = _dm(tmp_path, "m3ed-utterance", normalize=False, batch_size=4)
    assert dm.task.kind == "multiclass" and [m.seq_len for m in dm.modalities] == [1, 1, 1]
    dm.setup()
    sizes = {s: sum(len(v) for v in DIALOGUES[s].values()) for s in SPLITS}
    assert dm.split_sizes() == sizes
    batches, order = _batches(dm, "test")
    target = torch.cat([b.target for b in batches])[order]
    assert target.dtype == torch.long
    assert target.tolist() == [label for d in DIALOGUES["test"].values() for label in d]
    text = torch.cat([b.inputs["text"] for b in batches])[order].numpy()
    np.testing.assert_array_equal(text[:, 0], np.concatenate([content.text[d] for d in DIALOGUES["test"]]))
    ids = [i for b in batches for i in b.ids]
    assert sorted(ids) == sorted(f"{d}_{k}" for d, v in DIALOGUES["test"].items() for k in range(len(v)))


def test_utterance_context_window_looks_back_only(tmp_path):
    content = write_m3ed_pickle(tmp_path / "m3ed")
    arrays = _dm(tmp_path, "m3ed-utterance", context=2, normalize=False).arrays
    assert arrays.inputs["audio"].shape == (sum(len(d) for s in SPLITS for d in DIALOGUES[s].values()), 3, 1024)
    start = sum(len(DIALOGUES["train"][d]) for d in ("anjia_1",))  # anjia_2 starts here
    assert arrays.masks["text"][start].tolist() == [False, False, True]
    assert arrays.masks["text"][start + 1].tolist() == [False, True, True]
    assert arrays.masks["text"][start + 2].tolist() == [True, True, True]
    np.testing.assert_array_equal(arrays.inputs["visual"][start + 2], content.visual["anjia_2"][[0, 1, 2]])
    np.testing.assert_array_equal(arrays.inputs["visual"][start + 1, 1:], content.visual["anjia_2"][[0, 1]])
    assert (arrays.inputs["visual"][start + 1, 0] == 0).all()


def test_second_setup_uses_the_cache(tmp_path, monkeypatch):
    write_m3ed_pickle(tmp_path / "m3ed")
    calls = []
    original = M3edDataModule.read
    monkeypatch.setattr(M3edDataModule, "read", lambda self: calls.append(1) or original(self))
    first = _dm(tmp_path)
    first.setup()
    second = _dm(tmp_path)
    second.setup()
    assert len(calls) == 1
    np.testing.assert_array_equal(first.arrays.inputs["text"], second.arrays.inputs["text"])
    np.testing.assert_array_equal(first.arrays.groups, second.arrays.groups)
    _dm(tmp_path, max_utterances=30).setup()
    assert len(calls) == 2, "another max_utterances is another cache entry"


def test_missing_root_and_files_name_what_to_get(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=rf"no root folder given.*{CARAT_PICKLE}.*RUCM3ED"):
        DATAMODULES.get("m3ed")(cache_dir=str(tmp_path / "cache")).setup()
    (tmp_path / "m3ed").mkdir()
    (tmp_path / "m3ed" / "notes.txt").write_text("x")
    with pytest.raises(DatasetNotFoundError, match=rf"no M3ED feature file .*notes\.txt.*{CARAT_PICKLE}.*{CARAT_PT}"):
        _dm(tmp_path).setup()
    with pytest.raises(DatasetNotFoundError, match=r"mine\.pkl"):
        _dm(tmp_path, file="mine.pkl").setup()
    for name in ("A1-V1-L1.pkl", "A2-V2-L2.pkl"):
        (tmp_path / "m3ed" / name).write_bytes(b"")
    with pytest.raises(DatasetNotFoundError, match=r"several feature pickles.*file=<name>"):
        _dm(tmp_path).setup()


def _rewrite(path, change) -> None:
    with path.open("rb") as file:
        items = pickle.load(file)  # our own fixture: trusted
    change(items)
    path.write_bytes(pickle.dumps(items, protocol=4))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda items: items.pop(), r"top level is a list of 9 items, expected the 10-item"),
        (lambda items: items[2]["anjia_2"].__setitem__(0, 7), r"videoLabels\['anjia_2'\] holds \[1, 7\], expected"),
        (lambda items: items[3].__setitem__("anjia_2", np.zeros((3, 700), np.float32)),
         r"videoText\['anjia_2'\] has shape \(3, 700\), expected \(3, 768\)"),
        (lambda items: items[5].__setitem__("anjia_2", np.zeros((2, 342), np.float32)),
         r"videoVisual\['anjia_2'\] has shape \(2, 342\), expected \(3, 342\)"),
        (lambda items: items[2].pop("xiaohuan_1"), r"dialogue 'xiaohuan_1' of the valid split has no entry in item 2"),
        (lambda items: items[9].append("anjia_2"), r"'anjia_2' is listed in both the train and the test split"),
        (lambda items: items[2]["anjia_2"].__setitem__(1, 0.5),
         r"videoLabels\['anjia_2'\]\[1\] is 0\.5, which is not a whole number"),
    ],
)
def test_wrong_content_is_a_one_paragraph_error(tmp_path, change, message):
    write_m3ed_pickle(tmp_path / "m3ed")
    _rewrite(tmp_path / "m3ed" / CARAT_PICKLE, change)
    with pytest.raises(DatasetFormatError, match=rf"{CARAT_PICKLE}: .*{message}"):
        _dm(tmp_path).setup()


def test_truncated_pickle_is_a_format_error(tmp_path):
    write_m3ed_pickle(tmp_path / "m3ed")
    path = tmp_path / "m3ed" / CARAT_PICKLE
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DatasetFormatError, match=r"\(1000 bytes\) could not be read.*truncated or corrupt"):
        _dm(tmp_path).setup()


def test_utterance_task_refuses_row_level_kfold():
    from emobench.datamodules import DATAMODULES

    with pytest.raises(ValueError, match="kfold"):
        DATAMODULES.get("m3ed-utterance")(protocol="kfold")


UTTERANCES = sum(len(labels) for split in DIALOGUES.values() for labels in split.values())


@pytest.mark.parametrize(("name", "options"), [("m3ed", {}), ("m3ed-utterance", {"context": 2})])
def test_non_finite_features_are_an_error_counted_once_per_utterance(tmp_path, name, options):
    content = m3ed_content()
    content.audio["anjia_2"][1, :2] = np.nan
    content.audio["zhengyang_1"][0, 7] = np.inf
    write_m3ed_pickle(tmp_path / "m3ed", content)
    with pytest.raises(DatasetFormatError, match=rf"{CARAT_PICKLE}: the audio features hold 3 non-finite or "
                                                 rf"out-of-range values \(train 2, test 1; in 2 of {UTTERANCES} rows; "
                                                 r"NaN 2, \+inf 1\)"):
        _dm(tmp_path, name, **options).setup()


def test_nonfinite_zero_replaces_them_with_a_warning(tmp_path):
    content = m3ed_content()
    expected = content.audio["anjia_2"].copy()
    content.audio["anjia_2"][1, :2] = np.nan
    expected[1, :2] = 0.0
    write_m3ed_pickle(tmp_path / "m3ed", content)
    with pytest.warns(NonFiniteFeaturesWarning, match=rf"replaced 2 .* audio features by 0 \(train 2; in 1 of "
                                                      rf"{UTTERANCES} rows; NaN 2\)"):
        arrays = _dm(tmp_path, "m3ed-utterance", nonfinite="zero", normalize=False).arrays
    start = len(DIALOGUES["train"]["anjia_1"])
    np.testing.assert_array_equal(arrays.inputs["audio"][start:start + 3, 0], expected)


def test_carat_pt_non_finite_features_and_fractional_labels_are_errors(tmp_path):
    content = m3ed_content()
    content.visual["xiaohuan_1"][2, 0] = -np.inf
    write_carat_pt(tmp_path / "m3ed", content)
    with pytest.raises(DatasetFormatError, match=r"m3ed_data_60\.pt: the visual features hold 1 non-finite .*"
                                                 r"\(valid 1; in 1 of 6 rows; -inf 1\)"):
        _dm(tmp_path).setup()
    path = tmp_path / "m3ed" / CARAT_PT
    for key, index, value, where in (("tgt", (0, 1), 4.5, r"train/tgt\[0\]\[1\] is 4\.5"),
                                     ("len_list", (1,), 2.5, r"test/len_list\[1\] is 2\.5")):
        write_carat_pt(tmp_path / "m3ed")
        data = torch.load(path, weights_only=False)  # our own fixture: trusted
        split = "train" if key == "tgt" else "test"
        target = data[split][key][index[0]] if len(index) == 2 else data[split][key]
        target[index[-1]] = value
        torch.save(data, path)
        with pytest.raises(DatasetFormatError, match=rf"m3ed_data_60\.pt: {where}, which is not a whole number"):
            _dm(tmp_path, cache_dir=str(tmp_path / f"cache-{key}")).setup()


def test_the_layout_is_read_from_the_content_not_the_name(tmp_path):
    content = m3ed_content()
    write_carat_pt(tmp_path / "m3ed", content, name="features.pkl")
    write_m3ed_pickle(tmp_path / "m3ed", content, name="features.pt")
    from_pt = _dm(tmp_path, file="features.pkl", normalize=False).arrays
    from_pickle = _dm(tmp_path, file="features.pt", normalize=False, cache_dir=str(tmp_path / "cache2")).arrays
    for modality in ("text", "audio", "visual"):
        np.testing.assert_array_equal(from_pt.inputs[modality], from_pickle.inputs[modality])
    np.testing.assert_array_equal(from_pt.target, from_pickle.target)
