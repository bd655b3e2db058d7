"""Where the cells of a sweep run: in this process, in a local pool of worker processes, or as a SLURM job array
through submitit. Each launcher calls `run(cell)` (the sweep's `execute_cell`, which writes the record) and reports
`on_start(cell)` / `on_done(cell, outcome)`; an interrupt stops it and propagates as KeyboardInterrupt."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emobench.benchmark.grid import Cell
from emobench.benchmark.store import write_record
from emobench.benchmark.sweep import CellOutcome, console, execute_cell, failed_record, worker_threads

OnStart = Callable[[Cell], None]
OnDone = Callable[[Cell, CellOutcome], None]


@dataclass
class InProcess:
    """Cells one after the other in this process (workers=1): Lightning's progress bar is shown."""

    folder: Path

    def __call__(self, cells: list[Cell], on_start: OnStart, on_done: OnDone) -> None:
        for cell in cells:
            on_start(cell)
            on_done(cell, execute_cell(cell, str(self.folder)))


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
PARENT_POLL_SECONDS = 1.0


def _init_worker(threads: int, log_dir: str, parent: int) -> None:
    """Runs first in each pool worker: exit with the parent, ignore Ctrl-C (the parent stops the pool), cap torch's
    threads, and send the worker's output to its own log file so it does not tear the live progress display."""
    exit_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    log = os.open(Path(log_dir) / f"worker-{os.getpid()}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)


def exit_with_parent(parent: int, poll_seconds: float = PARENT_POLL_SECONDS) -> None:
    """Make this process exit (without writing a record) when `parent` dies, even by SIGKILL: an orphaned pool
    worker would otherwise wait on its task queue forever, holding its memory. On Linux the kernel sends SIGTERM
    when the parent dies (prctl PR_SET_PDEATHSIG; it fires when the thread that started the worker ends, which is
    the sweep's own thread); everywhere, a daemon thread polls os.getppid() and exits when the parent changed.
    SIGTERM ends the process at once: Lightning's handler during fit only takes note and calls the previous one."""
    signal.signal(signal.SIGTERM, _exit_now)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):  # no libc symbol: the polling thread still works
            pass
    if os.getppid() != parent:  # the parent died before the hook was set
        _exit_now(signal.SIGTERM, None)
    threading.Thread(target=_watch_parent, args=(parent, poll_seconds), name="exit-with-parent",
                     daemon=True).start()


def _watch_parent(parent: int, poll_seconds: float) -> None:
    while os.getppid() == parent:
        time.sleep(poll_seconds)
    _exit_now(signal.SIGTERM, None)


def _exit_now(signum: int, frame: object) -> None:
    os._exit(128 + signum)


@dataclass
class LocalPool:
    """Cells in `workers` spawned processes, each capped to cores // workers torch threads. Workers are reused
    across cells (a fresh interpreter per cell costs seconds of imports); their output goes to `<log_dir>`. They
    exit when this process dies, even by SIGKILL (`exit_with_parent`).

    A worker that dies in a cell (killed for memory, `os._exit`, a crash in native code) breaks the whole pool:
    every cell in flight fails with `BrokenProcessPool` and the other workers are terminated. The pool is then
    started afresh; a cell that was in flight alone is recorded as failed, and cells that were in flight together
    run again one at a time, so a second death names its cell and the others are not blamed for it."""

    folder: Path
    workers: int
    log_dir: Path
    cores: int | None = None

    def _pool(self, threads: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(threads, str(self.log_dir), os.getpid()))

    def __call__(self, cells: list[Cell], on_start: OnStart, on_done: OnDone) -> None:
        threads = worker_threads(self.workers, self.cores)
        pool = self._pool(threads)
        pending = list(cells)
        running: dict[Future, Cell] = {}
        alone: set[str] = set()  # cells in flight when a worker died: each runs again by itself
        started: set[str] = set()
        try:
            while pending or running:
                while pending and len(running) < self.workers:  # submit only what can start now
                    if pending[0].cell_id in alone and running:
                        break
                    cell = pending.pop(0)
                    running[pool.submit(execute_cell, cell, str(self.folder), threads)] = cell
                    if cell.cell_id not in started:
                        started.add(cell.cell_id)
                        on_start(cell)
                    if cell.cell_id in alone:
                        break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                if any(isinstance(f.exception(), BrokenProcessPool) for f in finished):
                    finished, _ = wait(running)  # the break fails every cell in flight at once
                lost = []
                for future in finished:
                    cell = running.pop(future)
                    if isinstance(future.exception(), BrokenProcessPool):
                        lost.append(cell)
                    else:
                        on_done(cell, self._outcome(cell, future))
                if lost:
                    _stop_pool(pool)
                    pool = self._pool(threads)
                    if len(lost) == 1:
                        on_done(lost[0], self._died(lost[0]))
                    else:
                        alone.update(c.cell_id for c in lost)
                        pending[:0] = lost
        except BaseException:
            _stop_pool(pool)
            raise
        pool.shutdown(wait=True)

    def _outcome(self, cell: Cell, future: Future) -> CellOutcome:
        try:
            return future.result()
        except KeyboardInterrupt:
            raise
        except Exception as err:  # noqa: BLE001 - the result could not come back: record it
            return self._record_failure(cell, err)

    def _died(self, cell: Cell) -> CellOutcome:
        err = WorkerDied(f"the worker process running this cell died before writing its record (killed for "
                         f"memory, os._exit or a crash in native code); its output is in {self.log_dir}/worker-*.log.")
        return self._record_failure(cell, err)

    def _record_failure(self, cell: Cell, err: BaseException) -> CellOutcome:
        record = failed_record(cell, err, time.time())
        write_record(record, self.folder)
        return CellOutcome(cell.cell_id, "failed", 0.0, record["error"])


