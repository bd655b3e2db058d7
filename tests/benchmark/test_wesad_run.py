"""`emobench run` of a baseline on real-format WESAD subject folders (generated fixtures), end to end: the condition
target under leave-one-subject-out and HeLo's distribution target under the subject-dependent protocol."""

from __future__ import annotations

import json

import pytest

from emobench.benchmark.cli import main
from tests.fixtures.wesad_files import write_wesad


@pytest.mark.parametrize("extra", [["data_args.protocol=loso", "fold=2"],
                                   ["data_args.protocol=subject-dependent", "data_args.num_folds=2",
                                    "data_args.target=distribution", "fold=3"]])
def test_emobench_run_on_wesad_files(extra, tmp_path, capsys):
    write_wesad(tmp_path / "data")
    code = main(["run", "model=early_fusion", "dataset=wesad", f"data_args.root={tmp_path / 'data'}",
                 f"data_args.cache_dir={tmp_path / 'cache'}", "data_args.batch_size=8", "data_args.segment_seconds=2",
                 "data_args.block_seconds=4", f"output={tmp_path / 'out'}", "wandb.mode=disabled",
                 "trainer.max_epochs=2", "trainer.progress_bar=false", *extra])
    out = capsys.readouterr().out
    assert code == 0, out
    [path] = (tmp_path / "out" / "single" / "cells").glob("*.json")
    record = json.loads(path.read_text())
    assert record["status"] == "ok" and record["config"]["data_args"]["protocol"] == extra[0].split("=")[1]
    primary = f"test/{record['primary']['name']}"
    assert record["primary"]["name"] == ("kl" if "data_args.target=distribution" in extra else "ua")
    assert record["metrics"][primary] >= 0.0 and record["split_sizes"]["test"] > 0


def test_paper_sweep_runs_wesad_with_the_distribution_target_loso_and_subject_dependent():
    from emobench.benchmark import grid

    _, cells = grid.load_grid("paper", ["datasets=[wesad,wesad-sd]", "folds=[0]"])
    args = {c.dataset: c.config["data_args"] for c in cells if c.model == "helo"}
    assert args["wesad"]["protocol"] == "loso" and args["wesad"]["target"] == "distribution"
    assert args["wesad-sd"]["protocol"] == "subject-dependent" and args["wesad-sd"]["target"] == "distribution"
    assert {c.config["dataset"] for c in cells} == {"wesad"}


def test_helo_runs_on_wesad_with_the_accelerometers_as_its_behavioural_side(tmp_path, capsys):
    from emobench.datamodules import DATAMODULES
    from emobench.models.helo import split_modalities

    write_wesad(tmp_path / "data")
    specs = DATAMODULES.get("wesad")(root=str(tmp_path / "data")).modalities
    assert split_modalities(specs) == (["ecg", "physio"], ["motion"])
    code = main(["run", "model=helo", "dataset=wesad", f"data_args.root={tmp_path / 'data'}",
                 f"data_args.cache_dir={tmp_path / 'cache'}", "data_args.batch_size=8", "data_args.segment_seconds=2",
                 "data_args.block_seconds=4", "data_args.target=distribution", f"output={tmp_path / 'out'}",
                 "wandb.mode=disabled", "trainer.max_epochs=1", "trainer.progress_bar=false"])
    out = capsys.readouterr().out
    assert code == 0, out
    [path] = (tmp_path / "out" / "single" / "cells").glob("*.json")
    record = json.loads(path.read_text())
    assert record["status"] == "ok" and record["primary"]["name"] == "kl" and record["metrics"]["test/kl"] >= 0
