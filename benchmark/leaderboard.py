"""Leaderboards of a sweep, read only from its results store (`<sweep dir>/cells/*.json`).

Per dataset: one row per model, every test metric of the dataset's task kind as mean ± sample std (ddof=1) over
the model's (seed, fold) cells, the best value per metric in bold (direction from
`metrics.collections.higher_is_better`), the rank by the primary metric, cost columns, and a dagger where a paired
test over matched (seed, fold) cells finds no significant difference from the best model. Published results of a
real dataset (`benchmark.published`) follow as italic ‡ rows with our mean minus theirs; they live outside
`DatasetBoard.table`, so nothing ranks, bolds, tests or averages them. Overall: each model's mean rank over
datasets and a Friedman test with a critical-difference diagram. Written to `<sweep dir>/leaderboard/` as CSV
(numbers only), Markdown, LaTeX (booktabs) and PNG, and logged to W&B."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.markup import escape as rich_escape

from emobench.benchmark import plots
from emobench.benchmark.identity import current_code_hash
from emobench.benchmark.published import COMPARISON_COLUMNS, board_references, comparison, load_published
from emobench.benchmark.stats import (
    ALPHA,
    MIN_WILCOXON_PAIRS,
    TEST_NAMES,
    Concordance,
    FriedmanResult,
    PairedResult,
    friedman,
    kendalls_w,
    paired_test,
)
from emobench.benchmark.store import load_records
from emobench.benchmark.tracking import WANDB_MODES
from emobench.metrics.collections import higher_is_better, metric_names, primary_metric

DIGITS = 3
OUTPUT_FOLDER = "leaderboard"
_OUTPUT_SUFFIXES = (".csv", ".md", ".tex", ".png")
#: Cost columns of a dataset table: record key -> (CSV column, display header, aggregation over cells).
COSTS: dict[str, tuple[str, str, str]] = {
    "parameters": ("parameters", "params", "median"),
    "fit_seconds": ("fit_seconds_mean", "fit s", "mean"),
    "peak_memory_mb": ("peak_memory_mb_max", "peak MB", "max"),
}


class NoRecordsError(FileNotFoundError):
    """The sweep folder holds no result records (the CLI prints it and exits with code 1)."""


@dataclass
class DatasetBoard:
    """The leaderboard of one dataset. `table` holds numbers only, one row per model, sorted by rank."""

    dataset: str
    kind: str
    primary: str
    higher: dict[str, bool]  # metric -> higher is better, from `metrics.collections.higher_is_better`
    table: pd.DataFrame
    best_model: str | None
    paired: dict[str, PairedResult]
    seeds: list[int]
    folds: list[int]
    superseded: int = 0
    stale: dict[str, int] = field(default_factory=dict)  # model -> records made by other code than the current
    unchecked: dict[str, int] = field(default_factory=dict)  # model -> records whose user modules were not imported
    # published results beside the table, never in it: `published.COMPARISON_COLUMNS`, one row per (method, metric)
    references: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(COMPARISON_COLUMNS)))
    reference_notes: list[str] = field(default_factory=list)  # published rows of this dataset left out, and why
    # rows seeds, columns models: each seed's rank of the model (its primary metric averaged over folds; 1 = best)
    seed_ranks: pd.DataFrame = field(default_factory=pd.DataFrame)
    capped: dict[str, int] = field(default_factory=dict)  # model -> cells that stopped at trainer.max_epochs
    cap_known: int = 0  # cells whose records tell epochs and trainer.max_epochs

    @property
    def metrics(self) -> list[str]:
        return list(self.higher)


@dataclass
class Leaderboards:
    """Everything `write_leaderboards` computes: per-dataset boards, the overall table and the Friedman test."""

    sweep_dir: Path
    boards: dict[str, DatasetBoard]
    overall: pd.DataFrame
    friedman: FriedmanResult
    failed: list[dict[str, Any]]
    wandb: dict[str, Any] = field(default_factory=dict)  # the cells' config["wandb"] (mode, project, entity)
    files: list[Path] = field(default_factory=list)
    wandb_dir: Path | None = None
    stability: Concordance = field(default_factory=lambda: Concordance(float("nan"), 0, 0))  # Kendall's W, seeds
    dataset_stability: dict[str, Concordance] = field(default_factory=dict)


# ---- reading the store ------------------------------------------------------------------------------------------
def resolve_sweep_dir(sweep_dir: str | Path) -> Path:
    """The sweep folder (`<output>/<sweep>`); its `cells/` folder is accepted too."""
    path = Path(sweep_dir)
    return path.parent if path.name == "cells" and not (path / "cells").is_dir() else path


def load_sweep(sweep_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(ok records, failed records) of a sweep folder; raises `NoRecordsError` when it holds none."""
    cells = sweep_dir / "cells"
    records = load_records(cells)
    ok = [r for r in records if r.get("status") == "ok"]
    failed = [r for r in records if r.get("status") != "ok"]
    if not ok:
        found = f"{len(failed)} record(s), none with status 'ok'" if failed else "no record"
        what = "folder does not exist" if not sweep_dir.is_dir() else found
        raise NoRecordsError(
            f"No results to tabulate in <sweep_dir={sweep_dir}>: {what}. Expected result records "
            f"`{cells}/<cell id>.json` with status 'ok', as written by `emobench sweep` or `emobench run`. "
            "Make sure the path is the sweep folder `<output>/<sweep name>`.")
    return ok, failed


