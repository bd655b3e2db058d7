"""The W&B `leaderboard` run of a sweep: every dataset's table, its published results beside it and the overall
table as `wandb.Table`, the PNG plots as `wandb.Image`, and the Friedman result in the summary. Keys are flat
(`leaderboard_overall`, `leaderboard_<dataset>`, `published_<dataset>`, `plot_<name>`), so an offline run holds
`files/media/table/<key>_*.table.json`.

Same project/entity as the cells, group = sweep name, job_type "leaderboard". Offline by default: the run is
written under `<sweep dir>/wandb/` (upload later with `wandb sync`); "disabled" logs nothing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from emobench.benchmark.tracking import WANDB_MODES, wandb_environment

if TYPE_CHECKING:
    from emobench.benchmark.leaderboard import Leaderboards

JOB_TYPE = "leaderboard"


def _plain_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Object/str columns as Python str and numbers as float, the types `wandb.Table` serialises directly."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_bool_dtype(out[column]):
            out[column] = out[column].astype(bool)
        elif pd.api.types.is_numeric_dtype(out[column]):
            out[column] = out[column].astype(float)
        else:
            out[column] = out[column].astype(object).map(str)
    return out


def log_leaderboards(result: Leaderboards, mode: str = "offline", project: str = "emobench",
                     entity: str | None = None) -> Path | None:
    """Log `result` as one W&B run; returns the run's folder (None when `mode` is "disabled")."""
    if mode not in WANDB_MODES:
        raise ValueError(f"<wandb_mode={mode}> must be one of {WANDB_MODES}. Make sure --wandb is spelled right.")
    if mode == "disabled":
        return None
    import wandb

    sweep = result.sweep_dir.name
    wandb_environment(result.sweep_dir)
    run = wandb.init(project=project, entity=entity, group=sweep, job_type=JOB_TYPE, name=f"{sweep}-leaderboard",
                     dir=str(result.sweep_dir), mode=mode, reinit="create_new",
                     config={"sweep": sweep, "datasets": list(result.boards), "models": list(result.overall["model"])})
    try:
        log: dict[str, object] = {"leaderboard_overall": wandb.Table(dataframe=_plain_columns(result.overall))}
        for dataset, board in result.boards.items():
            log[f"leaderboard_{dataset}"] = wandb.Table(dataframe=_plain_columns(board.table))
            if not board.references.empty:
                log[f"published_{dataset}"] = wandb.Table(dataframe=_plain_columns(board.references))
        for path in result.files:
            if path.suffix == ".png":
                log[f"plot_{path.stem}"] = wandb.Image(str(path), caption=path.stem)
        run.log(log)
        friedman = result.friedman
        run.summary.update({"friedman/applicable": friedman.applicable, "friedman/summary": friedman.summary(),
                            "failed_cells": len(result.failed)})
        if friedman.applicable:
            run.summary.update({"friedman/statistic": friedman.statistic, "friedman/p_value": friedman.p_value})
        for dataset, board in result.boards.items():
            if board.best_model is not None:
                run.summary[f"best/{dataset}"] = board.best_model
        return Path(run.dir).parent
    finally:
        run.finish()
