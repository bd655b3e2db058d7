"""Shared fixtures: no network, W&B disabled, caches and outputs in tmp_path, one torch thread, and registries and
user modules (`imports`) restored after each test."""

from __future__ import annotations

import sys

import pytest
import torch

from emobench.datamodules import DATAMODULES
from emobench.models import MODELS

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("EMOBENCH_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR"):
        monkeypatch.setenv(var, str(tmp_path / "wandb"))


@pytest.fixture(autouse=True)
def _restore_registries(monkeypatch):
    """Models and datasets a test registers (user modules from `imports`, classes defined in tests) are forgotten
    after it, and so are the user modules, so the next test imports them afresh."""
    for registry in (MODELS, DATAMODULES):
        monkeypatch.setattr(registry, "_classes", dict(registry._classes))
    before = {name for name in sys.modules if name.startswith("emobench_user_")}
    yield
    for name in [n for n in sys.modules if n.startswith("emobench_user_") and n not in before]:
        del sys.modules[name]


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