def records_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per ok record: model, dataset, kind, seed, fold, finished, each `test/<name>` metric (as `<name>`),
    the cost keys, and the registered dataset and protocol it ran (for published results). Only the task kind's
    metrics (`metrics.collections.metric_names`) reach the tables; test losses and auxiliary losses do not."""
    rows = []
    current: dict[str, str | None] = {}
    for record in records:
        row = {key: record.get(key) for key in ("cell_id", "model", "dataset", "seed", "fold")}
        row["code"] = code_status(record, current)
        row["kind"] = record["task"]["kind"]
        row["finished"] = record.get("finished", 0.0)
        row["epochs"] = record.get("epochs")
        row["max_epochs"] = ((record.get("config") or {}).get("trainer") or {}).get("max_epochs")
        config = record.get("config") or {}
        row["registered"] = config.get("dataset") or record.get("dataset")
        row["protocol"] = (config.get("data_args") or {}).get("protocol")
        row.update({key: record.get(key) for key in COSTS})
        row.update({name.removeprefix("test/"): float(value) for name, value in record["metrics"].items()
                    if name.startswith("test/")})
        rows.append(row)
    return pd.DataFrame(rows)


def code_status(record: dict[str, Any], current: dict[str, str | None]) -> str:
    """"current" when the record's `code_hash` equals the one its config gets from the code loaded now; "stale" when
    it differs or is absent (records from before code hashing); "unchecked" when today's hash cannot be told (a user
    module from `imports` not imported: `emobench table --imports ...` imports them). `current` caches hashes."""
    config = record.get("config") or {}
    if record.get("code_hash") is None:
        return "stale"
    key = json.dumps([config.get(k) for k in ("model", "dataset", "imports")], default=str)
    if key not in current:
        current[key] = current_code_hash(config)
    if current[key] is None:
        return "unchecked"
    return "current" if current[key] == record["code_hash"] else "stale"


# ---- per-dataset table ------------------------------------------------------------------------------------------
def dataset_board(frame: pd.DataFrame, dataset: str, published: pd.DataFrame | None = None) -> DatasetBoard:
    """The leaderboard of `dataset` from `records_frame` rows (a re-run cell keeps only its latest record), with the
    rows of `published` (`published.load_published`) that apply to it beside the table."""
    rows = frame[frame["dataset"] == dataset].sort_values("finished")
    kinds = sorted(set(rows["kind"]))
    if len(kinds) != 1:
        raise ValueError(f"<dataset={dataset}> has records of task kinds {kinds}; a dataset must have one kind. "
                         "Make sure one sweep folder holds one definition of each dataset.")
    kind = kinds[0]
    try:
        names = metric_names(kind)
        primary, _ = primary_metric(kind)
    except ValueError as err:
        raise ValueError(f"<dataset={dataset}>: {err} Make sure the records come from this version.") from err
    deduplicated = rows.drop_duplicates(["model", "seed", "fold"], keep="last")
    superseded = len(rows) - len(deduplicated)
    rows = deduplicated
    stale = {str(m): int(n) for m, n in rows[rows["code"] == "stale"].groupby("model").size().items()}
    unchecked = {str(m): int(n) for m, n in rows[rows["code"] == "unchecked"].groupby("model").size().items()}
    metrics = [m for m in names if m in rows.columns and rows[m].notna().any()]
    if primary not in metrics:
        raise ValueError(f"<dataset={dataset}>: no record has the primary metric <test/{primary}> of task kind "
                         f"{kind!r}. Make sure the records were written by `emobench run` or `emobench sweep`.")
    higher = {m: higher_is_better(kind, m) for m in metrics}
    groups = rows.groupby("model", sort=True)
    table = pd.DataFrame({"n": groups.size()})
    for metric in metrics:
        table[f"{metric}_mean"] = groups[metric].mean()
        table[f"{metric}_std"] = groups[metric].std(ddof=1)
    for key, (column, _, how) in COSTS.items():
        table[column] = groups[key].agg(how) if key in rows and rows[key].notna().any() else np.nan
    oriented = table[f"{primary}_mean"] if higher[primary] else -table[f"{primary}_mean"]
    table.insert(0, "rank", oriented.rank(ascending=False, method="average"))
    table = table.sort_values(["rank"], kind="stable", na_position="last")
    best_model = str(table.index[0]) if table["rank"].notna().any() else None

    by_pair = rows.set_index(["seed", "fold"])
    paired: dict[str, PairedResult] = {}
    if best_model is not None:
        best = by_pair.loc[by_pair["model"] == best_model, primary]
        for model in table.index:
            if model != best_model:
                paired[str(model)] = paired_test(by_pair.loc[by_pair["model"] == model, primary], best)
    table["parameters"] = table["parameters"].round().astype("Int64")
    table["n_pairs_vs_best"] = pd.array([paired[m].n_pairs if m in paired else None for m in table.index],
                                        dtype="Int64")
    table["test_vs_best"] = [paired[m].test if m in paired else "" for m in table.index]
    table["p_vs_best"] = [paired[m].p_value if m in paired else np.nan for m in table.index]
    table["significant_vs_best"] = [paired[m].significant if m in paired else False for m in table.index]
    table = table.reset_index(names="model")
    board = DatasetBoard(dataset, kind, primary, higher, table, best_model, paired,
                         sorted(int(s) for s in rows["seed"].unique()), sorted(int(f) for f in rows["fold"].unique()),
                         superseded, stale, unchecked)
    per_seed = rows.pivot_table(index="seed", columns="model", values=primary, aggfunc="mean")
    board.seed_ranks = (-per_seed if higher[primary] else per_seed).rank(axis=1, method="average")
    board.capped, board.cap_known = capped_cells(rows)
    if published is not None:
        runs = zip(rows["registered"], rows["protocol"], strict=True)
        references, board.reference_notes = board_references(published, dataset, kind, runs)
        board.references = comparison(references, table, metrics)
    return board


def capped_cells(rows: pd.DataFrame) -> tuple[dict[str, int], int]:
    """(model -> cells whose training ran to the epoch cap (`epochs` >= the cell's trainer.max_epochs) instead of
    being stopped early, number of cells whose records tell both); a cap of -1 (none) never counts."""
    epochs, cap = pd.to_numeric(rows["epochs"]), pd.to_numeric(rows["max_epochs"])
    hit = rows[(cap > 0) & (epochs >= cap)]
    known = int((epochs.notna() & cap.notna()).sum())
    return {str(m): int(n) for m, n in hit.groupby("model").size().items()}, known


def ranking_stability(boards: dict[str, DatasetBoard]) -> tuple[Concordance, dict[str, Concordance]]:
    """Kendall's W of the per-seed rankings: overall, each seed ranks the models by their mean rank over the
    datasets (that seed ran); per dataset, by their rank on it."""
    per_dataset = {name: kendalls_w(board.seed_ranks) for name, board in boards.items()}
    frames = [board.seed_ranks for board in boards.values() if not board.seed_ranks.empty]
    if not frames:
        return Concordance(float("nan"), 0, 0), per_dataset
    mean_ranks = pd.concat(frames).groupby(level=0).mean()
    return kendalls_w(mean_ranks), per_dataset


def best_rows(board: DatasetBoard) -> dict[str, set[int]]:
    """Metric -> positions (rows of `board.table`) holding the best mean in the metric's direction (ties: all)."""
    best: dict[str, set[int]] = {}
    for metric, higher in board.higher.items():
        means = board.table[f"{metric}_mean"]
        if means.isna().all():
            best[metric] = set()
            continue
        target = means.max() if higher else means.min()
        best[metric] = {i for i, value in enumerate(means) if value == target}
    return best


# ---- overall table ----------------------------------------------------------------------------------------------
def rank_matrix(boards: dict[str, DatasetBoard]) -> pd.DataFrame:
    """Rows datasets, columns models, values each model's rank on the dataset (1 = best; NaN: not run there)."""
    ranks = {name: board.table.set_index("model")["rank"] for name, board in boards.items()}
    return pd.DataFrame(ranks).T.sort_index(axis=1)


def overall_table(boards: dict[str, DatasetBoard]) -> pd.DataFrame:
    """One row per model: mean rank over the datasets it ran on, their number, and the rank on each dataset."""
    ranks = rank_matrix(boards)
    table = pd.DataFrame({"mean_rank": ranks.mean(axis=0), "n_datasets": ranks.notna().sum(axis=0)})
    for dataset in ranks.index:
        table[f"rank_{dataset}"] = ranks.loc[dataset]
    table = table.sort_values(["mean_rank", "n_datasets"], ascending=[True, False], kind="stable")
    return table.reset_index(names="model")


# ---- formatting -------------------------------------------------------------------------------------------------
def _latex_escape(text: str) -> str:
    text = re.sub(r"([&%$#_{}])", r"\\\1", str(text))
    for symbol, command in (("±", r"$\pm$"), ("†", r"$^\dagger$"), ("↑", r"$\uparrow$"),
                            ("↓", r"$\downarrow$"), ("≥", r"$\geq$"), ("×", r"$\times$"), ("α", r"$\alpha$"),
                            ("χ²", r"$\chi^2$"), ("–", "--"), ("‡", r"$^\ddagger$"), ("Δ", r"$\Delta$"),
                            ("−", "$-$")):
        text = text.replace(symbol, command)
    return text


_STYLES: dict[str, tuple[Callable[[str], str], Callable[[str], str], str]] = {
    # style -> (escape plain text, make bold, dagger)
    "plain": (str, str, "†"),
    "markdown": (lambda t: str(t).replace("|", r"\|"), lambda t: f"**{t}**", "†"),
    "latex": (_latex_escape, lambda t: rf"\textbf{{{t}}}", r"$^\dagger$"),
    "rich": (lambda t: rich_escape(str(t)), lambda t: f"[bold]{t}[/bold]", "†"),
}


_REFERENCE_STYLES: dict[str, tuple[Callable[[str], str], str]] = {
    # style -> (make italic, double dagger) for the published rows
    "plain": (str, "‡"),
    "markdown": (lambda t: f"*{t}*", "‡"),
    "latex": (lambda t: rf"\textit{{{t}}}", r"$^\ddagger$"),
    "rich": (lambda t: f"[italic]{t}[/italic]", "‡"),
}


def _number(value: float, digits: int = DIGITS) -> str:
    return "–" if value is None or np.isnan(value) else f"{value:.{digits}f}"


def _published_number(value: float) -> str:
    """A published value as printed in papers (up to 4 decimals: 0.8010 -> 0.801, 0.7945 -> 0.7945)."""
    text = f"{value:.4f}"
    return text[:-1] if text.endswith("0") else text


def _signed(value: float, digits: int = DIGITS) -> str:
    return "–" if value is None or np.isnan(value) else f"{value:+.{digits}f}"


def _rank(value: float) -> str:
    return "–" if np.isnan(value) else (f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}")


def _count(value: float) -> str:
    if value is None or np.isnan(value):
        return "–"
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.0f}"


