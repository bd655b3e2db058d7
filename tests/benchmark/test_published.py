"""Published results beside the measured rows: the shipped file validates, bad rows fail with the file and row
named, and a real-data sweep shows italic ‡ reference rows with ours − published in Markdown, LaTeX and CSV that
are never ranked, bolded, tested or averaged into the overall table; twins and other protocols get none.

The published values below are made up for the tests (round numbers, some above every measured mean), not
numbers from any paper."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from emobench.benchmark.cli import main
from emobench.benchmark.leaderboard import (
    build_leaderboards,
    display_frame,
    print_leaderboards,
    write_leaderboards,
)
from emobench.benchmark.published import (
    COLUMNS,
    COMPARISON_COLUMNS,
    PublishedFileError,
    default_file,
    load_published,
)
from emobench.benchmark.store import write_record
from emobench.metrics.collections import metric_names

PAIRS = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]  # 3 seeds x 2 folds
F1 = {"tailor": [0.50, 0.52, 0.51, 0.53, 0.49, 0.51], "carat": [0.55, 0.54, 0.56, 0.55, 0.57, 0.53],
      "prior": [0.30, 0.31, 0.29, 0.30, 0.32, 0.28]}
RECALL = {"tailor": 0.60, "carat": 0.62, "prior": 0.40}
SWAP = "Their 'precision' column: the code passes prediction and label in swapped order."
# (method, metric, value, note); tailor's micro_f1 is above every measured mean, so it would be bold if it counted
MADE_UP = [("tailor", "micro_f1", 0.9, ""), ("tailor", "micro_recall", 0.641, SWAP), ("tailor", "accuracy", 0.45, ""),
           ("carat", "micro_f1", 0.5810, ""), ("mult", "micro_f1", 0.47, "Reprinted by a later paper.")]
PAPER = {"tailor": "Made-up A", "carat": "Made-up B", "mult": "Made-up C"}


def _record(model: str, dataset: str, seed: int, fold: int, f1: float, registered: str | None = None,
            protocol: str | None = None) -> dict:
    metrics = {"accuracy": f1 - 0.1, "micro_precision": f1, "micro_recall": RECALL[model], "micro_f1": f1,
               "macro_f1": f1 - 0.05, "hamming_loss": 0.2}
    config = {"model": model, "dataset": registered or dataset, "seed": seed, "fold": fold, "sweep": "paper",
              "wandb": {"mode": "disabled", "project": "emobench-test", "entity": None}}
    if protocol:
        config["data_args"] = {"protocol": protocol}
    return {"cell_id": f"{model}-{dataset}-s{seed}-f{fold}", "status": "ok", "model": model, "dataset": dataset,
            "seed": seed, "fold": fold, "task": {"kind": "multilabel", "labels": ["a", "b", "c"]},
            "primary": {"name": "micro_f1", "higher_is_better": True},
            "metrics": {f"test/{k}": v for k, v in metrics.items()}, "fit_seconds": 1.0, "parameters": 10,
            "peak_memory_mb": 1.0, "config": config, "started": 0.0, "finished": 1.0}


def write_sweep(sweep: Path, dataset: str = "mosei", **where) -> Path:
    """tailor, carat and prior on `dataset` and (so that the overall table has 2 datasets) on the MOSEI twin."""
    for model, values in F1.items():
        for (seed, fold), f1 in zip(PAIRS, values, strict=True):
            write_record(_record(model, dataset, seed, fold, f1, **where), sweep / "cells")
            twin_f1 = f1 if model != "carat" else f1 - 0.3  # carat last on the twin: the ranks differ per dataset
            write_record(_record(model, "synthetic-mosei", seed, fold, twin_f1), sweep / "cells")
    return sweep


def write_published(path: Path, rows: list[dict] | None = None) -> Path:
    if rows is None:
        rows = [{"method": m, "dataset": "mosei", "kind": "multilabel", "protocol": "official", "metric": metric,
                 "value": value, "paper": PAPER[m], "table": "Table 1", "source": "https://example.org/paper.pdf",
                 "note": note} for m, metric, value, note in MADE_UP]
        rows.append({**rows[0], "dataset": "iemocap", "kind": "multiclass", "protocol": "loso", "metric": "ua"})
    pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(path, index=False)
    return path


@pytest.fixture
def published(tmp_path) -> Path:
    return write_published(tmp_path / "published.csv")


@pytest.fixture
def sweep(tmp_path) -> Path:
    return write_sweep(tmp_path / "out" / "paper")


def _ours(model: str, metric: str) -> float:
    values = F1[model] if metric == "micro_f1" else [f1 - 0.1 for f1 in F1[model]]
    return RECALL[model] if metric == "micro_recall" else sum(values) / len(values)


def _markdown_rows(text: str) -> dict[str, dict[str, str]]:
    """First column -> {header: cell} of the pipe table in a Markdown leaderboard."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    return {row[0]: dict(zip(header, row, strict=True)) for row in rows}


