"""Execute a sweep: pick the cells still to run from the results store, run each one in isolation (a failure is a
record, not an exit), show progress, print the summary. Launchers (`benchmark.launchers`) decide where cells run;
every launcher calls `execute_cell`, which writes the record itself (so records land on shared storage too)."""

from __future__ import annotations

import gc
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from emobench.benchmark.grid import Cell
from emobench.benchmark.store import read_record, write_record

TRACEBACK_LINES = 20
console = Console()


@dataclass(frozen=True)
class CellOutcome:
    """What a launcher hands back for one cell (small and picklable; the record itself is on disk)."""

    cell_id: str
    status: str
    seconds: float
    error: str = ""


def traceback_tail(err: BaseException, lines: int = TRACEBACK_LINES) -> str:
    text = "".join(traceback.format_exception(type(err), err, err.__traceback__)).rstrip("\n").splitlines()
    return "\n".join(text[-lines:])


def failed_record(cell: Cell, err: BaseException, started: float) -> dict[str, Any]:
    """The record of a cell that raised: the error, the traceback's last lines and the resolved config."""
    from emobench.benchmark import environment

    return {
        "cell_id": cell.cell_id,
        "status": "failed",
        "model": cell.model,
        "dataset": cell.dataset,
        "seed": cell.seed,
        "fold": cell.fold,
        "config": cell.config,
        "error": f"{type(err).__name__}: {err}",
        "error_type": type(err).__name__,
        "traceback": traceback_tail(err),
        "host": socket.gethostname(),
        "versions": environment.package_versions(),
        "git_commit": environment.git_commit(),
        "started": started,
        "finished": time.time(),
    }


def execute_cell(cell: Cell, folder: str, num_threads: int = 0) -> CellOutcome:
    """Run one cell and write its record to `folder`: status "ok", or "failed" with the error for any Exception
    (NaN loss, out of memory, a bad option...). An interrupt (Ctrl-C, which Lightning turns into SystemExit)
    propagates as KeyboardInterrupt and writes nothing. In a multi-process run (`trainer.strategy=ddp`) only rank
    0 writes. Module-level, so pools and submitit can pickle it."""
    import torch
    from omegaconf import OmegaConf

    from emobench.benchmark.config import CellConfig
    from emobench.benchmark.run_cell import is_global_zero, run_cell

    if num_threads:
        torch.set_num_threads(num_threads)
    started = time.time()
    cfg = OmegaConf.merge(OmegaConf.structured(CellConfig), cell.config)
    if num_threads:
        cfg.trainer.num_threads = num_threads
    try:
        record = run_cell(cfg)
        # Records carry the sweep's labels: a variant (e.g. mosei-unaligned) gets its own leaderboard; the
        # registered names stay in record["config"].
        record.update(model=cell.model, dataset=cell.dataset)
        status, error = "ok", ""
    except (KeyboardInterrupt, SystemExit):
        raise KeyboardInterrupt from None
    except Exception as err:  # noqa: BLE001 - failure isolation: any error becomes a failed record
        record = failed_record(cell, err, started)
        status, error = "failed", record["error"]
        if isinstance(err, torch.OutOfMemoryError) and torch.cuda.is_available():
            torch.cuda.empty_cache()
    finally:
        gc.collect()  # the cell's reference cycles (trainer, model, loaders) go before the next cell
        gc.freeze()  # what survives (modules, caches) is left out of later collections: 0.4 s per cell otherwise
    if is_global_zero():
        write_record(record, Path(folder))
    return CellOutcome(cell.cell_id, status, round(time.time() - started, 3), error)


def existing_status(folder: Path) -> dict[str, str]:
    """cell id -> status of the records in `folder`; an unreadable file counts as missing (the cell reruns)."""
    status = {}
    if folder.is_dir():
        for path in folder.glob("*.json"):
            try:
                status[path.stem] = read_record(path).get("status", "failed")
            except (OSError, ValueError):
                console.print(f"[yellow]warning:[/yellow] unreadable record {escape(str(path))}; its cell will run "
                              "again.", highlight=False)
    return status