def mean_std(mean: float, std: float, digits: int = DIGITS) -> str:
    """`0.512 ± 0.010`; only the mean when the std is undefined (one cell)."""
    return _number(mean, digits) if np.isnan(std) else f"{_number(mean, digits)} ± {_number(std, digits)}"


def display_frame(board: DatasetBoard, style: str = "plain") -> pd.DataFrame:
    """The table as strings: best per metric in bold, † on the primary metric where not significantly different
    from the best model."""
    escape, bold, dagger = _STYLES[style]
    best = best_rows(board)
    table = board.table
    out = pd.DataFrame({"model": [escape(m) for m in table["model"]], "rank": table["rank"].map(_rank),
                        "n": table["n"].astype(int).astype(str)})
    for metric in board.metrics:
        cells = []
        for i, row in table.iterrows():
            text = escape(mean_std(row[f"{metric}_mean"], row[f"{metric}_std"]))
            text = bold(text) if i in best[metric] else text
            result = board.paired.get(row["model"])
            if metric == board.primary and result is not None and result.tested and not result.significant:
                text += dagger
            cells.append(text)
        out[_metric_header(board, metric, escape)] = cells
    formats = {"parameters": _count, "fit_seconds": lambda v: _number(v, 1), "peak_memory_mb": lambda v: _number(v, 0)}
    for key, (column, header, _) in COSTS.items():
        out[header] = table[column].astype(float).map(formats[key])
    references = reference_rows(board, style)
    return pd.concat([out, references[out.columns]], ignore_index=True) if len(references) else out