# ---- the file --------------------------------------------------------------------------------------------------
def test_shipped_file_validates_and_cites_a_source_per_row():
    assert default_file().name == "published.csv" and default_file().is_file()
    frame = load_published()
    assert len(frame) and list(frame.columns) == list(COLUMNS)
    for row in frame.itertuples():
        assert row.metric in metric_names(row.kind) and 0 <= row.value <= 1
        assert row.paper and row.table and row.source.startswith(("http", "paper PDF"))


@pytest.mark.parametrize(("change", "match"), [
    ({"metric": "precision"}, r"row 1 \(line 2; method=tailor, dataset=mosei, metric=precision\): 'precision' is "
                              r"not a multilabel metric"),
    ({"value": "56.9"}, r"row 1 .*value '56.9' is not a number in \[0, 1\].*80.10 % is 0.8010"),
    ({"value": "n/a"}, r"value 'n/a' is not a number"),
    ({"dataset": "synthetic-mosei"}, r"'synthetic-mosei' is a synthetic twin"),
    ({"kind": "regression"}, r"unknown task kind 'regression'"),
    ({"protocol": "random"}, r"unknown protocol 'random'"),
    ({"source": ""}, r"\['source'\] empty"),
])
def test_a_bad_row_names_the_file_the_row_and_the_fix(tmp_path, change, match):
    good = {"method": "tailor", "dataset": "mosei", "kind": "multilabel", "protocol": "official",
            "metric": "micro_f1", "value": 0.5, "paper": "P", "table": "T", "source": "S", "note": ""}
    path = write_published(tmp_path / "bad.csv", [{**good, **change}])
    with pytest.raises(PublishedFileError, match=match) as info:
        load_published(path)
    assert str(path) in str(info.value) and "Make sure" in str(info.value)


def test_duplicates_unknown_columns_and_missing_files_are_errors(tmp_path):
    row = {"method": "tailor", "dataset": "mosei", "kind": "multilabel", "protocol": "official",
           "metric": "micro_f1", "value": 0.5, "paper": "P", "table": "T", "source": "S", "note": ""}
    with pytest.raises(PublishedFileError, match=r"row 2 .*same method, dataset, protocol and metric as row 1"):
        load_published(write_published(tmp_path / "twice.csv", [row, {**row, "value": 0.6}]))
    (tmp_path / "columns.csv").write_text("method,dataset,metric,value,score\n")
    with pytest.raises(PublishedFileError, match=r"missing \['kind', 'protocol'.*unknown \['score'\]"):
        load_published(tmp_path / "columns.csv")
    with pytest.raises(PublishedFileError, match="No published-results file"):
        load_published(tmp_path / "absent.csv")


# ---- the leaderboard -------------------------------------------------------------------------------------------
def test_reference_rows_show_published_values_and_our_differences(sweep, published):
    result = write_leaderboards(sweep, wandb_mode="disabled", quiet=True, published=published)
    folder = result["folder"]
    rows = _markdown_rows((folder / "mosei.md").read_text())
    ref, delta = rows["*tailor (published)* ‡"], rows["Δ tailor: ours − published"]
    assert ref["micro_f1 ↑"] == "0.900" and ref["micro_recall ↑"] == "0.641" and ref["accuracy ↑"] == "0.450"
    assert ref["micro_precision ↑"] == "" and ref["rank"] == "" and ref["n"] == "" and ref["params"] == ""
    assert delta["micro_f1 ↑"] == f"{_ours('tailor', 'micro_f1') - 0.9:+.3f}"
    assert delta["micro_recall ↑"] == f"{0.60 - 0.641:+.3f}" == "-0.041"
    assert rows["*carat (published)* ‡"]["micro_f1 ↑"] == "0.581"  # 0.5810 as printed, 4 decimals at most
    assert rows["Δ carat: ours − published"]["micro_f1 ↑"] == f"{_ours('carat', 'micro_f1') - 0.581:+.3f}"
    assert "*mult (published)* ‡" in rows and not any(k.startswith("Δ mult") for k in rows)  # not run here
    assert list(rows)[:3] == ["carat", "tailor", "prior"]  # measured rows first, in rank order
    notes = (folder / "mosei.md").read_text()
    assert "‡ Published results" in notes and 'their "precision" column is our micro_recall' in notes
    assert f"‡ tailor: Made-up A, Table 1 (https://example.org/paper.pdf). {SWAP}" in notes
    csv = pd.read_csv(folder / "published_mosei.csv").set_index(["method", "metric"])
    assert csv.loc[("tailor", "micro_f1"), "published"] == pytest.approx(0.9)
    assert csv.loc[("tailor", "micro_f1"), "difference"] == pytest.approx(_ours("tailor", "micro_f1") - 0.9)
    assert csv.loc[("tailor", "accuracy"), "ours_mean"] == pytest.approx(_ours("tailor", "accuracy"))
    assert csv.loc[("carat", "micro_f1"), "ours_n"] == 6 and csv.loc[("tailor", "micro_recall"), "note"] == SWAP
    assert pd.isna(csv.loc[("mult", "micro_f1"), "difference"]) and len(csv) == len(MADE_UP)
    assert folder / "published_mosei.csv" in result["files"]
    tex = (folder / "mosei.tex").read_text()
    assert r"\textit{tailor (published)} $^\ddagger$ &  &  & 0.450 &" in tex
    assert r"$\Delta$ tailor: ours $-$ published" in tex
    body = tex.split(r"\midrule")
    assert len(body) == 3 and "prior" in body[1] and "published" not in body[1] and "carat (published)" in body[2]


