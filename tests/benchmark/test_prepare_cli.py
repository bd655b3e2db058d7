"""`emobench prepare <dataset> --root ...`: fills the per-subject feature cache with a progress bar, in worker
processes when asked, reuses it on a second run, and checks its options."""

from __future__ import annotations

import numpy as np

from emobench.benchmark.cli import main
from emobench.datamodules import DATAMODULES
from emobench.datamodules.physio import base as physio_base
from tests.fixtures.deap_files import write_deap
from tests.fixtures.dreamer_files import write_dreamer


def test_prepare_computes_each_subject_once_with_a_progress_bar(tmp_path, capsys, monkeypatch):
    root, cache = tmp_path / "deap", tmp_path / "cache"
    write_deap(root)
    args = ["prepare", "deap", "--root", str(root), "--cache-dir", str(cache), "segment_seconds=2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "3/3" in out and "3 subject(s) computed, 0 already cached" in out and "24 samples cached" in out

    def refuse(*args, **kwargs):
        raise AssertionError("features recomputed")

    monkeypatch.setattr(physio_base.feats, "stream_features", refuse)
    assert main(["prepare", "deap", "segment_seconds=2", "--root", str(root), "--cache-dir", str(cache)]) == 0
    assert "0 subject(s) computed, 3 already cached" in capsys.readouterr().out
    dm = DATAMODULES.get("deap")(root=str(root), cache_dir=str(cache), segment_seconds=2)
    assert len(dm.arrays) == 24  # read from what prepare cached


def test_prepare_in_worker_processes_gives_the_same_features(tmp_path, capsys):
    root = tmp_path / "deap"
    write_deap(root)
    for workers in ("1", "2"):
        assert main(["prepare", "deap", "--root", str(root), "--cache-dir", str(tmp_path / f"cache{workers}"),
                     "--workers", workers, "segment_seconds=2", "features=raw"]) == 0
        assert "3 subject(s) computed" in capsys.readouterr().out
    one, two = (DATAMODULES.get("deap")(root=str(root), cache_dir=str(tmp_path / f"cache{w}"), segment_seconds=2,
                                        features="raw").arrays for w in ("1", "2"))
    np.testing.assert_array_equal(one.inputs["eeg"], two.inputs["eeg"])
    assert one.inputs["eeg"].shape == (24, 2, 32 * 128)


def test_prepare_dreamer_reads_its_one_file_once(tmp_path, capsys):
    root = tmp_path / "dreamer"
    write_dreamer(root, subjects=2, trials=2)
    assert main(["prepare", "dreamer", "--root", str(root), "--cache-dir", str(tmp_path / "cache"), "--workers", "2",
                 "segment_seconds=2"]) == 0
    assert "2 subject(s) computed" in capsys.readouterr().out


def test_prepare_rejects_unknown_options_and_missing_data(tmp_path, capsys):
    assert main(["prepare", "deap", "--root", str(tmp_path), "segment_secs=2"]) == 2
    assert "segment_secs" in capsys.readouterr().out
    assert main(["prepare", "deap", "--root", str(tmp_path), "--workers", "0"]) == 2
    assert main(["prepare", "deap", "--root", str(tmp_path), "oops"]) == 2
    assert main(["prepare", "deap", "--root", str(tmp_path / "nowhere")]) == 1
    assert "End User Licence Agreement" in capsys.readouterr().out.replace("\n", " ")


def test_prepare_fills_the_cache_of_any_reader(tmp_path, capsys):
    from tests.fixtures.mosei_files import write_mosei_pt

    write_mosei_pt(tmp_path / "mosei", sizes=(6, 2, 2))
    assert main(["prepare", "mosei", "--root", str(tmp_path / "mosei"), "--cache-dir", str(tmp_path / "cache")]) == 0
    assert "10 samples cached" in capsys.readouterr().out
    assert any((tmp_path / "cache").glob("mosei-*/meta.json"))