def _metric_header(board: DatasetBoard, metric: str, escape: Callable[[str], str]) -> str:
    return escape(f"{metric} {plots.arrow(board.higher[metric])}".strip())


def reference_rows(board: DatasetBoard, style: str = "plain") -> pd.DataFrame:
    """Display rows of the published results, after the measured rows: per method an italic ‡ row of its published
    values and, where the method ran here, a Δ row of our mean − published; rank, n and costs stay empty, and no
    cell is bold or daggered."""
    escape, _, _ = _STYLES[style]
    italic, mark = _REFERENCE_STYLES[style]
    rows = []
    for method, group in board.references.groupby("method", sort=True):
        values = group.set_index("metric")
        lines = [(f"{italic(escape(f'{method} (published)'))} {mark}", values["published"].map(_published_number))]
        if values["ours_mean"].notna().any():
            lines.append((escape(f"Δ {method}: ours − published"), values["difference"].map(_signed)))
        for label, cells in lines:
            row = {"model": label, "rank": "", "n": "", **{header: "" for _, header, _ in COSTS.values()}}
            row.update({_metric_header(board, m, escape): cells.get(m, "") for m in board.metrics})
            rows.append(row)
    return pd.DataFrame(rows)


def reference_notes(board: DatasetBoard) -> list[str]:
    """The ‡ footnotes: what the published rows are and are not, the precision/recall swap of TAILOR/CARAT, each
    method's sources and notes, and published rows left out."""
    if board.references.empty:
        return list(board.reference_notes)
    first = ("‡ Published results (italic rows), as the papers report them on the real dataset, not measured "
             "here: never ranked, bolded, tested against the best model, or counted in the overall ranking or the "
             "Friedman test. Δ rows: our mean − the published value (mind each metric's ↑/↓).")
    if board.kind == "multilabel":
        first += (" Published values stand under our metric names and definitions: TAILOR's and CARAT's code "
                  "passes prediction and label in swapped order, so their \"precision\" column is our micro_recall "
                  "and their \"recall\" our micro_precision; such rows say so.")
    notes = [first]
    for method, group in board.references.groupby("method", sort=True):
        sources = dict.fromkeys(f"{p}, {t} ({s})" for p, t, s in zip(group["paper"], group["table"],
                                                                      group["source"], strict=True))
        remarks = dict.fromkeys(n for n in group["note"] if n)
        notes.append(f"‡ {method}: " + "; ".join(sources) + "." + "".join(f" {r}" for r in remarks))
    return notes + list(board.reference_notes)