class WorkerDied(RuntimeError):
    """A pool worker ended while running a cell, so the cell wrote no record of its own."""


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel queued cells and terminate the workers (cells in flight are not recorded)."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public terminate before Python 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=10)


@dataclass
class SubmititOptions:
    """Resources of each array task (one cell per task)."""

    partition: str | None = None
    timeout_min: int = 60
    cpus_per_task: int = 2
    gpus_per_node: int = 0
    mem_gb: float | None = None
    array_parallelism: int | None = None
    wait: bool = True
    poll_seconds: float = 2.0


@dataclass
class Submitit:
    """Cells as one job array through submitit (`AutoExecutor`): SLURM when `sbatch` is there, else submitit's
    local executor (`cluster="local"` forces it). Records are written by the tasks into the same cells folder, so
    `folder` must be on storage shared with the compute nodes. With `options.wait` the call follows the jobs and
    records a failed cell for a task that died before writing (time limit, node failure)."""

    folder: Path
    submitit_folder: Path
    name: str
    options: SubmititOptions
    cluster: str | None = None
    jobs: list[Any] | None = None

    def executor(self, num_cells: int):
        try:
            import submitit
        except ImportError as err:
            raise ImportError("--launcher slurm needs submitit. Make sure it is installed: "
                              "pip install 'emobench[slurm]'.") from err
        executor = submitit.AutoExecutor(folder=self.submitit_folder, cluster=self.cluster)
        o = self.options
        threads = o.cpus_per_task
        if executor.cluster == "local":  # the local executor starts every task at once, with no cap
            threads = worker_threads(num_cells)
            if self.cluster is None:
                console.print(f"[yellow]no SLURM found:[/yellow] submitit's local executor runs all {num_cells} "
                              f"task(s) at once on this machine ({threads} thread(s) each); --workers N caps "
                              "them.", highlight=False)
        executor.update_parameters(name=f"emobench-{self.name}", timeout_min=o.timeout_min,
                                   cpus_per_task=o.cpus_per_task, gpus_per_node=o.gpus_per_node, mem_gb=o.mem_gb,
                                   slurm_partition=o.partition, slurm_array_parallelism=o.array_parallelism)
        return executor, threads

    def __call__(self, cells: list[Cell], on_start: OnStart, on_done: OnDone) -> None:
        executor, threads = self.executor(len(cells))
        jobs = executor.map_array(execute_cell, cells, [str(self.folder)] * len(cells), [threads] * len(cells))
        self.jobs = jobs
        for cell in cells:
            on_start(cell)
        if not self.options.wait:
            return
        running = dict(zip(jobs, cells, strict=True))
        try:
            while running:
                for job in [j for j in running if j.done()]:
                    cell = running.pop(job)
                    on_done(cell, self._outcome(cell, job))
                if running:
                    time.sleep(self.options.poll_seconds)
        except BaseException:
            for job in running:
                job.cancel(check=False)
            raise

    def _outcome(self, cell: Cell, job: Any) -> CellOutcome:
        try:
            return job.result()
        except Exception as err:  # noqa: BLE001 - the task died before writing its record
            if (self.folder / f"{cell.cell_id}.json").is_file():
                return CellOutcome(cell.cell_id, "failed", 0.0, f"job {job.job_id}: {err}")
            record = failed_record(cell, err, time.time())
            lines = str(err).strip().splitlines()
            record["error"] = f"submitit job {job.job_id} failed: {lines[-1] if lines else type(err).__name__}"
            write_record(record, self.folder)
            return CellOutcome(cell.cell_id, "failed", 0.0, record["error"])
