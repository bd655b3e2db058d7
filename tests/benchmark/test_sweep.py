"""`emobench sweep`: grid expansion and identity, resume after a finished or interrupted sweep, failure isolation,
shards, the local process pool and submitit's local executor. Twins in tmp_path, W&B disabled."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import torch
import yaml

import emobench.benchmark.run_cell as run_cell_module
from emobench.benchmark import grid, launchers
from emobench.benchmark.cli import main
from emobench.benchmark.config import ConfigError
from emobench.benchmark.store import cells_dir, load_records
from emobench.benchmark.sweep import execute_cell, run_sweep, worker_threads
from emobench.models import MODELS, EmotionModel, ModelOutput

TINY = {"trainer": {"max_epochs": 1}, "data_args": {"num_samples": 200, "seq_len": 8, "batch_size": 32}}


def write_sweep(tmp_path: Path, name: str = "t", **fields) -> Path:
    """A sweep file in tmp_path; tiny twins and 1 epoch unless `defaults` says otherwise."""
    data = {"name": name, "seeds": [0], "folds": [0], "defaults": TINY, **fields}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def sweep(*args: str, out: Path) -> int:
    return main(["sweep", *args, "--output", str(out), "--wandb", "disabled", "--quiet", "--no-leaderboard"])


def records(out: Path, name: str) -> list[dict]:
    return load_records(cells_dir(out, name))


@pytest.fixture
def count_cells(monkeypatch):
    """Counts calls of run_cell (the real one still runs)."""
    calls = []
    real = run_cell_module.run_cell

    def counting(cfg):
        calls.append((cfg.model, cfg.dataset, cfg.seed))
        return real(cfg)

    monkeypatch.setattr(run_cell_module, "run_cell", counting)
    return calls


@pytest.fixture
def broken_models():
    """Registered models whose forward goes wrong: NaN logits, CUDA-style out of memory, Ctrl-C inside fit."""

    class NanModel(EmotionModel, name="test_nan"):
        def __init__(self, task, modalities, label_stats=None, **kwargs) -> None:
            super().__init__(task, modalities, label_stats, **kwargs)
            self.weight = torch.nn.Parameter(torch.zeros(task.num_labels))

        def forward(self, batch):  # diverges in training only, as a too-high learning rate does
            scale = float("nan") if self.training else 1.0
            return ModelOutput(logits=self.weight.expand(len(batch), -1) * scale)

    class OomModel(NanModel, name="test_oom"):
        def forward(self, batch):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (simulated)")

    class InterruptModel(NanModel, name="test_interrupt"):
        def forward(self, batch):
            raise KeyboardInterrupt

    yield
    for name in ("test_nan", "test_oom", "test_interrupt"):
        MODELS._classes.pop(name, None)


# ---- grid ---------------------------------------------------------------------------------------------------------
def test_grid_order_layers_and_identity(tmp_path):
    path = write_sweep(
        tmp_path, models=["prior", "early_fusion"], datasets=["synthetic-mosei", "synthetic-deap"], seeds=[0, 1],
        defaults={**TINY, "model_args": {"lr": 0.1}},
        dataset_overrides={"synthetic-deap": {"model_args": {"lr": 0.2}, "data_args": {"batch_size": 16}}},
        model_overrides={"early_fusion": {"model_args": {"lr": 0.3}}})
    cfg, cells = grid.load_grid(path, ["trainer.max_epochs=2"], output=str(tmp_path / "out"))
    assert [(c.model, c.dataset, c.seed) for c in cells] == [
        (m, d, s) for m in ("prior", "early_fusion") for d in ("synthetic-mosei", "synthetic-deap") for s in (0, 1)]
    lr = {(c.model, c.dataset): c.config["model_args"]["lr"] for c in cells}
    assert lr == {("prior", "synthetic-mosei"): 0.1, ("prior", "synthetic-deap"): 0.2,
                  ("early_fusion", "synthetic-mosei"): 0.3, ("early_fusion", "synthetic-deap"): 0.3}
    assert all(c.config["trainer"]["max_epochs"] == 2 and c.config["sweep"] == "t" for c in cells)
    assert cells[2].config["data_args"]["batch_size"] == 16
    assert len({c.cell_id for c in cells}) == len(cells)
    again = grid.load_grid(path, ["trainer.max_epochs=2"], output=str(tmp_path / "elsewhere"))[1]
    assert [c.cell_id for c in again] == [c.cell_id for c in cells]  # the output folder is not part of the id


def test_folds_all_follows_each_protocol(tmp_path):
    path = write_sweep(tmp_path, models=["prior"], datasets=["synthetic-mosei", "synthetic-deap"], folds="all")
    _, cells = grid.load_grid(path)
    from emobench.datamodules import DATAMODULES

    deap_folds = DATAMODULES.get("synthetic-deap")(**TINY["data_args"]).num_folds
    assert deap_folds > 1
    assert [(c.dataset, c.fold) for c in cells] == [("synthetic-mosei", 0)] + [
        ("synthetic-deap", k) for k in range(deap_folds)]


@pytest.mark.parametrize(
    ("fields", "overrides", "message"),
    [
        ({"modles": ["prior"]}, [], "modles"),
        ({"defaults": {"trainer": {"max_epoch": 3}}}, [], "max_epoch"),
        ({"model_overrides": {"prior": {"model_arg": {}}}}, [], "model_arg"),
        ({"model_overrides": {"priorr": {"model_args": {"lr": 1.0}}}}, [], "model_overrides.priorr"),
        ({"datasets": ["synthetic-mosei", "no-such-data", "other-missing"]}, [], "dataset no-such-data; dataset other"),
        ({"defaults": {"seed": 3}}, [], "grid owns"),
        ({}, ["seed=3"], "seeds=[...]"),
        ({"folds": "some"}, [], "folds=some"),
    ],
)
def test_sweep_file_errors_name_the_problem(tmp_path, fields, overrides, message):
    base = {"models": ["prior"], "datasets": ["synthetic-mosei"]}
    path = write_sweep(tmp_path, **{**base, **fields})
    with pytest.raises(ConfigError) as err:
        grid.load_grid(path, overrides)
    assert message in str(err.value)
    assert str(path) in str(err.value) or "seed=3" in str(err.value)


def test_variants_keep_their_own_label_and_class_defaults(tmp_path, count_cells):
    path = write_sweep(
        tmp_path, models=["early_fusion", "early_fusion-wide"], datasets=["synthetic-mosei"],
        model_defaults=False, model_overrides={"early_fusion-wide": {"model": "early_fusion",
                                                                     "model_args": {"threshold": 0.35}}})
    _, cells = grid.load_grid(path)
    assert [c.model for c in cells] == ["early_fusion", "early_fusion-wide"]
    assert [c.config["model"] for c in cells] == ["early_fusion", "early_fusion"]
    assert cells[0].config["model_args"] == {} and cells[1].config["model_args"] == {"threshold": 0.35}
    out = tmp_path / "out"
    assert sweep(str(path), out=out) == 0
    assert sorted(r["model"] for r in records(out, "t")) == ["early_fusion", "early_fusion-wide"]


# ---- running, resuming, failures ------------------------------------------------------------------------------
def test_smoke_sweep_end_to_end_then_nothing_to_rerun(tmp_path, count_cells, capsys):
    out = tmp_path / "out"
    assert main(["sweep", "smoke", "--output", str(out), "--wandb", "disabled"]) == 0
    _, cells = grid.load_grid("smoke")
    found = records(out, "smoke")
    assert sorted(r["cell_id"] for r in found) == sorted(c.cell_id for c in cells)
    assert all(r["status"] == "ok" and r["config"]["wandb"]["mode"] == "disabled" for r in found)
    assert len(count_cells) == len(cells) == 8
    assert (out / "smoke" / "leaderboard").is_dir()
    count_cells.clear()
    assert sweep("smoke", out=out) == 0
    assert count_cells == []
    assert "skipped: ok record exists" in capsys.readouterr().out
    assert sweep("smoke", "--force", "models=[prior]", "seeds=[0]", out=out) == 0
    assert len(count_cells) == 2


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_interrupted_sweep_keeps_finished_records_and_resumes(tmp_path, monkeypatch, stop):
    """kill in the middle (Ctrl-C; Lightning turns it into SystemExit): only complete records; the rerun computes
    only the missing cells."""
    out = tmp_path / "out"
    real = run_cell_module.run_cell
    calls = []

    def third_cell_interrupted(cfg):
        calls.append(cfg.model)
        if len(calls) == 3:
            raise stop()
        return real(cfg)

    monkeypatch.setattr(run_cell_module, "run_cell", third_cell_interrupted)
    assert sweep("smoke", out=out) == 130
    folder = cells_dir(out, "smoke")
    assert sorted(p.suffix for p in folder.iterdir()) == [".json", ".json"]  # no temp or partial file
    assert all(r["status"] == "ok" for r in records(out, "smoke"))
    calls.clear()
    monkeypatch.setattr(run_cell_module, "run_cell", lambda cfg: (calls.append(1), real(cfg))[1])
    assert sweep("smoke", out=out) == 0
    assert len(calls) == 6 and len(records(out, "smoke")) == 8


def test_failed_cells_are_recorded_and_the_sweep_goes_on(tmp_path, broken_models, count_cells, capsys):
    path = write_sweep(tmp_path, models=["prior", "test_nan", "test_oom", "early_fusion"],
                       datasets=["synthetic-mosei"])
    out = tmp_path / "out"
    assert sweep(str(path), out=out) == 1
    by_model = {r["model"]: r for r in records(out, "t")}
    assert {m: r["status"] for m, r in by_model.items()} == {
        "prior": "ok", "test_nan": "failed", "test_oom": "failed", "early_fusion": "ok"}
    nan = by_model["test_nan"]
    assert nan["error_type"] == "FloatingPointError" and "non-finite training loss" in nan["error"]
    assert "Traceback" in nan["traceback"] or "FloatingPointError" in nan["traceback"]
    assert 0 < len(nan["traceback"].splitlines()) <= 20
    assert nan["config"]["model"] == "test_nan" and nan["config"]["trainer"]["max_epochs"] == 1
    assert by_model["test_oom"]["error_type"] == "OutOfMemoryError"
    summary = capsys.readouterr().out
    assert "failed cells" in summary and "test_nan" in summary and "test_oom" in summary
    count_cells.clear()
    assert sweep(str(path), out=out) == 1  # failed records stay failed, nothing reruns
    assert count_cells == []
    assert sweep(str(path), "--rerun-failed", out=out) == 1
    assert sorted(m for m, *_ in count_cells) == ["test_nan", "test_oom"]


def test_ctrl_c_inside_lightning_stops_without_a_record(tmp_path, broken_models):
    path = write_sweep(tmp_path, models=["prior", "test_interrupt", "early_fusion"], datasets=["synthetic-mosei"])
    out = tmp_path / "out"
    before = signal.getsignal(signal.SIGINT)  # default_int_handler; SIG_IGN where the suite runs in the background
    assert sweep(str(path), out=out) == 130
    assert [r["model"] for r in records(out, "t")] == ["prior"]
    assert signal.getsignal(signal.SIGINT) is before  # the handler found is back: Ctrl-C works again afterwards


# ---- scale-out -------------------------------------------------------------------------------------------------
def test_shards_partition_the_grid(tmp_path):
    _, cells = grid.load_grid("default")
    parts = [grid.shard(cells, f"{i}/3") for i in range(3)]
    ids = [c.cell_id for part in parts for c in part]
    assert len(ids) == len(set(ids)) == len(cells)
    assert all(abs(len(p) - len(cells) / 3) < 1 for p in parts)
    with pytest.raises(ConfigError, match="i/N"):
        grid.shard(cells, "3")
    out = tmp_path / "out"
    for i in range(3):
        assert sweep("smoke", "--shard", f"{i}/3", out=out) == 0
    _, smoke = grid.load_grid("smoke")
    assert sorted(r["cell_id"] for r in records(out, "smoke")) == sorted(c.cell_id for c in smoke)


def test_workers_2_runs_a_4_cell_grid(tmp_path):
    path = write_sweep(tmp_path, models=["prior", "early_fusion"], datasets=["synthetic-mosei", "synthetic-m3ed"])
    out = tmp_path / "out"
    assert sweep(str(path), "--workers", "2", out=out) == 0
    found = records(out, "t")
    assert len(found) == 4 and all(r["status"] == "ok" for r in found)
    assert {r["config"]["trainer"]["num_threads"] for r in found} == {worker_threads(2)}
    assert all(r["config"]["trainer"]["progress_bar"] is False for r in found)
    assert len(list((out / "t" / "logs").glob("worker-*.log"))) >= 1


def test_submitit_local_executor_runs_a_2_cell_grid(tmp_path):
    pytest.importorskip("submitit")
    path = write_sweep(tmp_path, models=["prior"], datasets=["synthetic-mosei", "synthetic-iemocap"])
    cfg, cells = grid.load_grid(path, ["wandb.mode=disabled", "trainer.progress_bar=false"],
                                output=str(tmp_path / "out"))
    folder = cells_dir(tmp_path / "out", cfg.name)
    options = launchers.SubmititOptions(timeout_min=10, cpus_per_task=1, poll_seconds=0.5)
    launch = launchers.Submitit(folder, tmp_path / "out" / "t" / "submitit", cfg.name, options, cluster="local")
    result = run_sweep(cfg.name, cells, folder, launch, plain=True)
    assert result.ok == 2 and not result.failed
    assert sorted(r["cell_id"] for r in records(tmp_path / "out", "t")) == sorted(c.cell_id for c in cells)
    assert len(launch.jobs) == 2 and list((tmp_path / "out" / "t" / "submitit").glob("*_log.out"))


def test_execute_cell_records_a_failure_instead_of_raising(tmp_path, broken_models):
    path = write_sweep(tmp_path, models=["test_nan"], datasets=["synthetic-iemocap"])
    _, cells = grid.load_grid(path, ["wandb.mode=disabled", "trainer.progress_bar=false"],
                              output=str(tmp_path / "out"))
    outcome = execute_cell(cells[0], str(tmp_path / "cells"))
    assert outcome.status == "failed" and outcome.error.startswith("FloatingPointError")
    record = json.loads((tmp_path / "cells" / f"{cells[0].cell_id}.json").read_text())
    assert record["status"] == "failed" and record["cell_id"] == cells[0].cell_id


def test_options_may_follow_the_overrides(tmp_path):
    out = tmp_path / "out"
    code = main(["sweep", "smoke", "models=[prior]", "--output", str(out), "seeds=[0]", "--dry-run"])
    assert code == 0 and not (out / "smoke" / "cells").exists()