def board_notes(board: DatasetBoard) -> list[str]:
    """Footnotes stating the population, directions, ranking and the paired test that was used."""
    seeds = ", ".join(map(str, board.seeds))
    folds = ", ".join(map(str, board.folds))
    direction = "higher" if board.higher[board.primary] else "lower"
    notes = [f"Test metrics: mean ± sample std (ddof=1) over seeds {{{seeds}}} × folds {{{folds}}}; n = cells per "
             f"model. ↑ higher is better, ↓ lower is better; best per metric in bold. Rank by {board.primary} "
             f"({direction} is better)."]
    notes += reference_notes(board)
    tests: dict[str, list[str]] = {}
    for model, result in board.paired.items():
        tests.setdefault(result.test, []).append(model)
    described = []
    for test, models in sorted(tests.items()):
        if not test:
            continue
        why = (f"{MIN_WILCOXON_PAIRS} or more pairs" if test.startswith("Wilcoxon")
               else f"fewer than {MIN_WILCOXON_PAIRS} pairs")
        described.append(f"two-sided {test} ({TEST_NAMES[test]}; {why}) for {', '.join(models)}")
    if board.best_model is not None and described:
        notes.append(f"† not significantly different from the best model ({board.best_model}) in {board.primary} "
                     f"at α = {ALPHA} (p ≥ {ALPHA}). Each model is tested against the best over matched (seed, fold) "
                     "cells: " + "; ".join(described) + ".")
    if tests.get(""):
        notes.append(f"Not tested against the best (fewer than 2 matched (seed, fold) pairs): {', '.join(tests[''])}.")
    notes.append("params: parameter count; fit s: mean training wall-clock seconds; peak MB: largest peak memory.")
    if board.superseded:
        notes.append(f"{board.superseded} older record(s) of re-run cells ignored (latest kept).")
    if board.stale:
        which = ", ".join(f"{m} ({n})" for m, n in sorted(board.stale.items()))
        notes.append(f"Stale: records of {which} were made by other code than the current one (their code hash "
                     "differs from the model's and dataset's source now, or they predate code hashing), so a rerun "
                     "may give other numbers. Make sure to rerun the sweep: changed code gives new cell ids, and "
                     "the new records supersede these.")
    if board.unchecked:
        which = ", ".join(f"{m} ({n})" for m, n in sorted(board.unchecked.items()))
        notes.append(f"Code not checked for {which}: their records name user modules (`imports`) that were not "
                     "imported. Make sure to pass them (`emobench table DIR --imports my_model.py`) to check.")
    counts = board.table.set_index("model")["n"].astype(int)
    if counts.nunique() > 1:
        short = ", ".join(f"{m} ({n})" for m, n in counts.items() if n < counts.max())
        notes.append(f"Warning: models have different numbers of cells (fewest: {short}; most: {counts.max()}), so "
                     "their means cover different seeds/folds; only the paired test compares matched cells. "
                     "Rerun the missing or failed cells (`emobench sweep --rerun-failed`).")
    return notes


