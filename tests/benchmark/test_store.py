"""The results store on shared storage: records are created with the user's umask (readable by colleagues), and a
record that cannot be read stops `emobench table` with an error instead of a leaderboard of part of the cells."""

from __future__ import annotations

import os
import stat

import pytest
import torch

from emobench.benchmark.cli import main
from emobench.benchmark.store import UnreadableRecordsError, load_records, write_record
from emobench.benchmark.sweep import existing_status
from tests.benchmark.test_leaderboard import write_fixture


@pytest.fixture
def umask():
    """Set a umask for the test and restore the previous one afterwards."""
    previous = os.umask(0o022)
    yield os.umask
    os.umask(previous)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_records_follow_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    path = write_record({"cell_id": "abc", "status": "ok"}, tmp_path / "cells")
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert [p.name for p in path.parent.iterdir()] == ["abc.json"]  # no temp file left


def _table_fails_naming(sweep, bad, capsys, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "2000")
    assert main(["table", str(sweep), "--wandb", "disabled"]) == 1
    out = capsys.readouterr().out
    assert str(bad) in out and "cannot be read" in out and "Make sure" in out
    assert not (sweep / "leaderboard").exists()  # no leaderboard of part of the data
    return out


def test_corrupt_record_is_an_error_for_table_and_a_rerun_for_the_sweep(tmp_path, capsys, monkeypatch):
    sweep = write_fixture(tmp_path / "demo")
    bad = sorted((sweep / "cells").glob("alpha-*.json"))[0]
    bad.write_text('{"cell_id": "alpha", "status": "o')  # cut short by an outside edit
    with pytest.raises(UnreadableRecordsError, match="JSONDecodeError"):
        load_records(sweep / "cells")
    _table_fails_naming(sweep, bad, capsys, monkeypatch)
    status = existing_status(sweep / "cells")  # the sweep reruns the cell and says so
    assert bad.stem not in status and len(status) == len(list((sweep / "cells").glob("*.json"))) - 1
    assert "unreadable record" in capsys.readouterr().out


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads files whatever their mode")
def test_record_without_read_permission_is_an_error(tmp_path, capsys, monkeypatch):
    sweep = write_fixture(tmp_path / "demo")
    bad = sorted((sweep / "cells").glob("beta-*.json"))[0]
    bad.chmod(0)
    try:
        out = _table_fails_naming(sweep, bad, capsys, monkeypatch)
        assert "PermissionError" in out
    finally:
        bad.chmod(0o644)


def test_a_write_that_fails_raises_and_leaves_the_old_record_and_no_temp_file(tmp_path):
    folder = tmp_path / "cells"
    old = {"cell_id": "abc", "status": "failed"}
    write_record(old, folder)
    circular: dict = {"cell_id": "abc", "status": "ok"}
    circular["self"] = circular  # json.dump raises half-way through the file
    with pytest.raises(ValueError, match="Circular reference"):
        write_record(circular, folder)
    assert [p.name for p in folder.iterdir()] == ["abc.json"]
    assert load_records(folder) == [old]


def test_a_rename_that_fails_after_the_temp_file_vanished_raises_its_own_error(tmp_path, monkeypatch):
    """Cleaning up a temp file that is already gone (removed by a colleague's cleanup, or a rename that moved it
    and then failed) must not replace the write's error by a FileNotFoundError."""
    def rename_then_fail(source, target):
        os.unlink(source)
        raise PermissionError("rename refused")
    monkeypatch.setattr(os, "replace", rename_then_fail)
    with pytest.raises(PermissionError, match="rename refused"):
        write_record({"cell_id": "abc", "status": "ok"}, tmp_path / "cells")
    assert list((tmp_path / "cells").iterdir()) == []


def test_values_json_cannot_encode_are_written_as_text(tmp_path):
    path = write_record({"cell_id": "abc", "status": "ok", "root": tmp_path, "dtype": torch.float32}, tmp_path)
    assert load_records(tmp_path) == [{"cell_id": "abc", "status": "ok", "root": str(tmp_path),
                                       "dtype": "torch.float32"}]
    assert path.name == "abc.json"
