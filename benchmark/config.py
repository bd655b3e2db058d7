"""Structured configuration of one benchmark cell, merged from defaults, experiment YAML files and CLI overrides."""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

# The YAML files shipped inside the distribution (`emobench.experiments`); a user's own sweep files are read from
# any path. Installed packages are always unpacked on disk, so the resource folder is a real path.
EXPERIMENTS = Path(str(importlib.resources.files("emobench.experiments")))


#: What early stopping may watch (TrainerConfig.stop_on).
STOP_ON = ("primary", "task_loss")


class ConfigError(ValueError):
    """A usage error in a config file or override; the CLI prints it and exits with code 2."""


@dataclass
class TrainerConfig:
    """Lightning Trainer settings (accelerator/devices/strategy/num_nodes/precision go straight to Lightning)."""

    max_epochs: int = 30
    min_epochs: int = 1
    patience: int = 5
    # What early stopping watches: "primary" (the model's validation primary metric) or "task_loss" (the
    # validation task loss). The best checkpoint is always the one with the best validation primary metric.
    stop_on: str = "primary"
    accelerator: str = "cpu"
    devices: Any = 1
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "32-true"
    gradient_clip_val: float = 0.0
    limit_train_batches: float = 1.0
    limit_val_batches: float = 1.0
    limit_test_batches: float = 1.0
    # None: True on the CPU; "warn" on an accelerator, where some ops have no deterministic kernel (TAILOR's
    # unaligned CTC loss backward on CUDA) and True would raise. True / False / "warn" go to Lightning as given.
    deterministic: Any = None
    num_threads: int = 0
    progress_bar: bool = True


@dataclass
class WandbConfig:
    """Weights & Biases: mode online | offline (default; files under the output folder) | disabled."""

    mode: str = "offline"
    project: str = "emobench"
    entity: str | None = None


@dataclass
class CellConfig:
    """One benchmark cell: a model on a dataset fold with a seed."""

    model: str = MISSING
    dataset: str = MISSING
    seed: int = 0
    fold: int = 0
    model_args: dict[str, Any] = field(default_factory=dict)
    data_args: dict[str, Any] = field(default_factory=dict)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    wandb: WandbConfig = field(default_factory=WandbConfig)
    output: str = "outputs"
    sweep: str = "single"
    imports: list[str] = field(default_factory=list)


def load_yaml(path: Path) -> DictConfig:
    try:
        return OmegaConf.load(path)
    except Exception as err:  # yaml scanner/parser errors carry no file name
        raise ConfigError(f"{path}: not valid YAML ({err}). Make sure the file parses.") from err


def group_defaults(group: str, name: str) -> DictConfig:
    """`experiments/models/<name>.yaml` (key model_args) or `experiments/datasets/<name>.yaml` (data_args, trainer);
    an absent file means no overrides. `citation` is documentation only."""
    path = EXPERIMENTS / group / f"{name}.yaml"
    if not path.is_file():
        return OmegaConf.create({})
    data = load_yaml(path)
    allowed = {"models": {"model_args", "citation"}, "datasets": {"data_args", "trainer", "citation"}}[group]
    unknown = set(data) - allowed
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}.")
    return OmegaConf.masked_copy(data, [k for k in data if k != "citation"])


def merge_cell(*layers: Any, source: str = "config") -> CellConfig:
    """Merge layers (dicts / DictConfigs / dotlists) over the structured defaults, with model and dataset group
    defaults inserted right after the base; validates every key and type."""
    try:
        base = OmegaConf.structured(CellConfig)
        parts = [OmegaConf.create(p) if isinstance(p, dict) else p for p in layers]
        first = OmegaConf.merge(base, *parts)
        model, dataset = first.model, first.dataset
        groups = [group_defaults("models", model), group_defaults("datasets", dataset)]
        merged = OmegaConf.merge(base, *groups, *parts)
        OmegaConf.to_container(merged, resolve=True, throw_on_missing=True)
    except OmegaConfBaseException as err:
        raise ConfigError(f"{source}: {err}".strip()) from err
    check_trainer(merged.trainer, source)
    return merged


def trainer_problems(trainer: DictConfig | TrainerConfig) -> list[str]:
    """What is out of range in the trainer settings (types are checked by the structured config already)."""
    t = trainer
    problems = []
    if t.max_epochs < 1 and t.max_epochs != -1:
        problems.append(f"<trainer.max_epochs={t.max_epochs}> must be >= 1 (or -1: no limit, early stopping ends "
                        "training)")
    for key in ("min_epochs", "patience", "num_threads", "gradient_clip_val"):
        if not t[key] >= 0:  # also refuses NaN
            problems.append(f"<trainer.{key}={t[key]}> must be >= 0")
    if t.max_epochs >= 1 and t.min_epochs > t.max_epochs:
        problems.append(f"<trainer.min_epochs={t.min_epochs}> must be <= <trainer.max_epochs={t.max_epochs}>")
    if t.stop_on not in STOP_ON:
        problems.append(f"<trainer.stop_on={t.stop_on}> must be one of {', '.join(STOP_ON)}")
    if t.deterministic not in (None, True, False, "warn"):
        problems.append(f"<trainer.deterministic={t.deterministic}> must be true, false, warn or null (true on the "
                        "CPU, warn on an accelerator)")
    if t.num_nodes < 1:
        problems.append(f"<trainer.num_nodes={t.num_nodes}> must be >= 1")
    for key in ("limit_train_batches", "limit_val_batches", "limit_test_batches"):
        value = t[key]  # a float field: an int from YAML arrives as a whole float, which Lightning counts
        if not (0 < value <= 1 or (value > 1 and float(value).is_integer())):
            problems.append(f"<trainer.{key}={value}> must be a fraction of the batches in (0, 1] or a whole "
                            "number of batches >= 1")
    return problems


def check_trainer(trainer: DictConfig | TrainerConfig, source: str = "config") -> None:
    """Raise one ConfigError naming every trainer setting that is out of range."""
    problems = trainer_problems(trainer)
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems) + ". Make sure the trainer settings are in range.")


def from_cli(overrides: list[str]) -> DictConfig:
    bad = [o for o in overrides if "=" not in o]
    if bad:
        raise ConfigError(f"overrides must look like key=value, got {bad}. Example: model=early_fusion seed=1.")
    try:
        return OmegaConf.from_dotlist(overrides)
    except OmegaConfBaseException as err:
        raise ConfigError(f"command line: {err}") from err


def to_plain(cfg: DictConfig) -> dict[str, Any]:
    return OmegaConf.to_container(cfg, resolve=True)
