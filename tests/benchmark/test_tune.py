"""`emobench tune`: grid parsing, the validation-only choice per model, and an end-to-end search on a tiny grid."""

from __future__ import annotations

import pandas as pd
import pytest

from emobench.benchmark.cli import main
from emobench.benchmark.config import ConfigError
from emobench.benchmark.tune import choose, parse_grid, setting_name


def test_grid_is_the_product_of_the_lists():
    assert parse_grid(["model_args.lr=1e-3,3e-3", "model_args.hidden=32"]) == [
        {"model_args.lr": "1e-3", "model_args.hidden": "32"}, {"model_args.lr": "3e-3", "model_args.hidden": "32"}]
    assert setting_name({"model_args.lr": "1e-3", "data_args.seq_len": "8"}) == "lr_1e_3-seq_len_8"
    with pytest.raises(ConfigError, match="KEY=V1,V2"):
        parse_grid(["model_args.lr"])


def test_choice_is_the_best_mean_validation_rank_in_each_metrics_direction():
    """a: micro-F1 (higher better) prefers fast on d1 and d2; b: KL (lower better) prefers slow on d1, and d2 ties
    are broken by fewer capped cells."""
    frame = pd.DataFrame([
        ("a", "d1", "fast", 0.7, True, False, 3.0), ("a", "d1", "slow", 0.6, True, True, 5.0),
        ("a", "d2", "fast", 0.5, True, False, 3.0), ("a", "d2", "slow", 0.4, True, False, 5.0),
        ("b", "d1", "fast", 0.3, False, True, 3.0), ("b", "d1", "slow", 0.2, False, False, 5.0),
        ("b", "d2", "fast", 0.5, False, True, 3.0), ("b", "d2", "slow", 0.5, False, False, 5.0),
    ], columns=["model", "dataset", "setting", "val", "higher", "capped", "fit_seconds"])
    summary = choose(frame).set_index(["model", "setting"])
    assert summary.loc[("a", "fast"), "mean_rank"] == 1.0 and summary.loc[("a", "slow"), "mean_rank"] == 2.0
    assert summary.loc[("b", "slow"), "mean_rank"] == 1.25 and summary.loc[("b", "fast"), "mean_rank"] == 1.75
    assert set(summary.index[summary["chosen"]]) == {("a", "fast"), ("b", "slow")}


def test_tune_runs_each_setting_as_a_sweep_and_reads_validation_only(tmp_path, capsys):
    args = ["tune", "smoke", "models=[early_fusion]", "datasets=[synthetic-mosei]", "--grid",
            "model_args.lr=1e-3,3e-2", "--output", str(tmp_path)]
    assert main(args) == 0
    summary = pd.read_csv(tmp_path / "tune.csv")
    assert sorted(summary["setting"]) == ["lr_1e_3", "lr_3e_2"] and summary["chosen"].sum() == 1
    cells = pd.read_csv(tmp_path / "tune_cells.csv")
    assert (cells["metric"] == "val/micro_f1").all(), "scored on the validation split"
    assert (tmp_path / "smoke-tune-lr_1e_3" / "cells").is_dir()
    assert "Validation-only search" in capsys.readouterr().out