def _markdown(frame: pd.DataFrame) -> str:
    """A pipe table (tabulate) that keeps the cells' text as is; first column left-aligned, the rest right."""
    align = ("left",) + ("right",) * (frame.shape[1] - 1)
    return frame.to_markdown(index=False, disable_numparse=True, colalign=align)


def board_markdown(board: DatasetBoard) -> str:
    title = (f"# {board.dataset} ({board.kind}; ranked by {board.primary} "
             f"{plots.arrow(board.higher[board.primary])})")
    notes = "\n".join(f"- {note}" for note in board_notes(board))
    return f"{title}\n\n{_markdown(display_frame(board, 'markdown'))}\n\n{notes}\n"


def _latex_table(frame: pd.DataFrame, caption: str, label: str) -> str:
    column_format = "l" + "r" * (frame.shape[1] - 1)
    return frame.to_latex(index=False, escape=False, column_format=column_format, caption=caption,
                          label=label, position="htbp")


def _label(name: str) -> str:
    return "tab:" + re.sub(r"[^A-Za-z0-9:-]+", "-", name)


def board_latex(board: DatasetBoard) -> str:
    caption = _latex_escape(f"{board.dataset} ({board.kind}). " + " ".join(board_notes(board)))
    latex = _latex_table(display_frame(board, "latex"), caption, _label(board.dataset))
    if board.references.empty:
        return latex
    lines = latex.split("\n")  # a rule between the measured rows and the published ones
    body = lines.index(r"\midrule") + 1
    return "\n".join(lines[:body + len(board.table)] + [r"\midrule"] + lines[body + len(board.table):])


def overall_display(overall: pd.DataFrame, style: str = "plain") -> pd.DataFrame:
    escape, bold, _ = _STYLES[style]
    best = overall["mean_rank"].min()
    out = pd.DataFrame({"model": [escape(m) for m in overall["model"]]})
    out["mean rank"] = [bold(f"{v:.2f}") if v == best else f"{v:.2f}" for v in overall["mean_rank"]]
    out["datasets"] = overall["n_datasets"].astype(int).astype(str)
    for column in overall.columns:
        if column.startswith("rank_"):
            out[escape(column.removeprefix("rank_"))] = overall[column].map(_rank)
    return out


def overall_notes(result: Leaderboards) -> list[str]:
    notes = ["Rank of each model on each dataset by that dataset's primary metric (1 = best, ties share the "
             "average rank); mean rank over the datasets the model ran on; best in bold.",
             result.friedman.summary(), stability_note(result), cap_note(result)]
    if result.failed:
        notes.append(f"{len(result.failed)} failed cell(s) left out: " + "; ".join(
            f"{r.get('model')} / {r.get('dataset')} seed {r.get('seed')} fold {r.get('fold')}"
            for r in result.failed) + ".")
    return notes


def stability_note(result: Leaderboards) -> str:
    """One sentence: Kendall's W of the per-seed rankings, overall and per dataset."""
    w = result.stability
    if np.isnan(w.w):
        return ("Ranking stability across seeds: not computed (Kendall's W needs at least 2 seeds and 2 models "
                "run with every seed).")
    per = "; ".join(f"{name} {c.w:.2f}" for name, c in result.dataset_stability.items() if not np.isnan(c.w))
    return (f"Ranking stability across seeds: Kendall's W = {w.w:.3f} ({w.judges} seeds ranking {w.models} models "
            "by their mean rank over the datasets; 1 = every seed ranks the models alike, 0 = no agreement)"
            + (f"; per dataset: {per}." if per else "."))


def cap_note(result: Leaderboards) -> str:
    """One sentence: how many cells ran to the epoch cap instead of stopping early, by model."""
    total = sum(board.cap_known for board in result.boards.values())
    if not total:
        return "Epoch cap: not known (the records do not store epochs and trainer.max_epochs)."
    by_model: dict[str, int] = {}
    for board in result.boards.values():
        for model, count in board.capped.items():
            by_model[model] = by_model.get(model, 0) + count
    capped = sum(by_model.values())
    if not capped:
        return (f"Epoch cap: none of the {total} cells with a known cap ran to trainer.max_epochs; early stopping "
                "ended every one.")
    which = ", ".join(f"{m} {n}" for m, n in sorted(by_model.items(), key=lambda kv: (-kv[1], kv[0])))
    return (f"Epoch cap: {capped} of {total} cells ({100 * capped / total:.0f} %) ran to trainer.max_epochs "
            f"instead of being stopped early ({which}); they may be under-trained.")


def overall_markdown(result: Leaderboards) -> str:
    notes = "\n".join(f"- {note}" for note in overall_notes(result))
    table = _markdown(overall_display(result.overall, "markdown"))
    return f"# Overall ranking\n\n{table}\n\n{notes}\n"


