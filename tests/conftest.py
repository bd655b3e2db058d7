"""Shared fixtures: no network, W&B disabled, caches and outputs in tmp_path, one torch thread."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("EMOBENCH_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR"):
        monkeypatch.setenv(var, str(tmp_path / "wandb"))


@pytest.fixture
def tiny_overrides(tmp_path) -> list[str]:
    """Dotlist that shrinks a cell to seconds: tiny twins, 1 epoch, no progress bar, W&B disabled, tmp output."""
    return [
        f"output={tmp_path / 'out'}",
        "wandb.mode=disabled",
        "trainer.max_epochs=1",
        "trainer.progress_bar=false",
        "data_args.num_samples=200",
        "data_args.seq_len=8",
        "data_args.batch_size=32",
    ]
