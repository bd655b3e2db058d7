"""`emobench list` and `emobench run`: end to end on twins, usage errors with exit code 2, determinism."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from emobench.benchmark.cli import main
from emobench.benchmark.config import from_cli, merge_cell
from emobench.benchmark.run_cell import run_cell
from emobench.datamodules import DATAMODULES
from emobench.datamodules.synthetic.twin import SyntheticTwin
from emobench.models import MODELS

TWINS = [n for n in DATAMODULES.names() if issubclass(DATAMODULES.get(n), SyntheticTwin)]


def run(overrides: list[str]) -> dict:
    return run_cell(merge_cell(from_cli(overrides)))


def test_list_shows_every_model_and_dataset(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in MODELS.names() + TWINS:
        assert name in out


def test_list_verbose_shows_each_twins_phenomena(capsys):
    assert main(["list"]) == 0
    assert "Twin phenomena" not in capsys.readouterr().out
    assert main(["list", "--verbose"]) == 0
    out = capsys.readouterr().out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 8}
    for name in TWINS:
        levels = DATAMODULES.get(name)().phenomena
        cells = [c.strip() for c in rows[name].split("│")[2:-1]]
        assert cells[:3] == [f"{levels.locality:g}", f"{levels.events:g}", f"{levels.interaction:g}"], name
    assert "temporal locality" in out and "label_structure" in out


def test_run_writes_a_record_and_prints_metrics(tiny_overrides, tmp_path, capsys):
    code = main(["run", "model=early_fusion", "dataset=synthetic-mosei", "seed=3", *tiny_overrides])
    assert code == 0
    out = capsys.readouterr().out
    assert "test/micro_f1" in out
    records = list((tmp_path / "out" / "single" / "cells").glob("*.json"))
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    assert record["status"] == "ok" and record["seed"] == 3 and record["model"] == "early_fusion"
    assert 0.0 <= record["metrics"]["test/micro_f1"] <= 1.0
    assert record["best_val"]["name"] == "val/micro_f1" and record["parameters"] > 0
    assert 0 < record["cpu_seconds"] and record["epochs"] >= 1, "CPU time of the cell, for load-free timings"
    saved = torch.load(tmp_path / "out" / "single" / record["checkpoint"], weights_only=True)
    assert saved["state_dict"] and "optimizer_states" not in saved, "the best epoch's weights, for testing only"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["model=early_fusoin", "dataset=synthetic-mosei"], "Did you mean 'early_fusion'"),
        (["model=early_fusion", "dataset=synthetic-mose"], "Known datasets"),
        (["model=early_fusion", "dataset=synthetic-mosei", "trainer.max_epoch=2"], "max_epoch"),
        (["model=early_fusion", "dataset=synthetic-mosei", "model_args.hiden=2"], "hiden"),
        (["model=early_fusion", "dataset=synthetic-mosei", "data_args.batchsize=2"], "batchsize"),
        (["model=early_fusion"], "dataset"),
        (["model=early_fusion", "dataset=synthetic-mosei", "seed"], "key=value"),
    ],
)
def test_usage_errors_exit_2_and_name_the_problem(args, message, tiny_overrides, capsys):
    assert main(["run", *args, *tiny_overrides]) == 2
    assert message in capsys.readouterr().out.replace("\n", "")


def test_errors_are_printed_verbatim_not_read_as_markup(monkeypatch, capsys):
    message = "found 2 outside it, e.g. [nan, inf]; see [bold]x[/bold]."

    def fail(args):
        raise ValueError(message)

    monkeypatch.setattr("emobench.benchmark.cli.cmd_list", fail)
    assert main(["list"]) == 1
    assert message in capsys.readouterr().out.replace("\n", "")


def test_user_module_by_import_path(tiny_overrides):
    example = Path(__file__).resolve().parents[2] / "examples" / "gated_fusion.py"
    record = run(["model=gated_fusion", "dataset=synthetic-iemocap", f"imports=[{example}]", *tiny_overrides])
    assert record["status"] == "ok" and 0 <= record["metrics"]["test/ua"] <= 1


def test_same_seed_same_metrics_other_seed_other_metrics(tiny_overrides):
    base = ["model=late_fusion", "dataset=synthetic-dreamer", "trainer.max_epochs=2", *tiny_overrides]
    a, b = run([*base, "seed=1"]), run([*base, "seed=1"])
    c = run([*base, "seed=2"])
    assert a["metrics"] == b["metrics"]
    assert a["metrics"] != c["metrics"]
    assert a["cell_id"] == b["cell_id"] != c["cell_id"]


METRIC_RANGES = {"multilabel": (0.0, 1.0), "distribution": (0.0, math.inf), "multiclass": (0.0, 1.0)}


@pytest.mark.parametrize("dataset", TWINS)
@pytest.mark.parametrize("model", MODELS.names())
def test_every_model_on_every_twin(model, dataset, tiny_overrides):
    record = run([f"model={model}", f"dataset={dataset}", "trainer.limit_train_batches=3", *tiny_overrides])
    metrics = record["metrics"]
    primary = f"test/{record['primary']['name']}"
    assert primary in metrics
    low, high = METRIC_RANGES[record["task"]["kind"]]
    for key, value in metrics.items():
        assert math.isfinite(value), key
        if not key.endswith("loss") and "/aux/" not in key:
            assert low - 1e-6 <= value <= high + 1e-6, (key, value)


@pytest.mark.parametrize("name", ["gated_fusion.py", "npy_dataset.py"])
def test_readme_shows_the_example_file_verbatim(name):
    root = Path(__file__).resolve().parents[2]
    example = (root / "examples" / name).read_text().rstrip("\n")
    assert f"```python\n{example}\n```" in (root / "README.md").read_text()