def overall_latex(result: Leaderboards) -> str:
    caption = _latex_escape("Overall ranking. " + " ".join(overall_notes(result)))
    return _latex_table(overall_display(result.overall, "latex"), caption, "tab:overall")


# ---- writing ----------------------------------------------------------------------------------------------------
def _file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def _failed_summary(record: dict[str, Any]) -> dict[str, Any]:
    error = str(record.get("error") or record.get("traceback") or "").strip().splitlines()
    return {key: record.get(key) for key in ("cell_id", "model", "dataset", "seed", "fold")} | {
        "error": error[-1] if error else ""}


def build_leaderboards(sweep_dir: str | Path, published: str | Path | None = None) -> Leaderboards:
    """Read the store and compute every table and test (writes nothing); `published` is the published-results
    file shown beside the tables (default: the shipped `experiments/published.csv`)."""
    sweep_dir = resolve_sweep_dir(sweep_dir)
    ok, failed = load_sweep(sweep_dir)
    frame = records_frame(ok)
    reference = load_published(published)
    boards = {dataset: dataset_board(frame, dataset, reference) for dataset in sorted(frame["dataset"].unique())}
    stability, per_dataset = ranking_stability(boards)
    return Leaderboards(sweep_dir, boards, overall_table(boards), friedman(rank_matrix(boards)),
                        [_failed_summary(r) for r in failed], wandb_settings(ok), stability=stability,
                        dataset_stability=per_dataset)


def _write(path: Path, text: str, files: list[Path]) -> None:
    path.write_text(text)
    files.append(path)


def write_files(result: Leaderboards) -> list[Path]:
    """CSV, Markdown, LaTeX and PNG files under `<sweep dir>/leaderboard/` (earlier outputs there are replaced)."""
    folder = result.sweep_dir / OUTPUT_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_file() and old.suffix in _OUTPUT_SUFFIXES:
            old.unlink()
    files: list[Path] = []
    for dataset, board in result.boards.items():
        stem = _file_stem(dataset)
        board.table.to_csv(folder / f"{stem}.csv", index=False)
        files.append(folder / f"{stem}.csv")
        _write(folder / f"{stem}.md", board_markdown(board), files)
        _write(folder / f"{stem}.tex", board_latex(board), files)
        if not board.references.empty:
            board.references.to_csv(folder / f"published_{stem}.csv", index=False)
            files.append(folder / f"published_{stem}.csv")
        means = board.table.set_index("model")
        files.append(plots.bar_chart(means[f"{board.primary}_mean"], means[f"{board.primary}_std"], dataset,
                                     board.primary, board.higher[board.primary],
                                     folder / f"bars_{stem}.png"))
    result.overall.to_csv(folder / "overall.csv", index=False)
    files.append(folder / "overall.csv")
    _write(folder / "overall.md", overall_markdown(result), files)
    _write(folder / "overall.tex", overall_latex(result), files)
    if result.failed:
        pd.DataFrame(result.failed).to_csv(folder / "failed.csv", index=False)
        files.append(folder / "failed.csv")
    means, stds = primary_matrices(result)
    files.append(plots.heatmap(means, stds, {d: b.primary for d, b in result.boards.items()},
                               {d: b.higher[b.primary] for d, b in result.boards.items()},
                               folder / "heatmap.png"))
    if result.friedman.applicable:
        files.append(plots.critical_difference(result.friedman, folder / "critical_difference.png"))
    return files


def primary_matrices(result: Leaderboards) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Primary-metric means and stds, index models (overall order), columns datasets."""
    order = list(result.overall["model"])
    means, stds = {}, {}
    for dataset, board in result.boards.items():
        table = board.table.set_index("model")
        means[dataset], stds[dataset] = table[f"{board.primary}_mean"], table[f"{board.primary}_std"]
    return pd.DataFrame(means).reindex(order), pd.DataFrame(stds).reindex(order)


def wandb_settings(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """W&B mode/project/entity of the cells (from any record's config["wandb"])."""
    for record in records:
        settings = (record.get("config") or {}).get("wandb")
        if settings:
            return dict(settings)
    return {}


def _is_terminal(console) -> bool:
    isatty = getattr(console.file, "isatty", None)
    return bool(isatty and isatty())


def print_leaderboards(result: Leaderboards, console=None) -> None:
    """Per-dataset tables, the overall table and the paths written: rich tables on a terminal; elsewhere (logs, CI,
    `| tee`), where rich would squeeze them into 80 columns, the Markdown that is also written to the files."""
    from rich.console import Console

    console = console or Console()
    if _is_terminal(console):
        _print_rich_tables(result, console)
    else:
        for text in [*(board_markdown(board) for board in result.boards.values()), overall_markdown(result)]:
            console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)
    console.print(f"Leaderboards written to {result.sweep_dir / OUTPUT_FOLDER}:", markup=False, highlight=False,
                  soft_wrap=True)
    for path in result.files:
        console.print(f"  {path}", markup=False, highlight=False, soft_wrap=True)
    if result.wandb_dir is not None:
        console.print(f"W&B leaderboard run: {result.wandb_dir}", markup=False, highlight=False, soft_wrap=True)


