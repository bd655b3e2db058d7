"""`emobench perf` runs the benchmark scripts, prints their figures and writes the report's files (no timing is
asserted)."""

from __future__ import annotations

import csv
import time

import lightning as L
import pytest
import torch

from emobench.benchmark import perf_data, perf_ot, perf_report
from emobench.benchmark.cli import main
from emobench.benchmark.fit_clock import FitClock


def test_perf_models_prints_step_time_and_parameters(capsys):
    assert main(["perf", "models", "prior", "early_fusion", "--steps", "1", "--warmup", "0", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "early_fusion" in out and "prior" in out


def test_perf_cache_prints_first_and_cached_setup(capsys):
    assert main(["perf", "cache", "--mosei-fraction", "0.002", "--m3ed-dialogues-per-series", "1",
                 "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "mosei" in out and "m3ed-utterance" in out and "target" in out


def test_perf_ot_prints_the_ot_module_time(capsys):
    rows = perf_ot.main(["--repeats", "1", "--warmup", "0", "--threads", "1", "--batch-size", "4", "--tokens", "8"])
    out = capsys.readouterr().out
    assert "64 problems" not in out and "4 problems of 8 x 8" in out
    assert [(r["grad"], r["costs"]) for r in rows[:6]] == [
        (grad, costs) for grad in ("implicit", "autodiff", "envelope") for costs in ("narrow", "broad")]
    assert all(r["median_ms"] > 0 and r["iterations"] >= 1 for r in rows[:6]) and "reference" in out
    assert main(["perf", "ot", "--repeats", "1", "--warmup", "0", "--threads", "1", "--batch-size", "2"]) == 0


def test_perf_prepare_prints_throughput_and_projection(capsys):
    for dataset, extra in (("deap", ["--workers", "1"]), ("dreamer", []), ("wesad", ["--workers", "1"])):
        assert main(["perf", "prepare", dataset, "--subjects", "1", "--trials", "2", *extra]) == 0
        out = capsys.readouterr().out
        assert f"{dataset}: 1 2-trial subject(s)" in out and "MB/s" in out
        assert f"projected for all {dict(deap=32, dreamer=23, wesad=15)[dataset]} subjects" in out


def test_perf_report_writes_csv_and_markdown(tmp_path, capsys):
    """One model x twin through the runner's Trainer and the M3ED reader on small generated files: the CSV rows, the
    Markdown sections and the printed lines are there (figures are not checked against any speed)."""
    out = tmp_path / "perf"
    assert main(["perf", "report", "--out", str(out), "--models", "early_fusion", "--datasets", "synthetic-mosei",
                 "--steps", "1", "--warmup", "0", "--epochs", "1", "--threads", "1", "--data", "m3ed",
                 "--data-fraction", "0.02"]) == 0
    models = list(csv.DictReader((out / "perf_models.csv").open()))
    assert [(r["model"], r["dataset"], r["device"], r["precision"]) for r in models] == [
        ("early_fusion", "synthetic-mosei", "cpu", "32")]
    row = models[0]
    assert int(row["parameters"]) > 0 and int(row["train_steps"]) > 0 and int(row["val_batches"]) > 0
    assert float(row["step_ms"]) > 0 and float(row["fit_s"]) > 0 and float(row["overhead"]) < 1
    assert 0 < 1 - float(row["overhead_in_fit"]) < 1  # the fit clock's windows: some, but not all, of the fit
    data = list(csv.DictReader((out / "perf_data.csv").open()))
    assert [(r["entry"], r["dataset"]) for r in data] == [("m3ed", "m3ed"), ("m3ed", "m3ed-utterance")]
    assert all(int(r["samples"]) > 0 and float(r["first_setup_s"]) > 0 for r in data)
    report = (out / "perf_report.md").read_text()
    assert "## Models x twins" in report and "| early_fusion | synthetic-mosei |" in report and "| m3ed |" in report
    assert not (out / "perf_sweep.csv").exists() and "report written" in capsys.readouterr().out


def test_perf_report_breakdown_splits_the_overhead_of_equal_work(tmp_path, capsys):
    """--breakdown fits the cell again as a plain loop and through a bare Trainer (the run raises if either did other
    work than the runner's fit) and its three shares add up to the overhead."""
    out = tmp_path / "perf"
    assert main(["perf", "report", "--out", str(out), "--models", "early_fusion", "--datasets", "synthetic-wesad",
                 "--steps", "1", "--warmup", "0", "--epochs", "2", "--threads", "1", "--data", "--breakdown"]) == 0
    row = next(csv.DictReader((out / "perf_models.csv").open()))
    assert float(row["fit_loop_s"]) > 0 and float(row["fit_bare_s"]) > 0
    split = [float(row[k]) for k in ("overhead_data_loop", "overhead_lightning", "overhead_runner")]
    assert sum(split) == pytest.approx(float(row["overhead"]), abs=2e-4)
    assert "Lightning" in capsys.readouterr().out


class _Sleeper(L.LightningModule):
    """Training batches take at least 20 ms, validation batches at least 10 ms."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))

    def training_step(self, batch, batch_idx):
        time.sleep(0.02)
        return (self.weight * batch).sum()

    def validation_step(self, batch, batch_idx):
        time.sleep(0.01)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_fit_clock_times_every_batch_inside_the_fit():
    """The clock counts each training step and validation batch (sanity check included) of a Trainer fit, and its
    windows hold the steps themselves (at least their sleeps) but not the whole fit."""
    model = _Sleeper()
    clock = FitClock(model, torch.device("cpu"))
    trainer = L.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=1)
    start = time.perf_counter()
    trainer.fit(model, torch.utils.data.DataLoader(torch.ones(3, 1)), torch.utils.data.DataLoader(torch.ones(2, 1)))
    fit = time.perf_counter() - start
    assert clock.batches == {"train": 6, "validation": 1 + 2 * 2}
    assert 6 * 0.02 + 5 * 0.01 <= clock.seconds < fit


def test_perf_report_refuses_a_fit_clock_that_missed_batches(tmp_path, monkeypatch):
    """A clock that did not see every batch of the fit stops the report rather than print a wrong overhead."""
    from emobench.benchmark import fit_clock

    class Missing(FitClock):  # leaves the training batches' end hook unwrapped: they are never counted
        def _end(self, hook, stage):
            return hook if stage == "train" else super()._end(hook, stage)

    monkeypatch.setattr(fit_clock, "FitClock", Missing)
    with pytest.raises(RuntimeError, match="fit clock saw"):
        main(["perf", "report", "--out", str(tmp_path), "--models", "prior", "--datasets", "synthetic-wesad",
              "--steps", "1", "--warmup", "0", "--epochs", "1", "--threads", "1", "--data"])


@pytest.mark.parametrize("flag", [[], ["--progress-bar"]])
def test_perf_report_fits_without_the_progress_bar_unless_asked(flag, tmp_path, monkeypatch):
    """The timed fit runs as `emobench sweep --workers 2` runs cells (no progress bar); --progress-bar times it."""
    from emobench.benchmark import run_cell

    seen = []
    real = run_cell.make_trainer

    def spy(cfg, *args, **kwargs):
        seen.append(cfg.trainer.progress_bar)
        return real(cfg, *args, **kwargs)

    monkeypatch.setattr(run_cell, "make_trainer", spy)
    assert main(["perf", "report", "--out", str(tmp_path), "--models", "prior", "--datasets", "synthetic-wesad",
                 "--steps", "1", "--warmup", "0", "--epochs", "1", "--threads", "1", "--data", *flag]) == 0
    assert seen == [bool(flag)]


def test_breakdown_shares_add_up_to_the_overhead():
    from emobench.benchmark.perf_breakdown import shares

    split = shares(work=1.0, loop=1.5, bare=2.5, fit=4.0)
    assert split == {"data_loop": 0.125, "lightning": 0.25, "runner": 0.375}


def test_perf_report_bf16_autocast_path_runs_on_cpu(tmp_path):
    """--precision bf16 takes the autocast code path that --device cuda takes on a GPU (CPU autocast supports
    bfloat16), in the step timing and in the fit (Lightning's bf16-mixed)."""
    out = tmp_path / "perf"
    assert main(["perf", "report", "--out", str(out), "--models", "helo", "--datasets", "synthetic-mosei",
                 "--steps", "1", "--warmup", "0", "--epochs", "1", "--threads", "1", "--precision", "bf16",
                 "--data"]) == 0
    row = next(csv.DictReader((out / "perf_models.csv").open()))
    assert row["precision"] == "bf16" and float(row["step_ms"]) > 0 and not (out / "perf_data.csv").exists()


def test_bf16_precision_autocasts_and_full_precision_does_not():
    layer = torch.nn.Linear(4, 4)
    with perf_report.autocast(torch.device("cpu"), "bf16"):
        assert layer(torch.randn(2, 4)).dtype == torch.bfloat16
    with perf_report.autocast(torch.device("cpu"), "32"):
        assert layer(torch.randn(2, 4)).dtype == torch.float32


def test_device_and_precision_are_validated():
    assert perf_report.resolve_device("cpu", "auto") == (torch.device("cpu"), "32")
    assert perf_report.resolve_device("cpu", "bf16")[1] == "bf16"
    assert perf_report.trainer_settings(torch.device("cuda", 1), "bf16") == {
        "accelerator": "cuda", "devices": [1], "precision": "bf16-mixed"}
    assert perf_report.trainer_settings(torch.device("cpu"), "32")["precision"] == "32-true"
    with pytest.raises(ValueError, match="must be cpu or cuda"):
        perf_report.resolve_device("meta", "auto")
    with pytest.raises(ValueError, match="not a device name"):
        perf_report.resolve_device("gpu0", "auto")
    with pytest.raises(ValueError, match="precision=fp8"):
        perf_report.resolve_device("cpu", "fp8")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="sees no CUDA device.*Make sure"):
            perf_report.resolve_device("cuda", "auto")
    assert main(["perf", "report", "--device", "tpu", "--data", "--no-models"]) == 1  # a clear error, no traceback


def test_a_reader_registers_its_perf_entry_in_one_call(tmp_path, monkeypatch):
    from tests.fixtures.mosei_files import write_mosei_pt

    monkeypatch.setattr(perf_data, "DATA_PERF", dict(perf_data.DATA_PERF))
    entry = perf_data.register_data_perf(perf_data.DataPerfEntry(
        "tiny-mosei", ("mosei",), "8 segments", lambda folder, fraction: write_mosei_pt(folder, sizes=(4, 2, 2))))
    with pytest.raises(ValueError, match="registered twice"):
        perf_data.register_data_perf(entry)
    rows = perf_data.measure(["tiny-mosei"], fraction=1.0, workdir=tmp_path)
    assert [(r.entry, r.dataset, r.samples) for r in rows] == [("tiny-mosei", "mosei", 8)]
    with pytest.raises(ValueError, match="unknown data entries \\['nope'\\]"):
        perf_data.measure(["nope"])


def test_perf_report_times_every_real_reader(tmp_path, capsys):
    """Every real reader has a data entry (each IEMOCAP layout its own), and `emobench perf report` writes one row per
    entry x datamodule reading it, at a small share of the full size (no speed is checked)."""
    from emobench.datamodules import DATAMODULES

    readers = {name for name in DATAMODULES.names() if not name.startswith("synthetic-")  # the package's own, not
               and DATAMODULES.get(name).__module__.startswith("emobench.")}  # test modules' toy datamodules
    assert readers == {d for e in perf_data.DATA_PERF.values() for d in e.datasets}
    assert {"iemocap-raw", "iemocap-foalnet", "iemocap-mult", "iemocap-mult-unaligned", "iemocap-dialoguernn",
            "deap", "dreamer", "wesad"} <= set(perf_data.DATA_PERF)
    out = tmp_path / "perf"
    assert main(["perf", "report", "--out", str(out), "--no-models", "--data-fraction", "0.001", "--threads", "1"]) == 0
    rows = list(csv.DictReader((out / "perf_data.csv").open()))
    assert [(r["entry"], r["dataset"]) for r in rows] == [
        (name, dataset) for name in sorted(perf_data.DATA_PERF) for dataset in perf_data.DATA_PERF[name].datasets]
    assert all(int(r["samples"]) > 0 and float(r["file_mb"]) > 0 and float(r["first_setup_s"]) > 0 for r in rows)
    report = (out / "perf_report.md").read_text()
    assert all(f"| {name} |" in report for name in perf_data.DATA_PERF)
    assert "data wesad" in capsys.readouterr().out


def test_sweep_wall_time_is_measured_in_a_subprocess():
    row = perf_report.time_sweep("smoke", 1, ["models=[prior]", "datasets=[synthetic-mosei]", "seeds=[0]"], None)
    assert (row.sweep, row.cells, row.returncode) == ("smoke", 1, 0) and row.wall_s > 0


def test_perf_report_refuses_unknown_data_entries_before_timing_any_model(monkeypatch):
    """A misspelt `--data` entry is an error at once, not after the model part has run for minutes."""
    timed = []
    monkeypatch.setattr(perf_report, "measure_cell", lambda *args, **kwargs: timed.append(args))
    with pytest.raises(ValueError, match="unknown data entries \\['none'\\].*`--data` without names"):
        perf_report.main(["--models", "prior", "--datasets", "synthetic-mosei", "--data", "none"])
    with pytest.raises(ValueError, match="data-fraction"):
        perf_report.main(["--models", "prior", "--datasets", "synthetic-mosei", "--data-fraction", "2"])
    assert timed == []
