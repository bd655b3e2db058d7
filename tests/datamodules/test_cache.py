"""The decoded-array cache: keyed by file stats and options, atomic, reused, invalidated by changes."""

from __future__ import annotations

import os

import numpy as np
import pytest

from emobench.datamodules.arrays import DatasetArrays
from emobench.datamodules.base import EmotionDataModule
from emobench.datamodules.specs import ModalitySpec, TaskSpec


class _FileBacked(EmotionDataModule, name="test-file-backed"):
    """A tiny reader of one .npy file, counting how often it really reads."""

    reads = 0

    def __init__(self, scale: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scale = scale

    def describe(self):
        return TaskSpec("multiclass", ("a", "b")), (ModalitySpec("audio", 3, 2, "audio"),)

    def source_files(self):
        return [self.root / "x.npy"]

    def read(self) -> DatasetArrays:
        type(self).reads += 1
        x = np.load(self.root / "x.npy") * self.scale
        n = len(x)
        return DatasetArrays({"audio": x}, {"audio": np.ones((n, 2), bool)}, np.arange(n) % 2,
                             split=np.array(["train", "train", "valid", "test"] * (n // 4)))


def test_cache_is_reused_and_keyed_by_options_and_files(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    np.save(root / "x.npy", np.random.default_rng(0).normal(size=(8, 2, 3)).astype(np.float32))
    _FileBacked.reads = 0
    kwargs = {"root": str(root), "cache_dir": str(tmp_path / "cache")}
    first = _FileBacked(**kwargs).arrays
    second = _FileBacked(**kwargs, batch_size=2).arrays  # loader-only option: same cache
    assert _FileBacked.reads == 1
    np.testing.assert_array_equal(first.inputs["audio"], second.inputs["audio"])
    assert len(_FileBacked(**kwargs, scale=2.0).arrays) == 8  # a reader option changes the key
    assert _FileBacked.reads == 2
    os.utime(root / "x.npy", ns=(1, 1))  # a changed source file changes the key
    assert len(_FileBacked(**kwargs).arrays) == 8
    assert _FileBacked.reads == 3
    leftovers = [p for p in (tmp_path / "cache").iterdir() if ".tmp-" in p.name]
    assert leftovers == []


def test_failed_read_leaves_no_cache(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    np.save(root / "x.npy", np.zeros((8, 2, 5), np.float32))  # wrong feature dim: check() must refuse it
    dm = _FileBacked(root=str(root), cache_dir=str(tmp_path / "cache"))
    with pytest.raises(ValueError, match=r"has shape \(8, 2, 5\), expected \(8, 2, 3\)"):
        _ = dm.arrays
    assert not (tmp_path / "cache").exists() or list((tmp_path / "cache").iterdir()) == []