def select(cells: list[Cell], status: dict[str, str], rerun_failed: bool = False,
           force: bool = False) -> tuple[list[Cell], list[Cell]]:
    """(to run, skipped): by default only cells without a record run; `rerun_failed` adds failed ones and
    `force` all of them."""
    todo, skipped = [], []
    for cell in cells:
        previous = status.get(cell.cell_id)
        run = force or previous is None or (rerun_failed and previous != "ok")
        (todo if run else skipped).append(cell)
    return todo, skipped


# ---- progress ---------------------------------------------------------------------------------------------------
@dataclass
class Tally:
    total: int
    ok: int = 0
    failed: int = 0
    running: list[Cell] = field(default_factory=list)
    failures: list[tuple[Cell, str]] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    @property
    def done(self) -> int:
        return self.ok + self.failed

    @property
    def left(self) -> int:
        return self.total - self.done


class Reporter:
    """Progress of the cells being run: done / failed / left, elapsed, ETA and the current cell. Live mode shows a
    rich bar (pool and SLURM launchers); static mode prints one status line before each cell, above Lightning's
    own bar (in-process); plain mode (--quiet) prints a log line per event."""

    def __init__(self, total: int, plain: bool = False, live: bool = True) -> None:
        self.tally = Tally(total)
        self.plain = plain
        self.live = live and not plain
        self.progress = Progress(
            SpinnerColumn(), BarColumn(bar_width=24), MofNCompleteColumn(),
            TextColumn("ok {task.fields[ok]} · [red]failed {task.fields[failed]}[/red] · left {task.fields[left]}"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.description}"),
            console=console, transient=False)
        self.task = self.progress.add_task("", total=max(total, 1), ok=0, failed=0, left=total)

    def __enter__(self) -> Reporter:
        if self.live:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self._refresh()
            self.progress.stop()

    def _status(self) -> str:
        t = self.tally
        elapsed = time.time() - t.started
        eta = f"{elapsed / t.done * t.left:.0f}s" if t.done else "?"
        return f"done {t.done}/{t.total}, failed {t.failed}, left {t.left}, elapsed {elapsed:.0f}s, ETA {eta}"

    def _refresh(self) -> None:
        running = self.tally.running
        current = running[0].describe() + (f" (+{len(running) - 1})" if len(running) > 1 else "") if running else ""
        self.progress.update(self.task, completed=self.tally.done, description=escape(current),
                             ok=self.tally.ok, failed=self.tally.failed, left=self.tally.left)

    def started(self, cell: Cell) -> None:
        self.tally.running.append(cell)
        if self.plain:
            print(f"[{time.strftime('%H:%M:%S')}] start {cell.describe()} [{cell.cell_id}] ({self._status()})",
                  flush=True)
        elif self.live:
            self._refresh()
        else:
            console.print(f"[bold]cell {self.tally.done + 1}/{self.tally.total}[/bold] {escape(cell.describe())} "
                          f"[dim]{escape(f'[{cell.cell_id}]')}[/dim] ({self._status()})", highlight=False)

    def finished(self, cell: Cell, outcome: CellOutcome) -> None:
        self.tally.running = [c for c in self.tally.running if c.cell_id != cell.cell_id]
        if outcome.status == "ok":
            self.tally.ok += 1
        else:
            self.tally.failed += 1
            self.tally.failures.append((cell, outcome.error))
        error = outcome.error.splitlines()[0] if outcome.error else ""
        if self.plain:
            print(f"[{time.strftime('%H:%M:%S')}] {outcome.status} {cell.describe()} [{cell.cell_id}] in "
                  f"{outcome.seconds:.1f}s{': ' + error if error else ''} ({self._status()})", flush=True)
            return
        if self.live:
            self._refresh()
        if outcome.status != "ok":
            console.print(f"[red]failed[/red] {escape(f'{cell.describe()} [{cell.cell_id}]: {error}')}",
                          highlight=False)


