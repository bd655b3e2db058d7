"""Published results of the methods, shown beside our measured ones as reference rows that are never ranked.

`experiments/published.csv` (package data) holds one row per (method, dataset, protocol, metric):

- `method`: our registered model name (`tailor`, `foalnet`); `dataset`: our dataset or sweep-entry name (`mosei`,
  `mosei-unaligned`, `iemocap`), never a synthetic twin; `kind`, `protocol`: the task kind and evaluation protocol
  the paper used;
- `metric`: the metric the number IS, by our definitions (`metrics.collections.metric_names`), `value` on our
  0-1 scale. TAILOR and CARAT define `get_metrics(y, y_pre)` (kniter1/TAILOR `src/utils/eval.py` at 3d035e6,
  chengzju/CARAT `utils/eval.py` at 771b7cf) but call it with the prediction first (`get_metrics(test_pred,
  test_label)`), so sklearn's precision there is recall: their published "precision" column is our
  `micro_recall` and their "recall" our `micro_precision`. Such rows are stored under our names and say so in
  `note`;
- `paper`, `table`, `source` (a URL or "paper PDF Table N"): where the value was read; `note`: what differs from
  our protocol (e.g. selection on the test split).

The file is data: read by pandas as text, validated, never executed. A leaderboard shows a dataset's rows only when
its records ran on the real dataset (not a twin) under the same task kind and protocol."""

from __future__ import annotations

import importlib.resources
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emobench.metrics.collections import METRIC_CLASSES, metric_names

FILE_NAME = "published.csv"
COLUMNS = ("method", "dataset", "kind", "protocol", "metric", "value", "paper", "table", "source", "note")
_REQUIRED = COLUMNS[:-1]  # every column but `note` must be filled in
#: One row per (published method, metric) of a board: the published value, our mean over cells and ours - published.
COMPARISON_COLUMNS = ("method", "metric", "published", "ours_mean", "ours_std", "ours_n", "difference", "paper",
                      "table", "source", "note")


class PublishedFileError(ValueError):
    """The published-results file cannot be read or has a row that breaks its rules."""


def default_file() -> Path:
    """`published.csv` shipped in `emobench.experiments` (installed packages are unpacked, so a real path)."""
    return Path(str(importlib.resources.files("emobench.experiments").joinpath(FILE_NAME)))


def load_published(path: str | Path | None = None) -> pd.DataFrame:
    """The validated rows of `path` (default: the shipped file), `value` as float.

    Raises:
        PublishedFileError: the file is missing, not CSV, or a row breaks a rule (named with file and row).
    """
    path = Path(path) if path is not None else default_file()
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        raise PublishedFileError(f"No published-results file <published={path}>. Make sure the path is right "
                                 f"(the shipped one is {default_file()}).") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise PublishedFileError(f"<published={path}> is not a readable CSV file ({err}). Make sure it is UTF-8 "
                                 f"CSV with the header {','.join(COLUMNS)}.") from None
    return validate_published(frame, path)


def _row_error(path: Path, i: int, row: pd.Series, problem: str, fix: str) -> PublishedFileError:
    who = ", ".join(f"{k}={row.get(k, '')!s}" for k in ("method", "dataset", "metric"))
    return PublishedFileError(f"<published={path}> row {i + 1} (line {i + 2}; {who}): {problem} Make sure {fix}")


