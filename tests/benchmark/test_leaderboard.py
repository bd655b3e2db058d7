"""Leaderboards from a results store of known records: numbers against hand values, best per metric in the right
direction, ranks, the paired-test dagger, Friedman, files, the CLI, and the offline W&B leaderboard run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from emobench.benchmark.cli import main
from emobench.benchmark.leaderboard import (
    NoRecordsError,
    build_leaderboards,
    display_frame,
    write_leaderboards,
)
from emobench.benchmark.stats import T_TEST, WILCOXON, kendalls_w, paired_test
from emobench.benchmark.store import write_record

MOSEI, DEAP = "synthetic-mosei", "synthetic-deap"  # multilabel (micro_f1, higher better), distribution (kl, lower)
PAIRS_MOSEI = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]  # 3 seeds x 2 folds: Wilcoxon (6 pairs)
PAIRS_DEAP = [(0, 0), (1, 0), (2, 0)]  # 3 seeds x 1 fold: paired t-test

ALPHA_F1 = [0.60, 0.62, 0.58, 0.61, 0.59, 0.60]
# beta: small differences of both signs (Wilcoxon p large -> dagger); gamma: always lower (exact p = 2/64)
BETA_F1 = [a + d for a, d in zip(ALPHA_F1, [0.01, -0.02, 0.03, -0.01, -0.02, 0.005], strict=True)]
GAMMA_F1 = [a - d for a, d in zip(ALPHA_F1, [0.05, 0.06, 0.04, 0.055, 0.07, 0.045], strict=True)]
HAMMING = {"alpha": 0.20, "beta": 0.15, "gamma": 0.25}  # lower is better: beta is best here
# kl, lower is better: beta best; alpha not significantly worse (t-test p ~ 0.32); gamma much worse (p < 0.001)
KL = {"beta": [0.30, 0.32, 0.31], "alpha": [0.33, 0.31, 0.35], "gamma": [0.50, 0.53, 0.51]}
COSINE = {"alpha": 0.80, "beta": 0.85, "gamma": 0.90}  # higher is better: gamma best here
PARAMETERS = {"alpha": 1_000, "beta": 2_000, "gamma": 3_000_000}
CAP = {"alpha": 10, "beta": 10, "gamma": 3}  # every record says 3 epochs: gamma's cells ran to the cap


def _record(model: str, dataset: str, seed: int, fold: int, metrics: dict[str, float]) -> dict:
    kind = "multilabel" if dataset == MOSEI else "distribution"
    primary = ("micro_f1", True) if dataset == MOSEI else ("kl", False)
    return {
        "cell_id": f"{model}-{dataset}-s{seed}-f{fold}", "status": "ok", "model": model, "dataset": dataset,
        "seed": seed, "fold": fold, "task": {"kind": kind, "labels": ["a", "b", "c"]},
        "primary": {"name": primary[0], "higher_is_better": primary[1]},
        "metrics": {f"test/{k}": v for k, v in metrics.items()} | {"test/loss": 0.5, "test/task_loss": 0.5},
        "best_val": {"name": f"val/{primary[0]}", "value": 0.5}, "epochs": 3,
        "fit_seconds": 10.0 + seed, "test_seconds": 0.5, "parameters": PARAMETERS[model],
        "peak_memory_mb": 100.0 + 10 * seed + fold,
        "config": {"model": model, "dataset": dataset, "seed": seed, "fold": fold, "sweep": "demo",
                   "wandb": {"mode": "disabled", "project": "emobench-test", "entity": None},
                   "trainer": {"max_epochs": CAP[model]}},
        "versions": {}, "git_commit": "abc", "started": 0.0, "finished": 1.0,
    }


def write_fixture(sweep: Path, models: tuple[str, ...] = ("alpha", "beta", "gamma")) -> Path:
    """Records of 3 models on 2 datasets with known values, plus one failed cell, under `<sweep>/cells/`."""
    cells = sweep / "cells"
    f1 = {"alpha": ALPHA_F1, "beta": BETA_F1, "gamma": GAMMA_F1}
    for model in models:
        for (seed, fold), value in zip(PAIRS_MOSEI, f1[model], strict=True):
            metrics = {"accuracy": value - 0.1, "micro_precision": value, "micro_recall": value,
                       "micro_f1": value, "macro_f1": value - 0.05, "hamming_loss": HAMMING[model]}
            write_record(_record(model, MOSEI, seed, fold, metrics), cells)
        for (seed, fold), value in zip(PAIRS_DEAP, KL[model], strict=True):
            metrics = {"chebyshev": 0.2, "clark": 1.0, "canberra": 2.0, "kl": value, "cosine": COSINE[model],
                       "intersection": 0.7}
            write_record(_record(model, DEAP, seed, fold, metrics), cells)
    write_record({"cell_id": "gamma-deap-s0-f1", "status": "failed", "model": "gamma", "dataset": DEAP, "seed": 0,
                  "fold": 1, "error": "Traceback ...\nRuntimeError: boom"}, cells)
    return sweep


@pytest.fixture
def sweep(tmp_path) -> Path:
    return write_fixture(tmp_path / "out" / "demo")


@pytest.fixture
def written(sweep) -> dict:
    return write_leaderboards(sweep, wandb_mode="disabled", quiet=True)


def _sample_std(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def test_means_and_sample_stds_match_hand_values(written):
    mosei = written["tables"][MOSEI].set_index("model")
    assert mosei.loc["alpha", "micro_f1_mean"] == pytest.approx(0.600)
    assert mosei.loc["alpha", "micro_f1_std"] == pytest.approx(math.sqrt(0.001 / 5))  # ddof=1, by hand
    assert mosei.loc["beta", "micro_f1_mean"] == pytest.approx(0.600 - 0.005 / 6)
    assert mosei.loc["gamma", "micro_f1_std"] == pytest.approx(_sample_std(GAMMA_F1))
    assert list(mosei["n"]) == [6, 6, 6]
    deap = written["tables"][DEAP].set_index("model")
    assert deap.loc["alpha", "kl_mean"] == pytest.approx(0.33)
    assert deap.loc["alpha", "kl_std"] == pytest.approx(0.02)  # deviations (0, -0.02, 0.02), ddof=1
    assert deap.loc["beta", "kl_std"] == pytest.approx(0.01)
    assert list(deap["n"]) == [3, 3, 3]
    # costs: parameters per model, mean fit seconds (10 + seed), max peak memory (100 + 10 * seed + fold)
    assert mosei.loc["gamma", "parameters"] == 3_000_000
    assert mosei.loc["alpha", "fit_seconds_mean"] == pytest.approx(11.0)
    assert mosei.loc["alpha", "peak_memory_mb_max"] == pytest.approx(121.0)
    # only the task's metrics are columns, never losses; CSV has numbers, not "(mean, std)" strings
    assert "loss_mean" not in mosei.columns and "task_loss_mean" not in mosei.columns
    csv = pd.read_csv(written["folder"] / f"{MOSEI}.csv")
    assert csv["micro_f1_mean"].dtype == float and csv["micro_f1_std"].dtype == float


def test_ranks_follow_each_datasets_primary_direction(written):
    mosei = written["tables"][MOSEI]
    deap = written["tables"][DEAP]
    assert list(mosei["model"]) == ["alpha", "beta", "gamma"] and list(mosei["rank"]) == [1, 2, 3]
    assert list(deap["model"]) == ["beta", "alpha", "gamma"] and list(deap["rank"]) == [1, 2, 3]  # lowest kl first
    overall = written["overall"].set_index("model")
    assert overall.loc["alpha", "mean_rank"] == pytest.approx(1.5)
    assert overall.loc["beta", "mean_rank"] == pytest.approx(1.5)
    assert overall.loc["gamma", "mean_rank"] == pytest.approx(3.0)
    assert list(overall["n_datasets"]) == [2, 2, 2]
    assert overall.loc["gamma", f"rank_{DEAP}"] == 3


def test_best_value_is_bold_in_each_metrics_direction(sweep, written):
    boards = build_leaderboards(sweep).boards
    mosei = display_frame(boards[MOSEI], "markdown").set_index("model")
    assert mosei.loc["alpha", "micro_f1 ↑"].startswith("**0.600 ± 0.014**")  # highest micro_f1
    assert mosei.loc["beta", "hamming_loss ↓"] == "**0.150 ± 0.000**"  # lowest Hamming loss
    assert not mosei.loc["gamma", "hamming_loss ↓"].startswith("**")
    deap = display_frame(boards[DEAP], "markdown").set_index("model")
    assert deap.loc["beta", "kl ↓"].startswith("**")  # lowest kl
    assert deap.loc["gamma", "cosine ↑"].startswith("**")  # highest cosine
    assert not deap.loc["alpha", "kl ↓"].startswith("**") and not deap.loc["beta", "cosine ↑"].startswith("**")
    tex = (written["folder"] / f"{DEAP}.tex").read_text()
    assert r"\textbf{0.310 $\pm$ 0.010}" in tex


def test_dagger_marks_exactly_the_non_significant_differences(sweep, written):
    boards = build_leaderboards(sweep).boards
    mosei, deap = boards[MOSEI], boards[DEAP]
    assert {m: r.test for m, r in mosei.paired.items()} == {"beta": WILCOXON, "gamma": WILCOXON}
    assert {m: r.test for m, r in deap.paired.items()} == {"alpha": T_TEST, "gamma": T_TEST}
    assert mosei.paired["gamma"].p_value == pytest.approx(2 / 2**6)  # exact: all 6 differences one sign
    assert not mosei.paired["beta"].significant and mosei.paired["gamma"].significant
    assert not deap.paired["alpha"].significant and deap.paired["gamma"].significant
    for board, expected in ((mosei, {"beta"}), (deap, {"alpha"})):
        frame = display_frame(board, "markdown")
        daggered = {m for m, row in zip(frame["model"], frame.itertuples(index=False), strict=True)
                    if any("†" in cell for cell in row)}
        assert daggered == expected
    md = {d: (written["folder"] / f"{d}.md").read_text() for d in (MOSEI, DEAP)}
    assert "Wilcoxon signed-rank" in md[MOSEI] and "paired t-test" in md[DEAP]
    assert "paired t-test" not in md[MOSEI] and "Wilcoxon" not in md[DEAP]
    assert md[MOSEI].count("†") == 2  # beta's cell and the footnote
    csv = pd.read_csv(written["folder"] / f"{DEAP}.csv").set_index("model")
    assert csv.loc["alpha", "test_vs_best"] == T_TEST and not csv.loc["alpha", "significant_vs_best"]
    assert r"$^\dagger$" in (written["folder"] / f"{DEAP}.tex").read_text()


def test_paired_test_of_identical_runs_is_not_significant():
    same = pd.Series([0.1, 0.2, 0.3])
    result = paired_test(same, same)
    assert result.p_value == 1.0 and not result.significant
    assert not paired_test(pd.Series([0.1]), pd.Series([0.2])).tested  # one pair: nothing to test


def test_friedman_p_value_and_critical_difference_diagram(written):
    friedman = written["friedman"]
    # ranks (1, 2, 3) and (2, 1, 3): chi2 = 12 / (N k (k + 1)) * sum(R_j^2) - 3 N (k + 1) = 3, p = exp(-1.5)
    assert friedman["applicable"] and friedman["statistic"] == pytest.approx(3.0)
    assert friedman["p_value"] == pytest.approx(math.exp(-1.5))
    assert (written["folder"] / "critical_difference.png").stat().st_size > 0
    assert "Friedman test over 3 models x 2 datasets" in (written["folder"] / "overall.md").read_text()


def test_friedman_not_applicable_with_two_models(tmp_path):
    result = write_leaderboards(write_fixture(tmp_path / "two", ("alpha", "beta")), wandb_mode="disabled",
                                quiet=True)
    assert not result["friedman"]["applicable"]
    assert "not applicable" in (result["folder"] / "overall.md").read_text()
    assert not (result["folder"] / "critical_difference.png").exists()


def test_every_file_is_written_and_not_empty(written):
    folder = written["folder"]
    expected = [f"{d}.{ext}" for d in (MOSEI, DEAP) for ext in ("csv", "md", "tex")]
    expected += [f"overall.{ext}" for ext in ("csv", "md", "tex")]
    expected += ["heatmap.png", f"bars_{MOSEI}.png", f"bars_{DEAP}.png", "critical_difference.png", "failed.csv"]
    for name in expected:
        assert (folder / name).stat().st_size > 0, name
        assert folder / name in written["files"]
    for name in (f"{MOSEI}.tex", "overall.tex"):
        tex = (folder / name).read_text()
        assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert "| model" in (folder / f"{MOSEI}.md").read_text()
    assert (folder / "heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_failed_records_are_counted_and_listed(written):
    assert [(r["model"], r["dataset"], r["error"]) for r in written["failed"]] == [
        ("gamma", DEAP, "RuntimeError: boom")]
    assert "1 failed cell(s)" in (written["folder"] / "overall.md").read_text()


def test_table_command_prints_tables_and_paths(sweep, capsys):
    assert main(["table", str(sweep), "--wandb", "disabled"]) == 0
    out = capsys.readouterr().out
    assert MOSEI in out and DEAP in out and "Overall ranking" in out
    assert str(sweep / "leaderboard" / "heatmap.png") in out and "Friedman" in out


def test_wandb_mode_defaults_to_the_cells_mode(sweep, capsys):
    assert main(["table", str(sweep), "--quiet"]) == 0  # the fixture's cells ran with W&B disabled
    assert not (sweep / "wandb").exists()
    assert capsys.readouterr().out.strip().startswith("Leaderboards written to")
    with pytest.raises(ValueError, match="wandb_mode=onlin"):
        write_leaderboards(sweep, wandb_mode="onlin", quiet=True)


def test_folder_without_records_is_a_clear_error(tmp_path, capsys):
    empty = tmp_path / "empty-sweep"
    empty.mkdir()
    with pytest.raises(NoRecordsError, match="cells/<cell id>.json"):
        write_leaderboards(empty, wandb_mode="disabled", quiet=True)
    assert main(["table", str(empty), "--wandb", "disabled"]) == 1
    out = capsys.readouterr().out.replace("\n", "")
    assert "empty-sweep" in out and "Expected result records" in out


def test_offline_wandb_run_holds_the_leaderboard_tables(sweep):
    result = write_leaderboards(sweep, wandb_mode="offline", quiet=True)
    run_dir = result["wandb_dir"]
    assert run_dir is not None and run_dir.parent == sweep / "wandb" and run_dir.name.startswith("offline-run-")
    tables = {p.name.rsplit("_", 2)[0]: json.loads(p.read_text())
              for p in (run_dir / "files" / "media" / "table").glob("*.table.json")}
    assert set(tables) == {"leaderboard_overall", f"leaderboard_{MOSEI}", f"leaderboard_{DEAP}"}
    assert tables["leaderboard_overall"]["columns"] == ["model", "mean_rank", "n_datasets", f"rank_{DEAP}",
                                                        f"rank_{MOSEI}"]
    mosei = tables[f"leaderboard_{MOSEI}"]
    assert mosei["columns"][:3] == ["model", "rank", "n"] and "p_vs_best" in mosei["columns"]
    assert [row[0] for row in mosei["data"]] == ["alpha", "beta", "gamma"]
    assert "micro_f1_mean" in mosei["columns"] and "micro_f1_std" in mosei["columns"]
    assert len(list((run_dir / "files" / "media" / "images").glob("plot_*.png"))) == 4


def test_unequal_cell_counts_are_flagged(tmp_path):
    sweep = write_fixture(tmp_path / "out" / "uneven")
    alpha_cells = sorted((sweep / "cells").glob("alpha-*"))
    assert alpha_cells, "fixture naming changed"
    alpha_cells[0].unlink()
    result = write_leaderboards(sweep, wandb_mode="disabled", quiet=True)
    notes = " ".join((result["folder"] / f"{name}.md").read_text() for name in (MOSEI, DEAP))
    assert "different numbers of cells" in notes and "alpha (" in notes


def test_equal_cell_counts_carry_no_warning(written):
    assert "different numbers of cells" not in (written["folder"] / f"{MOSEI}.md").read_text()


def test_kendalls_w_matches_hand_computed_values():
    """3 seeds ranking 4 models. Rank sums 4, 6, 8, 12 (mean 7.5): S = 35, W = 12 * 35 / (3^2 * (4^3 - 4)) = 7/9.
    With the third seed tying B and C: sums 4, 5.5, 8.5, 12, S = 37.5, ties T = 2^3 - 2 = 6,
    W = 12 * 37.5 / (9 * 60 - 3 * 6) = 450 / 522."""
    ranks = pd.DataFrame([[1, 2, 3, 4], [2, 1, 3, 4], [1, 3, 2, 4]], columns=list("ABCD"), dtype=float)
    result = kendalls_w(ranks)
    assert (result.judges, result.models) == (3, 4)
    assert result.w == pytest.approx(7 / 9)
    ranks.loc[2] = [1, 2.5, 2.5, 4]
    assert kendalls_w(ranks).w == pytest.approx(450 / 522)
    assert kendalls_w(pd.DataFrame([[1, 2], [1, 2]])).w == pytest.approx(1.0)
    assert kendalls_w(pd.DataFrame([[1, 2], [2, 1]])).w == pytest.approx(0.0)
    assert math.isnan(kendalls_w(ranks.iloc[:1]).w), "one seed: nothing to agree on"


def test_overall_reports_seed_stability_and_epoch_cap(written, sweep):
    """Per seed, alpha and beta tie on the mean rank and gamma is last in every seed: W = 1 overall; per dataset
    the seeds swap alpha and beta once out of three: rank sums 4, 5, 9, S = 14, W = 12 * 14 / (9 * 24) = 7/9.
    Gamma's 9 cells (6 MOSEI, 3 DEAP; the failed one is not a cell) ran to its cap of 3 epochs."""
    assert written["kendall_w"] == pytest.approx(1.0)
    overall = (sweep / "leaderboard" / "overall.md").read_text()
    assert "Kendall's W = 1.000 (3 seeds ranking 3 models" in overall
    assert f"per dataset: {DEAP} 0.78; {MOSEI} 0.78." in overall
    assert "Epoch cap: 9 of 27 cells (33 %) ran to trainer.max_epochs instead of being stopped early (gamma 9)" in overall
    assert written["capped_cells"] == {DEAP: {"gamma": 3}, MOSEI: {"gamma": 6}}
