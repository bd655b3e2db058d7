"""A cell run on two CPU processes (`trainer.devices=2 trainer.strategy=ddp`): every test row is scored exactly
once (no padded repeats), the logged losses cover both processes, and only rank 0 writes and prints the record and
reports to W&B (offline here, its folders in tmp_path)."""

from __future__ import annotations

import os
import subprocess
import sys

import lightning as L
import pytest

from emobench.benchmark.config import from_cli, merge_cell
from emobench.benchmark.run_cell import build, quiet_lightning
from emobench.benchmark.store import cells_dir, load_records

# 100 rows of the MOSEI twin (8 steps) split 67 / 10 / 23: with batches of 11, rank 0 scores 12 test rows in 2 batches and
# rank 1 11 rows in 1 batch, so a padded split would repeat a row and the ranks run unequal batch counts.
CELL = ["model=early_fusion", "dataset=synthetic-mosei", "seed=0", "data_args.num_samples=100",
        "data_args.batch_size=11"]


@pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`")
def test_ddp_cell_scores_each_test_row_once_and_writes_one_record(tmp_path, tiny_overrides):
    overrides = [*tiny_overrides, *CELL]
    env = {**os.environ, "COLUMNS": "400", "OMP_NUM_THREADS": "1"}  # COLUMNS: rich does not wrap the lines
    ddp = ["trainer.accelerator=cpu", "trainer.devices=2", "trainer.strategy=ddp", "wandb.mode=offline"]
    proc = subprocess.run([sys.executable, "-m", "emobench.benchmark.cli", "run", *overrides, *ddp], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]  # rank 0's exit code does not report rank 1's
    assert proc.stdout.count("record written to") == 1, proc.stdout  # rank 1 neither writes nor prints
    out = tmp_path / "out"
    (record,) = load_records(cells_dir(out, "single"))
    assert record["status"] == "ok" and record["split_sizes"]["test"] == 23

    quiet_lightning()
    datamodule, model = build(merge_cell(from_cli(overrides)))
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                        enable_model_summary=False)
    (single,) = trainer.test(model, datamodule=datamodule, ckpt_path=out / "single" / record["checkpoint"],
                             weights_only=True, verbose=False)
    assert set(single) == set(record["metrics"]) and "test/loss" in single
    for name, value in single.items():  # one repeated row moves the loss and the counts by about 1/23
        assert record["metrics"][name] == pytest.approx(value, rel=1e-5, abs=1e-6), name
