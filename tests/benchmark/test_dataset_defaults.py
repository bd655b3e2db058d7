"""Per-dataset defaults, `experiments/datasets/<name>.yaml` (`data_args`, `trainer`): none ships yet, so each test
writes one into a copy of the experiments folder, found by the same look-up as a shipped file. The file reaches the
datamodule and the trainer of that dataset's cells only, sits below the sweep's layers and the command line, and
a misspelt key in it stops a sweep with an error naming the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from emobench.benchmark import config, grid
from emobench.benchmark.cli import main
from emobench.benchmark.config import ConfigError, from_cli, merge_cell
from emobench.benchmark.run_cell import build
from emobench.benchmark.store import cells_dir, load_records
from tests.benchmark.test_experiments import unknown_data_args

MOSEI_DEFAULTS = {"citation": "a test file", "data_args": {"batch_size": 7, "num_samples": 140, "val_fraction": 0.25},
                  "trainer": {"max_epochs": 2, "patience": 9}}


@pytest.fixture
def experiments(tmp_path, monkeypatch) -> Path:
    """A copy of the shipped experiments folder that `group_defaults` reads instead."""
    root = tmp_path / "experiments"
    shutil.copytree(config.EXPERIMENTS, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "datasets").mkdir(exist_ok=True)
    monkeypatch.setattr(config, "EXPERIMENTS", root)
    return root


def write_defaults(root: Path, dataset: str, data: dict) -> Path:
    path = root / "datasets" / f"{dataset}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_file_sets_that_datasets_cells_only_and_the_command_line_wins(experiments):
    write_defaults(experiments, "synthetic-mosei", MOSEI_DEFAULTS)
    mosei = merge_cell({"model": "prior", "dataset": "synthetic-mosei"})
    assert dict(mosei.data_args) == MOSEI_DEFAULTS["data_args"]
    assert (mosei.trainer.max_epochs, mosei.trainer.patience) == (2, 9)
    assert "citation" not in mosei
    other = merge_cell({"model": "prior", "dataset": "synthetic-iemocap"})
    assert dict(other.data_args) == {} and other.trainer.max_epochs != 2
    cli = merge_cell({"model": "prior", "dataset": "synthetic-mosei"},
                     from_cli(["data_args.batch_size=5", "trainer.max_epochs=1"]))
    assert cli.data_args.batch_size == 5 and cli.data_args.num_samples == 140 and cli.trainer.max_epochs == 1


def test_sweep_layers_sit_above_the_file_and_the_file_changes_the_cell_id(experiments, tmp_path):
    sweep = tmp_path / "s.yaml"
    sweep.write_text(yaml.safe_dump({
        "name": "s", "models": ["prior"], "datasets": ["synthetic-mosei"], "seeds": [0], "folds": [0],
        "defaults": {"trainer": {"max_epochs": 1}},
        "twin_defaults": {"data_args": {"num_samples": 120}},
        "dataset_overrides": {"synthetic-mosei": {"data_args": {"val_fraction": 0.2}}}}))
    _, [before] = grid.load_grid(sweep)
    write_defaults(experiments, "synthetic-mosei", MOSEI_DEFAULTS)
    _, [cell] = grid.load_grid(sweep)
    assert cell.config["data_args"] == {"batch_size": 7, "num_samples": 120, "val_fraction": 0.2}
    assert (cell.config["trainer"]["max_epochs"], cell.config["trainer"]["patience"]) == (1, 9)
    assert cell.cell_id != before.cell_id  # the file changes what the cell computes, hence its id


def test_the_file_reaches_the_datamodule_and_the_trainer(experiments, tmp_path):
    write_defaults(experiments, "synthetic-mosei", MOSEI_DEFAULTS)
    cfg = merge_cell({"model": "prior", "dataset": "synthetic-mosei", "data_args": {"seq_len": 8}})
    datamodule, _ = build(cfg)
    assert len(next(iter(datamodule.train_dataloader()))) == 7
    assert sum(datamodule.split_sizes().values()) == 140
    out = tmp_path / "out"
    assert main(["run", "model=prior", "dataset=synthetic-mosei", "data_args.seq_len=8", f"output={out}",
                 "wandb.mode=disabled", "trainer.progress_bar=false"]) == 0
    [record] = load_records(cells_dir(out, "single"))
    assert record["epochs"] == 2  # max_epochs 2 from the file; patience 9 never stops it earlier
    assert record["split_sizes"] == datamodule.split_sizes()


def test_a_misspelt_key_in_the_file_stops_the_sweep_naming_the_file(experiments):
    write_defaults(experiments, "synthetic-mosei", {"data_args": {"batch_sise": 7}})
    assert unknown_data_args("synthetic-mosei") == {"batch_sise"}
    with pytest.raises(ConfigError, match=r"batch_sise.*experiments/datasets/synthetic-mosei\.yaml"):
        grid.load_grid("smoke", ["models=[prior]"])
    path = write_defaults(experiments, "synthetic-mosei", {"dataargs": {"batch_size": 7}})
    with pytest.raises(ConfigError, match=rf"{path}: unknown key\(s\) \['dataargs'\]"):
        merge_cell({"model": "prior", "dataset": "synthetic-mosei"})
