"""`emobench run` of a baseline on each IEMOCAP layout (generated real-format fixtures), and the paper sweep's
IEMOCAP entry: Foal-Net, 4-class, leave-one-session-out on every fold of the Foal-Net layout, run end to end."""

from __future__ import annotations

import json

import pytest

from emobench.benchmark import grid
from emobench.benchmark.cli import main
from emobench.benchmark.store import cells_dir, load_records
from tests.fixtures.iemocap_files import write_dialoguernn, write_foalnet, write_mult, write_release

pytestmark = pytest.mark.filterwarnings("ignore:The given NumPy array is not writable")

WRITERS = {"raw": write_release, "foalnet": write_foalnet, "mult": write_mult, "dialoguernn": write_dialoguernn}
SHRINK = ["data_args.audio_steps=8", "data_args.visual_steps=4", "data_args.batch_size=4"]


@pytest.mark.parametrize(("dataset", "layout"), [("iemocap", "raw"), ("iemocap", "foalnet"), ("iemocap", "mult"),
                                                 ("iemocap", "dialoguernn"), ("iemocap-6", "raw")])
def test_emobench_run_on_each_layout(dataset, layout, tmp_path, capsys):
    root = tmp_path / "data"
    WRITERS[layout](root)
    fold = 0 if layout == "mult" else 1  # MulT: its own split (one fold); else session 2 held out
    code = main(["run", "model=early_fusion", f"dataset={dataset}", f"data_args.root={root}", f"fold={fold}",
                 f"data_args.cache_dir={tmp_path / 'cache'}", f"output={tmp_path / 'out'}", "wandb.mode=disabled",
                 "trainer.max_epochs=2", "trainer.progress_bar=false", *SHRINK])
    out = capsys.readouterr().out
    assert code == 0, out
    [path] = (tmp_path / "out" / "single" / "cells").glob("*.json")
    record = json.loads(path.read_text())
    assert record["status"] == "ok" and 0.0 <= record["metrics"]["test/ua"] <= 1.0
    assert record["task"]["labels"] == (["happy", "neutral", "sad", "angry"] if dataset == "iemocap" else
                                        ["happy", "sad", "neutral", "angry", "excited", "frustrated"])
    assert min(record["split_sizes"].values()) > 0


def test_paper_entry_runs_foalnet_loso_on_every_fold_of_the_foalnet_layout(tmp_path):
    root = tmp_path / "data"
    write_foalnet(root)
    overrides = ["models=[foalnet]", "datasets=[iemocap]", "seeds=[0]", "trainer.max_epochs=1",
                 f"dataset_overrides.iemocap.data_args.root={root}",
                 f"dataset_overrides.iemocap.data_args.cache_dir={tmp_path / 'cache'}",
                 "dataset_overrides.iemocap.data_args.audio_steps=8",
                 "dataset_overrides.iemocap.data_args.visual_steps=4", "model_args.d_model=16"]
    _, cells = grid.load_grid("paper", overrides)
    assert [c.fold for c in cells] == [0, 1], "folds: all = one per session of the fixture"
    for cell in cells:
        data = cell.config["data_args"]
        assert data["layout"] == "foalnet" and data["protocol"] == "loso"
        assert data["class_balanced"] and data["batch_size"] == 16 and cell.config["trainer"]["max_epochs"] == 1
    out = tmp_path / "out"
    assert main(["sweep", "paper", *overrides, "--output", str(out), "--wandb", "disabled", "--quiet",
                 "--no-leaderboard"]) == 0
    records = load_records(cells_dir(out, "paper"))
    assert sorted(r["fold"] for r in records) == [0, 1] and all(r["status"] == "ok" for r in records)
