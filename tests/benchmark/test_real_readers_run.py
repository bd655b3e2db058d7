"""`emobench run` of a baseline on real-format MOSEI, M3ED, DEAP and DREAMER files (generated fixtures), end to end."""

from __future__ import annotations

import json

import pytest

from emobench.benchmark.cli import main
from tests.fixtures.deap_files import write_deap
from tests.fixtures.dreamer_files import write_dreamer
from tests.fixtures.m3ed_files import m3ed_content, random_dialogues, write_m3ed_pickle
from tests.fixtures.mosei_files import write_mosei_pt, write_mosei_unaligned_pkl


@pytest.mark.parametrize(
    ("dataset", "extra"),
    [("mosei", []), ("mosei", ["data_args.aligned=false"]), ("m3ed", []), ("m3ed-utterance", [])],
)
def test_emobench_run_on_real_format_files(dataset, extra, tmp_path, capsys):
    root = tmp_path / "data"
    if dataset == "mosei":
        write_mosei_pt(root, sizes=(24, 8, 8))
        write_mosei_unaligned_pkl(root, sizes=(24, 8, 8))
    else:
        write_m3ed_pickle(root, m3ed_content(random_dialogues(per_series=1, max_len=70)))
    code = main(["run", "model=early_fusion", f"dataset={dataset}", f"data_args.root={root}",
                 f"data_args.cache_dir={tmp_path / 'cache'}", "data_args.batch_size=8", f"output={tmp_path / 'out'}",
                 "wandb.mode=disabled", "trainer.max_epochs=2", "trainer.progress_bar=false", *extra])
    out = capsys.readouterr().out
    assert code == 0, out
    [path] = (tmp_path / "out" / "single" / "cells").glob("*.json")
    record = json.loads(path.read_text())
    primary = f"test/{record['primary']['name']}"
    assert record["status"] == "ok" and 0.0 <= record["metrics"][primary] <= 1.0
    assert sum(record["split_sizes"].values()) > 0


@pytest.mark.parametrize(("dataset", "extra"), [("deap", ["data_args.protocol=loso"]),
                                              ("deap", ["data_args.protocol=subject-dependent", "data_args.num_folds=2",
                                                        "data_args.target=quadrant", "fold=3"]),
                                              ("dreamer", ["data_args.protocol=loso", "data_args.target=binary"])])
def test_emobench_run_on_physiological_files(dataset, extra, tmp_path, capsys):
    root = tmp_path / "data"
    if dataset == "deap":
        write_deap(root)
    else:
        write_dreamer(root)
    code = main(["run", "model=early_fusion", f"dataset={dataset}", f"data_args.root={root}",
                 f"data_args.cache_dir={tmp_path / 'cache'}", "data_args.batch_size=8", "data_args.segment_seconds=2",
                 f"output={tmp_path / 'out'}", "wandb.mode=disabled", "trainer.max_epochs=2",
                 "trainer.progress_bar=false", *extra])
    out = capsys.readouterr().out
    assert code == 0, out
    [path] = (tmp_path / "out" / "single" / "cells").glob("*.json")
    record = json.loads(path.read_text())
    assert record["status"] == "ok" and record["config"]["data_args"]["protocol"] == extra[0].split("=")[1]
    primary = f"test/{record['primary']['name']}"
    assert 0.0 <= record["metrics"][primary] <= 1.0 and record["split_sizes"]["test"] > 0


def test_missing_root_is_a_clear_error(tmp_path, capsys):
    code = main(["run", "model=prior", "dataset=mosei", f"data_args.root={tmp_path / 'nowhere'}",
                 f"output={tmp_path / 'out'}", "wandb.mode=disabled"])
    assert code == 1
    assert "train_valid_test.pt" in capsys.readouterr().out.replace("\n", "")
