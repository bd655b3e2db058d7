"""Nothing outlives a sweep: pool workers exit when the sweep's process is killed, and a rerun of a cell removes the
checkpoint folders of earlier attempts that never wrote a record."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emobench.benchmark.cli import main
from emobench.benchmark.config import from_cli, merge_cell
from emobench.benchmark.identity import cell_id
from emobench.benchmark.store import cells_dir

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state, ppid, ...), or None when gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def children(pid: int) -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and (_stat(int(p.name)) or [0, 0])[1]
            == str(pid)]


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for init to reap it)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@linux_only
def test_pool_workers_exit_when_the_sweep_is_killed(tmp_path):
    out = tmp_path / "out"
    logs = out / "smoke" / "logs"
    output = tmp_path / "sweep.out"
    # cells of 1000 epochs: the sweep is still running whenever the workers are seen (it is killed long before);
    # with the smoke sweep's 0.1-0.4 s cells, it once ended before a 0.1 s poll saw both workers
    with output.open("w") as sink:  # the child keeps its own copy of the file
        sweep = subprocess.Popen(
            [sys.executable, "-m", "emobench.benchmark.cli", "sweep", "smoke", "--workers", "2", "--output",
             str(out), "--wandb", "disabled", "--quiet", "--no-leaderboard", "data_args.num_samples=200",
             "trainer.max_epochs=1000", "trainer.min_epochs=1000"],
            stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def workers_ready() -> list[int]:  # a worker writes its log file once its initializer ran
            return [pid for pid in children(sweep.pid) if (logs / f"worker-{pid}.log").is_file()]

        assert wait_until(lambda: len(workers_ready()) == 2 or sweep.poll() is not None, 300)
        workers = workers_ready()
        assert len(workers) == 2 and sweep.poll() is None, (
            f"the sweep ended (exit {sweep.poll()}) before its workers started: {output.read_text()[-2000:]}")
        os.kill(sweep.pid, signal.SIGKILL)
        sweep.wait()
        wait_until(lambda: not any(running(pid) for pid in workers), 10)
        assert [pid for pid in workers if running(pid)] == [], "pool workers outlived the killed sweep"
    finally:
        try:
            os.killpg(sweep.pid, signal.SIGKILL)  # whatever is left of this test's process group
        except ProcessLookupError:
            pass
        sweep.wait()


# The process that stands in for a pool worker (its parent's pid is argv[1]), with the Linux death signal switched
# off (prctl option 0 is invalid and does nothing), so that only the polling thread can end it.
ORPHAN = """
import sys, time
from emobench.benchmark import launchers
launchers.PR_SET_PDEATHSIG = 0
launchers.exit_with_parent(int(sys.argv[1]), poll_seconds=0.1)
print("ready", flush=True)
time.sleep(600)
"""
PARENT = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], str(os.getpid())])
print(child.pid, flush=True)
time.sleep(600)
"""


@linux_only
def test_polling_alone_ends_a_worker_whose_parent_was_killed():
    parent = subprocess.Popen([sys.executable, "-c", PARENT, ORPHAN], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        worker = int(parent.stdout.readline())
        assert parent.stdout.readline().strip() == "ready"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        wait_until(lambda: not running(worker), 5)
        assert not running(worker), "the worker outlived its killed parent"
    finally:
        try:
            os.killpg(parent.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        parent.wait()
        parent.stdout.close()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_rerun_removes_checkpoints_of_attempts_without_a_record(tmp_path, tiny_overrides):
    overrides = [*tiny_overrides, "model=prior", "dataset=synthetic-mosei"]
    cfg = merge_cell(from_cli(overrides))
    checkpoints = tmp_path / "out" / "single" / "runs" / cell_id(cfg) / "checkpoints"
    host, alive = socket.gethostname(), subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        planted = {
            "dead": f"attempt-{host}-{_dead_pid()}-1700000000",  # killed on this host before writing a record
            "other_host": "attempt-elsewhere.example-123-1700000001",  # a cell runs once at a time: done
            "unnamed_host": f"attempt-{_dead_pid()}-1700000002",  # the folder name before it carried the host
            "unparseable": "attempt-notes",  # not a name this code writes: removed, no crash
            "in_flight": f"attempt-{host}-{alive.pid}-1700000003",  # a live process on this host: kept
        }
        for name in planted.values():
            (checkpoints / name).mkdir(parents=True)
            (checkpoints / name / "best.ckpt").write_bytes(b"x")
        assert main(["run", *overrides]) == 0
        record_path = cells_dir(tmp_path / "out", "single") / f"{cell_id(cfg)}.json"
        first = json.loads(record_path.read_text())["checkpoint"]
        assert (tmp_path / "out" / "single" / first).is_file()
        left = {p.name for p in checkpoints.iterdir()}
        assert left == {planted["in_flight"], Path(first).parent.name}

        # A rerun keeps the attempt its ok record reports until a new record replaces it.
        (checkpoints / planted["dead"]).mkdir()
        assert main(["run", *overrides]) == 0
        second = json.loads(record_path.read_text())["checkpoint"]
        assert second != first
        assert {p.name for p in checkpoints.iterdir()} == {planted["in_flight"], Path(first).parent.name,
                                                            Path(second).parent.name}
    finally:
        alive.kill()
        alive.wait()
