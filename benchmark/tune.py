"""`emobench tune [SWEEP] --grid KEY=V1,V2 [--grid ...] [--output DIR] [--workers N] [key=value ...]`: the small
search behind the compact sizes and learning rates of `experiments/models/*.yaml`.

Each setting of the grid (the product of the `--grid` lists) runs the sweep (default: the default sweep) with seed
0 as its own sweep `<sweep>-tune-<setting>` under `--output`, so reruns skip finished cells. The search is scored
on the VALIDATION split only: a record's `best_val` is the best validation primary metric of its run (the one
early stopping and the checkpoint watched); test metrics are never read. Per model, the settings are ranked on
each dataset by that validation value, and the setting with the best mean rank is chosen (ties: fewer cells at the
epoch cap, then less training time). The table is printed and written to `<output>/tune.csv`.

Example (the search behind the learning rates of experiments/models/*.yaml):
    emobench tune --grid model_args.lr=3e-4,1e-3,3e-3 --workers 2
"""

from __future__ import annotations

import argparse
import itertools
import re
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from emobench.benchmark.config import ConfigError

console = Console()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n\n")[1]
    parser.add_argument("args", nargs="*", metavar="[SWEEP] [key=value ...]",
                        help="the sweep file or name (default: default), then overrides for every cell, e.g. "
                             "models=[mult] datasets=[synthetic-wesad]")
    parser.add_argument("--grid", action="append", required=True, metavar="KEY=V1,V2",
                        help="a cell key and its values to try (repeat for a product of grids)")
    parser.add_argument("--output", default="outputs/tune", help="root folder of the search's sweeps")
    parser.add_argument("--workers", type=int, default=1, help="local worker processes of each sweep")


def parse_grid(items: list[str]) -> list[dict[str, str]]:
    """`["a=1,2", "b=x"]` -> `[{"a": "1", "b": "x"}, {"a": "2", "b": "x"}]` (values kept as the text given)."""
    axes = []
    for item in items:
        key, _, values = item.partition("=")
        options = [v for v in values.split(",") if v]
        if not key or not options:
            raise ConfigError(f"<--grid={item}> must look like KEY=V1,V2, e.g. model_args.lr=1e-3,3e-3.")
        axes.append([(key, v) for v in options])
    return [dict(choice) for choice in itertools.product(*axes)]


def setting_name(setting: dict[str, str]) -> str:
    return "-".join(re.sub(r"[^A-Za-z0-9.]+", "_", f"{k.rsplit('.', 1)[-1]}={v}") for k, v in setting.items())


def validation_frame(output: Path, sweeps: dict[str, str]) -> pd.DataFrame:
    """One row per ok record of the sweeps {sweep name: setting name}: model, dataset, setting, the validation
    value and direction, epochs, the cap and the training time."""
    from emobench.benchmark.store import load_records

    rows = []
    for sweep, setting in sweeps.items():
        for record in load_records(output / sweep / "cells"):
            if record.get("status") != "ok" or record["best_val"]["value"] is None:
                continue
            trainer = (record.get("config") or {}).get("trainer") or {}
            rows.append({"model": record["model"], "dataset": record["dataset"], "setting": setting,
                         "val": float(record["best_val"]["value"]), "higher": record["primary"]["higher_is_better"],
                         "metric": record["best_val"]["name"], "epochs": record.get("epochs"),
                         "capped": record.get("epochs", 0) >= trainer.get("max_epochs", float("inf")),
                         "fit_seconds": record.get("fit_seconds")})
    return pd.DataFrame(rows)


def choose(frame: pd.DataFrame) -> pd.DataFrame:
    """Per model and setting: mean validation rank over datasets (1 = best setting there), capped cells, mean fit
    seconds, and whether it is the model's chosen setting."""
    oriented = frame["val"].where(frame["higher"], -frame["val"])
    frame = frame.assign(rank=oriented.groupby([frame["model"], frame["dataset"]]).rank(ascending=False))
    summary = frame.groupby(["model", "setting"]).agg(mean_rank=("rank", "mean"), datasets=("dataset", "nunique"),
                                                      capped=("capped", "sum"), fit_seconds=("fit_seconds", "mean"))
    summary = summary.reset_index().sort_values(["model", "mean_rank", "capped", "fit_seconds"])
    summary["chosen"] = ~summary.duplicated("model")
    return summary


def command(args: argparse.Namespace) -> int:
    from emobench.benchmark.cli import main
    from emobench.benchmark.config import load_yaml
    from emobench.benchmark.grid import find_sweep

    items = list(args.args)
    sweep = items.pop(0) if items and "=" not in items[0] else "default"
    name = load_yaml(find_sweep(sweep)).get("name", Path(sweep).stem)
    output = Path(args.output)
    sweeps = {}
    for setting in parse_grid(args.grid):
        label = setting_name(setting)
        sweeps[f"{name}-tune-{label}"] = label
        console.print(escape(f"emobench tune: {label}"), highlight=False)
        code = main(["sweep", sweep, *items, *(f"{k}={v}" for k, v in setting.items()), "seeds=[0]",
                     f"name={name}-tune-{label}", "--output", str(output), "--workers", str(args.workers),
                     "--wandb", "disabled", "--quiet", "--no-leaderboard"])
        if code not in (0, 1):  # 1: some cells failed; they are left out below
            return code
    frame = validation_frame(output, sweeps)
    if frame.empty:
        raise ConfigError(f"emobench tune: no ok records under {output}. Make sure the sweep's cells run.")
    frame.to_csv(output / "tune_cells.csv", index=False)
    summary = choose(frame)
    summary.to_csv(output / "tune.csv", index=False)
    table = Table(title="Validation-only search: mean rank of each setting over the datasets (1 = best)")
    for column in ("model", "setting", "mean rank", "datasets", "capped cells", "fit s", "chosen"):
        table.add_column(column)
    for row in summary.itertuples(index=False):
        table.add_row(escape(row.model), escape(row.setting), f"{row.mean_rank:.2f}", str(row.datasets),
                      str(int(row.capped)), f"{row.fit_seconds:.1f}", "yes" if row.chosen else "")
    console.print(table)
    console.print(escape(f"written: {output / 'tune.csv'} and {output / 'tune_cells.csv'}"), highlight=False)
    return 0
