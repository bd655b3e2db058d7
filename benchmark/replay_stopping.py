"""Replay early stopping on a finished sweep's validation curves: which (patience, min_epochs) would have kept each
cell's best epoch, and how much training it would have saved. Uses the records and the per-epoch CSV logs only
(validation values; test metrics are never read), so a stopping rule is chosen on validation, like `emobench tune`.

    python -m emobench.benchmark.replay_stopping outputs/default --rules 5:8 4:8 4:7 4:6 3:8 --reference 5:8

A replayed cell stops after the first epoch that is at least `min_epochs` and `patience` epochs past the best
value of its monitored metric (Lightning's EarlyStopping with min_delta 0, as `run_cell` configures it); training is
deterministic, so epochs up to that point are the ones the sweep ran, and a cell whose best epoch comes before it
gets the same checkpoint and test result. Exact while every rule stops no later than the sweep's own did (the
reference should be the sweep's rule).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from emobench.benchmark.store import load_records


def validation_curve(sweep_dir: Path, record: dict) -> np.ndarray:
    """The monitored validation value after each epoch of one cell (its `runs/<id>/csv/metrics.csv`)."""
    column = f"val/{record['primary']['name']}"
    path = sweep_dir / "runs" / record["cell_id"] / "csv" / "metrics.csv"
    log = pd.read_csv(path)
    if column not in log or "epoch" not in log:
        raise ValueError(f"{path}: no `{column}` or `epoch` column. Make sure it is the CSV log of a cell run by "
                         "`emobench sweep` (the runner's CSVLogger).")
    return log[["epoch", column]].dropna().groupby("epoch")[column].last().to_numpy()


def replay(curve: np.ndarray, higher: bool, patience: int, min_epochs: int) -> tuple[int, int]:
    """(epochs run, index of the best epoch) under early stopping with `patience` after `min_epochs` epochs."""
    best, best_epoch, wait = None, -1, 0
    for epoch, value in enumerate(curve):
        if best is None or (value > best if higher else value < best):
            best, best_epoch, wait = value, epoch, 0
        else:
            wait += 1
        if wait >= patience and epoch + 1 >= min_epochs:
            return epoch + 1, best_epoch
    return len(curve), best_epoch


def replay_sweep(sweep_dir: Path, rules: list[tuple[int, int]], reference: tuple[int, int]) -> pd.DataFrame:
    """One row per rule: cells whose best epoch equals the reference rule's, and fit seconds saved against it."""
    records = [r for r in load_records(sweep_dir / "cells") if r.get("status") == "ok"]
    if not records:
        raise ValueError(f"{sweep_dir}: no finished cells. Make sure the folder is a sweep's output folder "
                         "(`<output>/<sweep name>`, with cells/ and runs/).")
    cells = [(r, validation_curve(sweep_dir, r), r["primary"]["higher_is_better"]) for r in records]
    rows = []
    for patience, min_epochs in rules:
        same, saved, changed = 0, 0.0, {}
        for record, curve, higher in cells:
            ref_epochs, ref_best = replay(curve, higher, *reference)
            epochs, best = replay(curve, higher, patience, min_epochs)
            saved += (ref_epochs - epochs) * record["fit_seconds"] / max(record["epochs"], 1)
            if best == ref_best:
                same += 1
            else:
                changed[record["model"]] = changed.get(record["model"], 0) + 1
        rows.append({"patience": patience, "min_epochs": min_epochs, "same best epoch": f"{same}/{len(cells)}",
                     "fit s saved": round(saved), "fit s (sweep)": round(sum(r["fit_seconds"] for r, _, _ in cells)),
                     "cells changed per model": ", ".join(f"{k} {v}" for k, v in sorted(changed.items())) or "-"})
    return pd.DataFrame(rows)


def parse_rule(text: str) -> tuple[int, int]:
    patience, _, min_epochs = text.partition(":")
    return int(patience), int(min_epochs or 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emobench.benchmark.replay_stopping", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep_dir", type=Path, help="a sweep's output folder, e.g. outputs/default")
    parser.add_argument("--rules", nargs="+", type=parse_rule, default=[(5, 8), (4, 8), (4, 7), (3, 8)],
                        help="PATIENCE:MIN_EPOCHS pairs to replay")
    parser.add_argument("--reference", type=parse_rule, default=(5, 8),
                        help="the rule the sweep ran with (PATIENCE:MIN_EPOCHS)")
    args = parser.parse_args(argv)
    print(replay_sweep(args.sweep_dir, args.rules, args.reference).to_markdown(index=False))


if __name__ == "__main__":
    main()