def _print_rich_tables(result: Leaderboards, console) -> None:
    from rich.table import Table

    for board in result.boards.values():
        frame = display_frame(board, "rich")
        table = Table(title=rich_escape(f"{board.dataset} ({board.kind}; ranked by {board.primary} "
                                        f"{plots.arrow(board.higher[board.primary])})"), title_justify="left")
        for i, column in enumerate(frame.columns):
            table.add_column(column, justify="left" if i == 0 else "right", no_wrap=i == 0)
        for row in frame.itertuples(index=False):
            table.add_row(*row)
        console.print(table)
        references = reference_notes(board)
        for note in [n for n in board_notes(board) if n not in references][1:2] + references:
            console.print(f"  {note}", markup=False, highlight=False)
    frame = overall_display(result.overall, "rich")
    table = Table(title="Overall ranking", title_justify="left")
    for i, column in enumerate(frame.columns):
        table.add_column(column, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in frame.itertuples(index=False):
        table.add_row(*row)
    console.print(table)
    for note in overall_notes(result)[1:]:
        console.print(note, markup=False, highlight=False)


def write_leaderboards(sweep_dir: Path, wandb_mode: str | None = "offline", quiet: bool = False,
                       published: str | Path | None = None) -> dict:
    """Tables, plots, statistics and the W&B `leaderboard` run of a sweep folder; called at the end of every sweep
    and by `emobench table`.

    Args:
        sweep_dir: `<output>/<sweep name>`, holding `cells/*.json`.
        wandb_mode: "online", "offline" (files under `<sweep dir>/wandb`), "disabled", or None for the mode the
            cells ran with (their config["wandb"]["mode"]; offline if absent).
        quiet: print nothing but a W&B failure (else the tables and the paths written).
        published: the published-results file shown beside the tables (default: `experiments/published.csv`).

    Returns:
        {"tables": {dataset: DataFrame}, "overall": DataFrame, "friedman": {...}, "failed": [...],
        "files": [Path, ...], "wandb_dir": Path | None, "wandb_error": str | None, "folder": Path}.
        A failing W&B run (say online without a key) does not undo the files: it is printed and returned as
        "wandb_error".

    Raises:
        NoRecordsError: the folder holds no record with status "ok".
        ValueError: `wandb_mode` not one of `WANDB_MODES`, or records that cannot be tabulated.
        PublishedFileError: the published-results file is missing or breaks its rules.
    """
    from rich.console import Console

    from emobench.benchmark.leaderboard_wandb import log_leaderboards

    if wandb_mode is not None and wandb_mode not in WANDB_MODES:
        raise ValueError(f"<wandb_mode={wandb_mode}> must be one of {WANDB_MODES} or None (the cells' mode).")
    result = build_leaderboards(sweep_dir, published)
    result.files = write_files(result)
    mode = wandb_mode or result.wandb.get("mode") or "offline"
    console = Console()
    wandb_error = None
    try:
        result.wandb_dir = log_leaderboards(result, mode=mode, project=result.wandb.get("project") or "emobench",
                                            entity=result.wandb.get("entity"))
    except Exception as err:  # W&B is a mirror of the files written above; never lose them to it
        wandb_error = f"{type(err).__name__}: {err}"
        console.print("[yellow]warning:[/yellow] " + rich_escape(
            f"the W&B leaderboard run failed <wandb_mode={mode}> ({wandb_error}); the files under "
            f"{result.sweep_dir / OUTPUT_FOLDER} are complete. Make sure W&B is logged in, or use --wandb offline."),
            highlight=False)
    if not quiet:
        print_leaderboards(result, console)
    f = result.friedman
    return {
        "folder": result.sweep_dir / OUTPUT_FOLDER,
        "tables": {dataset: board.table for dataset, board in result.boards.items()},
        "overall": result.overall,
        "friedman": {"applicable": f.applicable, "reason": f.reason, "statistic": f.statistic,
                     "p_value": f.p_value, "n_models": f.n_models, "n_datasets": f.n_datasets,
                     "summary": f.summary()},
        "failed": result.failed,
        "kendall_w": result.stability.w,
        "capped_cells": {d: dict(board.capped) for d, board in result.boards.items()},
        "files": result.files,
        "wandb_dir": result.wandb_dir,
        "wandb_error": wandb_error,
    }
