"""Sweep resume in benchmark/sweep.py, without training: which cells run again (`existing_status`, `select`), what
`run_sweep` counts and which exit code it gives, with a launcher that only reports outcomes."""

from __future__ import annotations

import signal

import pytest

from emobench.benchmark.grid import Cell
from emobench.benchmark.store import write_record
from emobench.benchmark.sweep import CellOutcome, SweepResult, existing_status, run_sweep, select


def cells(*ids: str) -> list[Cell]:
    return [Cell(i, cid, "m", "d", 0, 0, {}) for i, cid in enumerate(ids)]


@pytest.fixture
def folder(tmp_path):
    """Records: a ok, b failed, c without a status, d cut short; e has no record (only a temp file)."""
    folder = tmp_path / "cells"
    write_record({"cell_id": "a", "status": "ok"}, folder)
    write_record({"cell_id": "b", "status": "failed"}, folder)
    write_record({"cell_id": "c"}, folder)
    (folder / "d.json").write_text('{"cell_id": "d", "sta')
    (folder / ".e.0123abcd.tmp").write_text('{"cell_id": "e", "status": "ok"}')
    return folder


def test_existing_status_reads_ok_failed_and_counts_the_rest_as_failed_or_missing(folder, capsys):
    assert existing_status(folder) == {"a": "ok", "b": "failed", "c": "failed"}
    assert "unreadable record" in capsys.readouterr().out
    assert existing_status(folder / "absent") == {}


@pytest.mark.parametrize(("rerun_failed", "force", "runs"), [
    (False, False, ["d", "e"]), (True, False, ["b", "c", "d", "e"]), (False, True, ["a", "b", "c", "d", "e"]),
    (True, True, ["a", "b", "c", "d", "e"])])
def test_select_runs_missing_cells_then_failed_ones_then_all(folder, rerun_failed, force, runs):
    grid = cells("a", "b", "c", "d", "e")
    todo, skipped = select(grid, existing_status(folder), rerun_failed=rerun_failed, force=force)
    assert [c.cell_id for c in todo] == runs
    assert [c.cell_id for c in skipped] == [c.cell_id for c in grid if c.cell_id not in runs]
    if not (rerun_failed or force):  # the defaults: only cells without a record
        assert select(grid, existing_status(folder)) == (todo, skipped)


def test_exit_code():
    [cell] = cells("x")
    assert SweepResult("s", None, 1).exit_code == 0
    assert SweepResult("s", None, 1, failed=[(cell, "boom")]).exit_code == 1
    assert SweepResult("s", None, 1, skipped_failed=[cell]).exit_code == 1
    assert SweepResult("s", None, 1, failed=[(cell, "boom")], interrupted=True).exit_code == 130


def fake_launch(outcomes: dict[str, str], interrupt_at: str | None = None):
    """A launcher that reports `outcomes` (cell id -> status) and raises KeyboardInterrupt at `interrupt_at`."""
    launched = []

    def launch(todo, on_start, on_done):
        for cell in todo:
            if cell.cell_id == interrupt_at:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # as Lightning leaves it after an interrupt
                raise KeyboardInterrupt
            launched.append(cell.cell_id)
            on_start(cell)
            status = outcomes[cell.cell_id]
            on_done(cell, CellOutcome(cell.cell_id, status, 0.1, "" if status == "ok" else "Err: boom"))

    return launch, launched


def test_run_sweep_skips_recorded_cells_and_counts_outcomes(folder):
    launch, launched = fake_launch({"d": "ok", "e": "failed"})
    result = run_sweep("s", cells("a", "b", "c", "d", "e"), folder, launch, plain=True)
    assert launched == ["d", "e"] and (result.name, result.folder) == ("s", folder) and 0 <= result.seconds < 60
    assert (result.total, result.ok, result.skipped_ok, result.not_run) == (5, 1, 1, 0)
    assert [c.cell_id for c, _ in result.failed] == ["e"] and [c.cell_id for c in result.skipped_failed] == ["b", "c"]
    assert result.exit_code == 1 and not result.interrupted


def test_run_sweep_interrupted_counts_what_did_not_run_and_gives_ctrl_c_back(folder):
    launch, launched = fake_launch({"b": "ok", "c": "ok", "d": "ok", "e": "ok"}, interrupt_at="d")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = run_sweep("s", cells("a", "b", "c", "d", "e"), folder, launch, rerun_failed=True, plain=True)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
    assert launched == ["b", "c"] and result.ok == 2 and result.not_run == 2
    assert result.interrupted and result.exit_code == 130


def test_run_sweep_with_nothing_to_do_launches_nothing(tmp_path):
    folder = tmp_path / "cells"
    write_record({"cell_id": "a", "status": "ok"}, folder)
    launch, launched = fake_launch({})
    result = run_sweep("s", cells("a"), folder, launch, plain=True)
    assert launched == [] and result.skipped_ok == 1 and result.exit_code == 0


def test_without_live_display_each_cell_gets_a_status_line(folder, capsys):
    """`live=False` (the in-process launcher, whose Lightning bar would fight a rich live bar) prints one status line
    per cell instead of starting the rich progress display."""
    launch, _ = fake_launch({"d": "ok", "e": "ok"})
    run_sweep("s", cells("a", "b", "c", "d", "e"), folder, launch, live=False)
    out = capsys.readouterr().out
    assert "cell 1/2" in out and "cell 2/2" in out


def test_a_cell_leaves_the_survivors_frozen_out_of_later_garbage_collections(tmp_path, monkeypatch):
    """After each cell the worker collects the cell's cycles and freezes what survives (torch, Lightning and W&B
    modules: a full collection over them took 0.4 s per cell)."""
    import gc

    import emobench.benchmark.run_cell as run_cell_module
    from emobench.benchmark.sweep import execute_cell

    monkeypatch.setattr(run_cell_module, "run_cell", lambda cfg: {"cell_id": "x", "status": "ok"})
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    outcome = execute_cell(Cell(0, "x", "prior", "synthetic-mosei", 0, 0, {"model": "prior",
                                                                           "dataset": "synthetic-mosei"}),
                           str(tmp_path))
    assert outcome.status == "ok" and gc.get_freeze_count() > 0