def validate_published(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Check columns, filled-in fields, kind, metric name per kind, values in [0, 1], real datasets and duplicates."""
    from emobench.datamodules import DATAMODULES
    from emobench.datamodules.folds import PROTOCOLS
    from emobench.datamodules.synthetic.twin import SyntheticTwin

    missing = [c for c in COLUMNS if c not in frame.columns]
    extra = [c for c in frame.columns if c not in COLUMNS]
    if missing or extra:
        raise PublishedFileError(f"<published={path}> has columns {list(frame.columns)}; expected {list(COLUMNS)} "
                                 f"(missing {missing}, unknown {extra}). Make sure the header is spelled so.")
    frame = frame.map(str.strip)
    values: list[float] = []
    for i, row in frame.iterrows():
        empty = [c for c in _REQUIRED if not row[c]]
        if empty:
            raise _row_error(path, i, row, f"{empty} empty.", "every column but `note` is filled in.")
        if row["kind"] not in METRIC_CLASSES:
            raise _row_error(path, i, row, f"unknown task kind {row['kind']!r}.",
                             f"`kind` is one of {list(METRIC_CLASSES)}.")
        if row["metric"] not in metric_names(row["kind"]):
            raise _row_error(path, i, row, f"{row['metric']!r} is not a {row['kind']} metric of this suite "
                             f"(known: {', '.join(metric_names(row['kind']))}).",
                             "the value is stored under the metric it is by our definitions (a published "
                             "'precision' that is really recall goes under micro_recall, with a note).")
        if row["protocol"] not in PROTOCOLS:
            raise _row_error(path, i, row, f"unknown protocol {row['protocol']!r}.",
                             f"`protocol` is one of {list(PROTOCOLS)}.")
        try:
            value = float(row["value"])
        except ValueError:
            value = math.nan
        if not 0.0 <= value <= 1.0:  # NaN fails too
            raise _row_error(path, i, row, f"value {row['value']!r} is not a number in [0, 1].",
                             "values are on our 0-1 scale (a published 80.10 % is 0.8010).")
        if row["dataset"] in DATAMODULES and issubclass(DATAMODULES.get(row["dataset"]), SyntheticTwin):
            raise _row_error(path, i, row, f"{row['dataset']!r} is a synthetic twin.",
                             "rows name real datasets; no paper reports numbers on our twins.")
        values.append(value)
    key = ["method", "dataset", "protocol", "metric"]
    twice = frame[frame.duplicated(key, keep=False)]
    if len(twice):
        i = int(twice.index[1])
        raise _row_error(path, i, frame.loc[i], f"same method, dataset, protocol and metric as row "
                         f"{int(twice.index[0]) + 1}.", "each published number appears once.")
    frame = frame.copy()
    frame["value"] = np.array(values, dtype=float)
    return frame.reset_index(drop=True)


def resolved_protocol(registered: str, given: Any) -> str | None:
    """The protocol a record ran: its `data_args.protocol`, else its dataset class's default (None if unknown)."""
    if isinstance(given, str) and given:
        return given
    from emobench.datamodules import DATAMODULES

    return DATAMODULES.get(registered).default_protocol if registered in DATAMODULES else None


def board_references(published: pd.DataFrame, dataset: str, kind: str,
                     runs: Iterable[tuple[str, Any]]) -> tuple[pd.DataFrame, list[str]]:
    """(published rows for the board of `dataset`, notes on rows left out). `runs` holds the (registered dataset,
    given protocol) pairs of the board's records: rows are kept only when no record ran on a synthetic twin and
    every record's protocol (where it can be told) is the row's."""
    from emobench.datamodules import DATAMODULES
    from emobench.datamodules.synthetic.twin import SyntheticTwin

    rows = published[published["dataset"] == dataset]
    if rows.empty:
        return rows, []
    runs = set(runs)
    twins = sorted({r for r, _ in runs if r in DATAMODULES and issubclass(DATAMODULES.get(r), SyntheticTwin)})
    if twins:
        return rows.iloc[:0], [f"Published results for {dataset} left out: its records ran on the synthetic "
                               f"twin(s) {', '.join(twins)}, not on the real dataset."]
    notes = []
    other_kind = rows[rows["kind"] != kind]
    if len(other_kind):
        notes.append(f"Published results for {dataset} of task kind {sorted(set(other_kind['kind']))} left out "
                     f"(these records are {kind}).")
    rows = rows[rows["kind"] == kind]
    ran = {p for p in (resolved_protocol(r, given) for r, given in runs) if p is not None}
    if ran:
        other = rows[~rows["protocol"].isin(ran) | (len(ran) > 1)]
        if len(other):
            notes.append(f"Published results for {dataset} under protocol {sorted(set(other['protocol']))} left "
                         f"out: these records ran {sorted(ran)}.")
        rows = rows.drop(other.index)
    return rows, notes


def comparison(references: pd.DataFrame, table: pd.DataFrame, metrics: Iterable[str]) -> pd.DataFrame:
    """`COMPARISON_COLUMNS` per (published method, metric of the board): our mean/std/n where the method was run,
    and `difference` = ours - published (NaN where it was not). `table` is a board's measured table."""
    measured = table.set_index("model")
    metrics = list(metrics)
    out = []
    for _, row in references[references["metric"].isin(metrics)].iterrows():
        ran = row["method"] in measured.index
        mean = float(measured.loc[row["method"], f"{row['metric']}_mean"]) if ran else math.nan
        out.append({"method": row["method"], "metric": row["metric"], "published": row["value"],
                    "ours_mean": mean,
                    "ours_std": float(measured.loc[row["method"], f"{row['metric']}_std"]) if ran else math.nan,
                    "ours_n": int(measured.loc[row["method"], "n"]) if ran else pd.NA,
                    "difference": mean - row["value"],
                    **{k: row[k] for k in ("paper", "table", "source", "note")}})
    frame = pd.DataFrame(out, columns=list(COMPARISON_COLUMNS))
    frame["ours_n"] = frame["ours_n"].astype("Int64")
    order = {m: i for i, m in enumerate(metrics)}
    return frame.sort_values(["method", "metric"], key=lambda s: s.map(order) if s.name == "metric" else s,
                             kind="stable").reset_index(drop=True)