# ---- the sweep --------------------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    name: str
    folder: Path
    total: int
    ok: int = 0
    failed: list[tuple[Cell, str]] = field(default_factory=list)
    skipped_ok: int = 0
    skipped_failed: list[Cell] = field(default_factory=list)
    not_run: int = 0
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failed or self.skipped_failed else 0


Launch = Callable[[list[Cell], Callable[[Cell], None], Callable[[Cell, CellOutcome], None]], None]


def run_sweep(name: str, cells: list[Cell], folder: Path, launch: Launch, *, rerun_failed: bool = False,
              force: bool = False, plain: bool = False, live: bool = True) -> SweepResult:
    """Run the cells of `cells` that need running with `launch(todo, on_start, on_done)`; Ctrl-C keeps finished
    records, drops cells in flight, and marks the result interrupted (exit code 130)."""
    status = existing_status(folder)
    todo, skipped = select(cells, status, rerun_failed, force)
    result = SweepResult(name, folder, len(cells), skipped_ok=sum(status[c.cell_id] == "ok" for c in skipped),
                         skipped_failed=[c for c in skipped if status[c.cell_id] != "ok"])
    started = time.time()
    main_thread = threading.current_thread() is threading.main_thread()
    previous_handler = signal.getsignal(signal.SIGINT) if main_thread else None
    reporter = Reporter(len(todo), plain=plain, live=live and bool(todo))
    try:
        with reporter:
            if todo:
                launch(todo, reporter.started, reporter.finished)
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        if previous_handler is not None:  # Lightning ignores SIGINT after an interrupt; give Ctrl-C back
            signal.signal(signal.SIGINT, previous_handler)
    tally = reporter.tally
    result.ok, result.failed = tally.ok, tally.failures
    result.not_run = len(todo) - tally.done
    result.seconds = time.time() - started
    return result


def print_summary(result: SweepResult) -> None:
    table = Table(title=escape(f"sweep {result.name}: {result.total} cells in {result.seconds:.0f}s "
                               f"(records in {result.folder})"))
    table.add_column("status")
    table.add_column("cells", justify="right")
    rows = [("ok (this run)", result.ok), ("failed (this run)", len(result.failed)),
            ("skipped: ok record exists", result.skipped_ok),
            ("skipped: failed record exists (--rerun-failed retries)", len(result.skipped_failed))]
    if result.interrupted:
        rows.append(("not run (interrupted)", result.not_run))
    for label, count in rows:
        table.add_row(label, str(count))
    console.print(table)
    failures = [(c, e) for c, e in result.failed] + [(c, "(earlier run)") for c in result.skipped_failed]
    if failures:
        failed = Table(title=escape(f"failed cells (error, traceback and config in {result.folder}/<cell id>.json)"))
        for col in ("cell id", "model", "dataset", "seed", "fold"):
            failed.add_column(col, no_wrap=True)
        failed.add_column("error", overflow="fold", ratio=1)
        for cell, error in failures:
            failed.add_row(cell.cell_id, escape(cell.model), escape(cell.dataset), str(cell.seed), str(cell.fold),
                           escape(error.splitlines()[0]) if error else "")
        console.print(failed)
    if result.interrupted:
        console.print(f"[yellow]interrupted:[/yellow] {result.ok + len(result.failed)} finished cell(s) kept; "
                      "run the same command again to go on.")


def worker_threads(workers: int, cores: int | None = None) -> int:
    """Threads per worker so that `workers` processes do not oversubscribe the cores (measured on 2 cores: two
    processes with default threads each run 10-50x slower than with one thread each)."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, workers))


def describe_grid(cells: Iterable[Cell], status: dict[str, str]) -> Table:
    table = Table(title="cells")
    for col in ("#", "cell id", "model", "dataset", "seed", "fold", "record"):
        table.add_column(col)
    for cell in cells:
        table.add_row(str(cell.index), cell.cell_id, escape(cell.model), escape(cell.dataset), str(cell.seed),
                      str(cell.fold),
                      status.get(cell.cell_id, "-"))
    return table
