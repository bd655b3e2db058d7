"""IEMOCAP in Foal-Net's layout: labels from the `.scp` lists, (T, 1024) / (T, 768) frames truncated or padded to
the caps (defaults 299 / 180) with masks, the spill buffer, and the errors naming each bad file."""

from __future__ import annotations

import numpy as np
import pytest

from emobench.datamodules import DATAMODULES, cache
from emobench.datamodules.errors import DatasetFormatError, DatasetNotFoundError
from emobench.datamodules.iemocap_features import feature_buffer
from emobench.datamodules.validate import NonFiniteFeaturesWarning
from tests.fixtures.iemocap_files import FOUR, expected_counts, write_foalnet

pytestmark = pytest.mark.filterwarnings("ignore:The given NumPy array is not writable")


def _dm(tmp_path, name="iemocap", **kwargs):
    kwargs.setdefault("cache_dir", str(tmp_path / "cache"))
    return DATAMODULES.get(name)(root=str(tmp_path / "foalnet"), **kwargs)


def test_lists_and_frames_with_the_official_caps(tmp_path):
    written = write_foalnet(tmp_path / "foalnet", audio_lengths=(150, 320), visual_lengths=(200, 40))
    dm = _dm(tmp_path)
    assert dm.protocol == "loso" and not dm.normalize, "Foal-Net feeds its frames raw"
    assert {m.name: (m.dim, m.seq_len) for m in dm.modalities} == {"audio": (1024, 299), "visual": (768, 180)}
    labels = dm.task.labels
    values, counts = np.unique(dm.arrays.target, return_counts=True)
    assert {labels[v]: int(c) for v, c in zip(values, counts, strict=True)} == expected_counts(FOUR)
    for modality, cap in (("audio", 299), ("visual", 180)):
        for row, utterance in enumerate(dm.arrays.ids.tolist()):
            frames = written.frames[modality][utterance]
            k = min(len(frames), cap)
            np.testing.assert_array_equal(dm.arrays.inputs[modality][row, :k], frames[:k])
            assert not dm.arrays.inputs[modality][row, k:].any()
            assert dm.arrays.masks[modality][row].tolist() == [True] * k + [False] * (cap - k)
        lengths = {len(f) for f in written.frames[modality].values()}
        assert min(lengths) < cap < max(lengths), "both padding and truncation are exercised"


def test_iemocap_6_refuses_the_four_class_lists(tmp_path):
    write_foalnet(tmp_path / "foalnet")
    with pytest.raises(DatasetFormatError, match="has four classes"):
        _dm(tmp_path, "iemocap-6").setup()


@pytest.mark.parametrize("damage", ["missing", "truncated", "pickled", "wrong_dim", "empty"])
def test_a_bad_frame_file_is_named(tmp_path, damage):
    write_foalnet(tmp_path / "foalnet")
    path = tmp_path / "foalnet" / "clip-large" / "session02" / "Ses02M_script01_1_F002.npy"
    if damage == "missing":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "pickled":
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif damage == "wrong_dim":
        np.save(path, np.zeros((4, 512), np.float32))
    else:
        np.save(path, np.zeros((0, 768), np.float32))
    error = DatasetNotFoundError if damage == "missing" else DatasetFormatError
    with pytest.raises(error, match="Ses02M_script01_1_F002.npy"):
        _dm(tmp_path, visual_steps=5).setup()


def test_a_bad_list_line_is_named(tmp_path):
    write_foalnet(tmp_path / "foalnet")
    path = tmp_path / "foalnet" / "session1_valid.scp"
    path.write_text(path.read_text() + "Ses01F_impro01_F000 /x.wav happy\n")
    with pytest.raises(DatasetFormatError, match=r"session1_valid.scp, line \d+"):
        _dm(tmp_path).setup()


def test_nonfinite_frames_name_the_file_or_are_zeroed(tmp_path):
    write_foalnet(tmp_path / "foalnet")
    path = tmp_path / "foalnet" / "wavlm-large" / "session01" / "Ses01F_impro01_M000.npy"
    x = np.load(path)
    x[1, 3] = np.nan
    np.save(path, x)
    with pytest.raises(DatasetFormatError, match="Ses01F_impro01_M000.npy"):
        _dm(tmp_path, audio_steps=8).setup()
    with pytest.warns(NonFiniteFeaturesWarning, match="1 non-finite"):
        dm = _dm(tmp_path, audio_steps=8, nonfinite="zero")
        row = dm.arrays.ids.tolist().index("Ses01F_impro01_M000")
    assert np.isfinite(dm.arrays.inputs["audio"]).all() and dm.arrays.inputs["audio"][row, 1, 3] == 0


def test_large_buffers_spill_to_a_removed_file_and_cache_normally(tmp_path):
    x = feature_buffer((3, 4, 5), tmp_path / "spill", limit=16)
    assert isinstance(x, np.memmap) and not any((tmp_path / "spill").iterdir()), "the file name is gone"
    x[:] = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    from emobench.datamodules.arrays import DatasetArrays

    arrays = DatasetArrays({"a": x}, {"a": np.ones((3, 4), bool)}, np.zeros(3, np.int64))
    cache.save_cached(arrays, tmp_path / "cached")
    np.testing.assert_array_equal(cache.load_cached(tmp_path / "cached").inputs["a"], x)
    assert type(feature_buffer((2, 2), tmp_path / "spill")) is np.ndarray