def test_reference_rows_are_never_ranked_bolded_or_counted(sweep, published, tmp_path):
    without = build_leaderboards(sweep, write_published(tmp_path / "none.csv", []))
    with_refs = build_leaderboards(sweep, published)
    board = with_refs.boards["mosei"]
    assert len(board.references) == len(MADE_UP) and without.boards["mosei"].references.empty
    pd.testing.assert_frame_equal(board.table, without.boards["mosei"].table)
    pd.testing.assert_frame_equal(with_refs.overall, without.overall)
    assert list(with_refs.overall["mean_rank"]) == list(without.overall["mean_rank"])
    assert with_refs.friedman.applicable and with_refs.friedman.summary() == without.friedman.summary()
    pd.testing.assert_series_equal(with_refs.friedman.mean_ranks, without.friedman.mean_ranks)
    assert set(board.paired) == {"tailor", "prior"}  # tested against the best (carat): measured models only
    frame = display_frame(board, "markdown").set_index("model")
    assert frame.loc["carat", "micro_f1 ↑"].startswith("**")  # the best measured mean stays bold under 0.900
    references = frame.loc[[m for m in frame.index if "published" in m]]
    assert not references.map(lambda c: "**" in c or "†" in c).any().any()
    assert (references["rank"] == "").all()


def test_a_twin_and_another_protocol_get_no_reference_rows(tmp_path, published):
    # a sweep entry labelled "mosei" that runs the twin: the label matches the file, the data is synthetic
    twin = write_leaderboards(write_sweep(tmp_path / "twin", registered="synthetic-mosei"), wandb_mode="disabled",
                              quiet=True, published=published)
    text = (twin["folder"] / "mosei.md").read_text()
    assert "(published)" not in text and "ran on the synthetic twin(s) synthetic-mosei" in text
    assert not (twin["folder"] / "published_mosei.csv").exists()
    assert "(published)" not in (twin["folder"] / "synthetic-mosei.md").read_text()
    kfold = write_leaderboards(write_sweep(tmp_path / "kfold", protocol="kfold"), wandb_mode="disabled",
                               quiet=True, published=published)
    text = (kfold["folder"] / "mosei.md").read_text()
    assert "(published)" not in text and "under protocol ['official'] left out: these records ran ['kfold']" in text


def test_table_command_takes_a_published_file(sweep, published, tmp_path, capsys):
    assert main(["table", str(sweep), "--wandb", "disabled", "--published", str(published)]) == 0
    assert "tailor (published)" in capsys.readouterr().out
    bad = write_published(tmp_path / "bad.csv", [{"method": "tailor", "dataset": "mosei", "kind": "multilabel",
                                                  "protocol": "official", "metric": "micro_f1", "value": 57,
                                                  "paper": "P", "table": "T", "source": "S", "note": ""}])
    assert main(["table", str(sweep), "--wandb", "disabled", "--published", str(bad)]) == 1
    out = capsys.readouterr().out.replace("\n", "")
    assert "bad.csv" in out and "row 1" in out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_rich_tables_on_a_terminal_show_the_reference_rows_and_their_notes(sweep, published):
    console = Console(file=_Terminal(), width=250, color_system=None)
    print_leaderboards(build_leaderboards(sweep, published), console)
    out = console.file.getvalue()
    assert "tailor (published) ‡" in out and "Δ tailor: ours − published" in out and "-0.390" in out
    assert "‡ Published results" in out and "‡ tailor: Made-up A" in out and "[italic]" not in out


def test_offline_wandb_run_logs_the_published_table(sweep, published):
    run_dir = write_leaderboards(sweep, wandb_mode="offline", quiet=True, published=published)["wandb_dir"]
    tables = {p.name.rsplit("_", 2)[0]: json.loads(p.read_text())
              for p in (run_dir / "files" / "media" / "table").glob("*.table.json")}
    assert "published_mosei" in tables and "published_synthetic-mosei" not in tables
    assert tables["published_mosei"]["columns"] == list(COMPARISON_COLUMNS)
    assert {(row[0], row[1]) for row in tables["published_mosei"]["data"]} == {(m, k) for m, k, _, _ in MADE_UP}
