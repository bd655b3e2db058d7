"""Weights & Biases for one cell: an offline-by-default logger whose files stay under the output folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

WANDB_MODES = ("online", "offline", "disabled")
# Per-cell runs skip W&B's list of every installed package (`requirements.txt`): building it took about 0.3 s of each
# cell; records carry the versions that matter (`environment.package_versions`).
RUN_SETTINGS = {"x_save_requirements": False}


def wandb_environment(root: Path) -> None:
    """Point every W&B folder (runs, cache, data, config) under `root` so nothing lands in $HOME."""
    root.mkdir(parents=True, exist_ok=True)
    for var, sub in (("WANDB_DIR", ""), ("WANDB_CACHE_DIR", ".cache"), ("WANDB_DATA_DIR", ".data"),
                     ("WANDB_CONFIG_DIR", ".config")):
        os.environ.setdefault(var, str(root / sub) if sub else str(root))
    os.environ.setdefault("WANDB_SILENT", "true")


def make_wandb_logger(mode: str, project: str, entity: str | None, group: str, name: str, tags: list[str],
                      config: dict[str, Any], root: Path):
    """A Lightning WandbLogger, or None when `mode` is disabled."""
    if mode not in WANDB_MODES:
        raise ValueError(f"<wandb.mode={mode}> must be one of {WANDB_MODES}.")
    if mode == "disabled":
        return None
    import wandb
    from lightning.pytorch.loggers import WandbLogger

    wandb_environment(root)
    return WandbLogger(project=project, entity=entity, group=group, name=name, tags=tags, config=config,
                       save_dir=str(root), mode=mode, settings=wandb.Settings(**RUN_SETTINGS))


def finish_wandb(logger) -> None:
    """Close the run even when the cell failed (so the next cell starts a fresh run)."""
    if logger is None:
        return
    import wandb

    if wandb.run is not None:
        wandb.finish()
