"""The README's crash claims, tested by crashing: a record write killed by SIGKILL mid-write leaves the old record or
none, never a partial file; a pool worker or a submitit task that dies before writing its record leaves a failed
record and the other cells run; an unreadable record is rerun by `emobench sweep`, which says so."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

import emobench.benchmark.run_cell as run_cell_module
from emobench.benchmark import grid, launchers
from emobench.benchmark.cli import main
from emobench.benchmark.store import cells_dir, load_records, read_record, write_record
from emobench.benchmark.sweep import existing_status, run_sweep

TINY = {"trainer": {"max_epochs": 1}, "data_args": {"num_samples": 120, "seq_len": 8, "batch_size": 32}}

# Runs in a child process: json.dump writes half of the record into the temp file, says so on stdout, then blocks
# until the parent kills the child with SIGKILL.
HALF_WRITE = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from emobench.benchmark import store

    def half_then_block(obj, handle, **kwargs):
        text = json.dumps(obj, **kwargs)
        handle.write(text[: len(text) // 2])
        handle.flush()
        print("half written", flush=True)
        time.sleep(120)

    store.json.dump = half_then_block
    store.write_record(json.loads(sys.argv[2]), Path(sys.argv[1]))
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("old", [None, {"cell_id": "c1", "status": "failed", "error": "the earlier attempt"}])
def test_sigkill_mid_write_leaves_the_old_record_or_none(tmp_path, old):
    folder = tmp_path / "cells"
    if old is not None:
        write_record(old, folder)
    new = {"cell_id": "c1", "status": "ok", "metrics": {f"m{i}": i / 7 for i in range(200)}}
    child = subprocess.Popen([sys.executable, "-c", HALF_WRITE, str(folder), json.dumps(new)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "half written"
        [temp] = [p for p in folder.iterdir() if p.name != "c1.json"]  # the write is under way, half done
        assert 0 < temp.stat().st_size < len(json.dumps(new, indent=1, sort_keys=True))
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    record = folder / "c1.json"
    if old is None:
        assert not record.exists()
        assert load_records(folder) == [] and existing_status(folder) == {}
    else:
        assert read_record(record) == old
        assert load_records(folder) == [old] and existing_status(folder) == {"c1": "failed"}
    write_record(new, folder)  # the next attempt writes its record over whatever the kill left
    assert read_record(record) == new


# ---- cells whose process dies ------------------------------------------------------------------------------------
DYING = textwrap.dedent('''
    """A model whose forward ends its own process, as an out-of-memory kill or a crash in native code does
    (`how="exit"` / `"sigkill"`), or, with `how="sleep"`, takes a few seconds over its first step and then learns."""
    import os
    import signal
    import time

    import torch

    from emobench.models import EmotionModel, ModelOutput


    class Dying(EmotionModel, name="test_dying"):
        def __init__(self, task, modalities, label_stats=None, how: str = "exit", **kwargs):
            super().__init__(task, modalities, label_stats, **kwargs)
            self.how, self.slept = how, False
            self.weight = torch.nn.Parameter(torch.zeros(task.num_labels))

        def forward(self, batch):
            if self.how == "exit":
                os._exit(3)
            if self.how == "sigkill":
                os.kill(os.getpid(), signal.SIGKILL)
            if not self.slept:
                time.sleep(4)  # still in flight when the other worker dies
                self.slept = True
            return ModelOutput(logits=self.weight.expand(len(batch), -1))
''')


def dying_sweep(tmp_path: Path, how: str, models: list[str]) -> Path:
    """A sweep over `models` on the MOSEI twin; `test_dying` dies as `how` says, `sleeper` is the sleeping variant."""
    module = tmp_path / "dying_model.py"
    module.write_text(DYING)
    path = tmp_path / "t.yaml"
    overrides = {"test_dying": {"model_args": {"how": how}},
                 "sleeper": {"model": "test_dying", "model_args": {"how": "sleep"}}}
    path.write_text(yaml.safe_dump({"name": "t", "models": models, "datasets": ["synthetic-mosei"], "seeds": [0],
                                    "folds": [0], "defaults": {**TINY, "imports": [str(module)]},
                                    "model_overrides": {k: v for k, v in overrides.items() if k in models}}))
    return path


def test_a_pool_worker_that_dies_leaves_a_failed_record_and_the_other_cells_run(tmp_path, capsys):
    """`os._exit` in a cell (SIGKILL, as the out-of-memory killer sends, is tested with submitit). The dying cell and the sleeper start together, so the sleeper is in flight when the pool breaks: it runs
    again and is not blamed; the dying cell, run again by itself, is recorded as failed; later cells run."""
    path = dying_sweep(tmp_path, "exit", ["test_dying", "sleeper", "prior"])
    out = tmp_path / "out"
    code = main(["sweep", str(path), "--workers", "2", "--output", str(out), "--wandb", "disabled", "--quiet",
                 "--no-leaderboard"])
    assert code == 1
    by_model = {r["model"]: r for r in load_records(cells_dir(out, "t"))}
    assert {m: r["status"] for m, r in by_model.items()} == {"test_dying": "failed", "sleeper": "ok", "prior": "ok"}
    dead = by_model["test_dying"]
    assert dead["error_type"] == "WorkerDied" and "worker process running this cell died" in dead["error"]
    assert dead["config"]["model_args"] == {"how": "exit"}
    printed = capsys.readouterr().out
    assert "failed test_dying" in printed and "failed sleeper" not in printed and "failed prior" not in printed
    assert printed.count("start sleeper") == 1  # a cell run again is not reported as started twice


def test_a_submitit_task_that_dies_before_its_record_is_recorded_as_failed(tmp_path):
    """SIGKILL, as SLURM ends a task at its time limit or a node failure does."""
    pytest.importorskip("submitit")
    path = dying_sweep(tmp_path, "sigkill", ["test_dying", "prior"])
    cfg, cells = grid.load_grid(path, ["wandb.mode=disabled", "trainer.progress_bar=false"],
                                output=str(tmp_path / "out"))
    folder = cells_dir(tmp_path / "out", cfg.name)
    options = launchers.SubmititOptions(timeout_min=10, cpus_per_task=1, poll_seconds=0.5)
    launch = launchers.Submitit(folder, tmp_path / "out" / "t" / "submitit", cfg.name, options, cluster="local")
    result = run_sweep(cfg.name, cells, folder, launch, plain=True)
    assert result.ok == 1 and [cell.model for cell, _ in result.failed] == ["test_dying"]
    by_model = {r["model"]: r for r in load_records(folder)}
    assert by_model["prior"]["status"] == "ok"
    dead = by_model["test_dying"]
    assert dead["status"] == "failed" and dead["error"].startswith("submitit job") and dead["traceback"]
    assert dead["config"]["model"] == "test_dying"


# ---- unreadable records ------------------------------------------------------------------------------------------
def test_sweep_reruns_a_cell_whose_record_cannot_be_read_and_says_so(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    args = ["sweep", "smoke", "models=[prior]", "seeds=[0]", "--output", str(out), "--wandb", "disabled", "--quiet"]
    assert main(args) == 0
    folder = cells_dir(out, "smoke")
    bad, good = sorted(folder.glob("*.json"))
    good_before = good.read_text()
    bad.write_text(bad.read_text()[:40])  # cut short by an outside edit
    capsys.readouterr()
    real, ran = run_cell_module.run_cell, []
    monkeypatch.setattr(run_cell_module, "run_cell", lambda cfg: (ran.append(cfg.dataset), real(cfg))[1])
    assert main(args) == 0
    assert len(ran) == 1 and read_record(bad)["status"] == "ok" and read_record(bad)["cell_id"] == bad.stem
    assert good.read_text() == good_before  # the readable record was not redone
    printed = capsys.readouterr().out
    assert "unreadable record" in printed and bad.name in printed.replace("\n", "")
    assert (out / "smoke" / "leaderboard" / "overall.csv").is_file()  # the table now reads every record
