"""Sweep YAML -> the grid of cells: validate the file against `SweepConfig`, expand models x datasets x seeds x
folds in a fixed order, and resolve each cell's config (and so its id) with `merge_cell`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from emobench.benchmark.config import (
    EXPERIMENTS,
    CellConfig,
    ConfigError,
    load_yaml,
    merge_cell,
    to_plain,
)
from emobench.benchmark.grid_check import check_grid_arguments
from emobench.benchmark.identity import cell_id

# Keys a fragment may not set: the grid owns them (a model / dataset override may set `model` / `dataset` to make
# its entry a labelled variant of a registered one, see `SweepConfig`).
_GRID_KEYS = ("model", "dataset", "seed", "fold", "sweep", "output")


@dataclass
class SweepConfig:
    """A sweep file (`experiments/<name>.yaml`).

    Attributes:
        name: the sweep's name: its folder `<output>/<name>/` and the W&B group.
        models: model names, or `all` (every registered model).
        datasets: dataset names, or `all_twins` (every synthetic twin) / `all` (every registered dataset).
        seeds: training seeds.
        folds: `all` (every fold of each dataset's protocol) or a list of fold indices.
        defaults: a cell config fragment (trainer, data_args, model_args, wandb, imports) applied to every cell.
        twin_defaults: a fragment applied after `defaults` to the cells of synthetic twins only (their size options
            `num_samples`, `seq_len`), so the same sweep also runs on real or user datasets.
        model_overrides: model -> fragment, applied after `dataset_overrides`. An entry of `models` that is not a
            registered name is a variant: its fragment sets `model: <registered name>` and its records are
            labelled with the entry (e.g. `tailor-small: {model: tailor, model_args: {hidden: 64}}`).
        dataset_overrides: dataset -> fragment; variants likewise (`mosei-unaligned: {dataset: mosei,
            data_args: {aligned: false}}`), so their leaderboards stay apart.
        model_defaults: apply `experiments/models/<model>.yaml` (compact sizes for the CPU sweeps); false runs the
            class defaults, which are the official sizes.
    """

    name: str = MISSING
    models: Any = MISSING
    datasets: Any = MISSING
    seeds: list[int] = field(default_factory=lambda: [0])
    folds: Any = "all"
    defaults: dict[str, Any] = field(default_factory=dict)
    twin_defaults: dict[str, Any] = field(default_factory=dict)
    model_overrides: dict[str, Any] = field(default_factory=dict)
    dataset_overrides: dict[str, Any] = field(default_factory=dict)
    model_defaults: bool = True


SWEEP_KEYS = tuple(SweepConfig.__dataclass_fields__)


@dataclass(frozen=True)
class Cell:
    """One cell of the grid: its position in the full grid, the labels its records carry, and its config."""

    index: int
    cell_id: str
    model: str
    dataset: str
    seed: int
    fold: int
    config: dict[str, Any]

    def describe(self) -> str:
        return f"{self.model} · {self.dataset} · seed {self.seed} · fold {self.fold}"


def find_sweep(name_or_path: str | Path) -> Path:
    """A sweep file by path, or by name in `experiments/` (`smoke` -> `experiments/smoke.yaml`)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    for candidate in (EXPERIMENTS / f"{name_or_path}.yaml", EXPERIMENTS / str(name_or_path)):
        if candidate.is_file():
            return candidate
    known = sorted(p.stem for p in EXPERIMENTS.glob("*.yaml"))
    raise ConfigError(f"No sweep file <sweep={name_or_path}>. Make sure the path exists or name one of "
                      f"experiments/: {', '.join(known)}.")


def split_overrides(overrides: list[str]) -> tuple[list[str], list[str]]:
    """(sweep-level, cell-level) dotlist overrides: `seeds=[0]`, `models=[mult]`, `name=x`, `folds=all` change the
    grid; every other key (`trainer.max_epochs=3`, `data_args.num_samples=200`) goes to each cell."""
    bad = [o for o in overrides if "=" not in o]
    if bad:
        raise ConfigError(f"overrides must look like key=value, got {bad}. Example: seeds=[0] trainer.max_epochs=3.")
    sweep, cell = [], []
    for item in overrides:
        key = item.split("=", 1)[0].split(".", 1)[0]
        if key in _GRID_KEYS[:5]:
            plural = {"model": "models", "dataset": "datasets", "seed": "seeds", "fold": "folds", "sweep": "name"}
            raise ConfigError(f"<{item}>: the sweep sets `{key}` per cell. Make sure to override the grid instead, "
                              f"e.g. {plural[key]}=[...] (or name=... for the sweep's name).")
        (sweep if key in SWEEP_KEYS else cell).append(item)
    return sweep, cell


def load_sweep_config(path: Path, overrides: list[str] | None = None) -> DictConfig:
    """The sweep file validated against `SweepConfig` with sweep-level dotlist overrides applied."""
    data = load_yaml(path)
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(SweepConfig), data)
    except OmegaConfBaseException as err:
        raise ConfigError(f"{path}: {err}. Make sure the key is one of {list(SWEEP_KEYS)}.") from err
    if overrides:
        try:
            cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(overrides))
        except OmegaConfBaseException as err:
            raise ConfigError(f"command line: {err}") from err
    try:
        OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except OmegaConfBaseException as err:
        raise ConfigError(f"{path}: {err}") from err
    _check_fragments(cfg, path)
    return cfg


def _check_fragments(cfg: DictConfig, path: Path) -> None:
    """Each fragment alone must be a valid partial CellConfig and leave the grid's keys alone."""
    fragments = [("defaults", cfg.defaults, ()), ("twin_defaults", cfg.twin_defaults, ())]
    fragments += [(f"model_overrides.{k}", v, ("model",)) for k, v in cfg.model_overrides.items()]
    fragments += [(f"dataset_overrides.{k}", v, ("dataset",)) for k, v in cfg.dataset_overrides.items()]
    for where, fragment, allowed in fragments:
        if not isinstance(fragment, DictConfig):
            raise ConfigError(f"{path}: <{where}> must be a mapping of cell config keys, got {fragment!r}.")
        owned = sorted(k for k in fragment if k in _GRID_KEYS and k not in allowed)
        if owned and not (where == "defaults" and owned == ["output"]):
            raise ConfigError(f"{path}: <{where}> sets {owned}, which the grid owns. Make sure to list models, "
                              "datasets, seeds and folds at the top level (and the output with --output).")
        try:
            OmegaConf.merge(OmegaConf.structured(CellConfig), fragment)
        except OmegaConfBaseException as err:
            raise ConfigError(f"{path}: <{where}>: {err}".strip()) from err


def is_twin(dataset: str) -> bool:
    """Whether the registered dataset `dataset` is a synthetic twin."""
    from emobench.datamodules import DATAMODULES
    from emobench.datamodules.synthetic.twin import SyntheticTwin

    return issubclass(DATAMODULES.get(dataset), SyntheticTwin)


def _names(value: Any, key: str, path: Path) -> list[str] | str:
    if isinstance(value, str):
        return value
    items = list(value)
    if not items or not all(isinstance(v, str) for v in items):
        raise ConfigError(f"{path}: <{key}={value}> must be a non-empty list of names.")
    duplicates = sorted({v for v in items if items.count(v) > 1})
    if duplicates:
        raise ConfigError(f"{path}: <{key}> lists {duplicates} more than once.")
    return items


def resolve_names(cfg: DictConfig, path: Path, declared: dict[str, Any] | None = None) -> tuple[list[str], list[str]]:
    """(model entries, dataset entries), with `all` / `all_twins` expanded; every entry must be registered or be a
    variant whose override names a registered class. Unregistered names raise one error listing all of them."""
    from emobench.datamodules import DATAMODULES
    from emobench.models import MODELS

    models = _names(cfg.models, "models", path)
    datasets = _names(cfg.datasets, "datasets", path)
    if isinstance(models, str):
        if models != "all":
            raise ConfigError(f"{path}: <models={models}> must be a list of names or `all`.")
        models = MODELS.names()
    if isinstance(datasets, str):
        if datasets not in ("all", "all_twins"):
            raise ConfigError(f"{path}: <datasets={datasets}> must be a list of names, `all_twins` or `all`.")
        names = DATAMODULES.names()
        datasets = names if datasets == "all" else [n for n in names if is_twin(n)]
    missing = []
    for kind, entries, registry, overrides in (("model", models, MODELS, cfg.model_overrides),
                                                ("dataset", datasets, DATAMODULES, cfg.dataset_overrides)):
        for entry in entries:
            target = overrides.get(entry, {}).get(kind, entry)
            if target not in registry:
                missing.append((kind, entry if target == entry else f"{entry} (= {target})", registry))
    if missing:
        lines = "; ".join(f"{kind} {name}" for kind, name, _ in missing)
        known = {kind: ", ".join(reg.names()) for kind, _, reg in missing}
        raise ConfigError(
            f"{path}: not registered: {lines}. Known " + "; known ".join(f"{k}s: {v}" for k, v in known.items())
            + ". Make sure the reader/method is implemented and imported (config key `imports`), or remove it from "
              "the sweep.")
    # An override naming no entry is a misspelling, unless the sweep file lists that entry and the command line
    # narrowed the grid (`emobench sweep paper datasets=[mosei]`): `declared` holds the file's own lists.
    # A file declaring `all` / `all_twins` lists every registered model / dataset (twin).
    registered = {"models": MODELS.names(), "datasets": DATAMODULES.names()}
    listed = {kind: set(v) if isinstance(v, list | tuple) else
              {n for n in registered[kind] if v == "all" or is_twin(n)} if v in ("all", "all_twins") else set()
              for kind, v in (declared or {}).items()}
    stray = [f"model_overrides.{k}" for k in cfg.model_overrides
             if k not in models and k not in listed.get("models", ())]
    stray += [f"dataset_overrides.{k}" for k in cfg.dataset_overrides
              if k not in datasets and k not in listed.get("datasets", ())]
    if stray:
        raise ConfigError(f"{path}: {stray} name(s) no entry of the grid (models: {', '.join(models)}; datasets: "
                          f"{', '.join(datasets)}). Make sure the key is spelled as in `models` / `datasets`.")
    return models, datasets


def _num_folds(dataset: str, data_args: dict[str, Any], cache: dict[str, int]) -> int:
    from emobench.datamodules import DATAMODULES

    key = json.dumps([dataset, data_args], sort_keys=True, default=str)
    if key not in cache:
        try:
            cache[key] = DATAMODULES.get(dataset)(**data_args).num_folds
        except TypeError as err:
            raise ConfigError(f"dataset {dataset}: {err}. Make sure data_args match the class signature.") from err
    return cache[key]


def expand(cfg: DictConfig, path: Path, cell_overrides: DictConfig | None = None,
           output: str | None = None, declared: dict[str, Any] | None = None) -> list[Cell]:
    """Every cell of the sweep, in the order models x datasets x seeds x folds.

    A cell's config is `merge_cell(defaults, twin_defaults (twins only), dataset_overrides[d], model_overrides[m],
    {model, dataset, seed, fold, sweep, output}, CLI overrides)`; two entries that resolve to the same config are
    an error.
    """
    from emobench.datamodules.registry import import_user_module

    for module in [*cfg.defaults.get("imports", []), *((cell_overrides or {}).get("imports", None) or [])]:
        import_user_module(module)
    models, datasets = resolve_names(cfg, path, declared)
    cli = cell_overrides if cell_overrides is not None else OmegaConf.create({})
    check_grid_arguments(cfg, path, models, datasets, cli)  # every bad option at once, before any cell runs
    folds_cache: dict[str, int] = {}
    cells: list[Cell] = []
    seen: dict[str, Cell] = {}
    for model in models:
        for dataset in datasets:
            m_frag = cfg.model_overrides.get(model, OmegaConf.create({}))
            d_frag = cfg.dataset_overrides.get(dataset, OmegaConf.create({}))
            real_model, real_dataset = m_frag.get("model", model), d_frag.get("dataset", dataset)
            twin = cfg.twin_defaults if is_twin(real_dataset) else {}
            for seed in cfg.seeds:
                layers = [cfg.defaults, twin, d_frag, m_frag,
                          {"model": real_model, "dataset": real_dataset, "seed": seed, "sweep": cfg.name,
                           **({"output": output} if output else {})}, cli]
                source = f"{path} (model {model}, dataset {dataset})"
                if cfg.folds == "all":
                    probe = merge_cell(*layers, source=source)
                    folds = range(_num_folds(real_dataset, to_plain(probe)["data_args"], folds_cache))
                elif isinstance(cfg.folds, str):
                    raise ConfigError(f"{path}: <folds={cfg.folds}> must be `all` or a list of fold indices.")
                else:
                    folds = list(cfg.folds)
                for fold in folds:
                    cell_cfg = merge_cell(*layers, {"fold": fold}, source=source)
                    if not cfg.model_defaults:
                        own = [OmegaConf.create(layer).get("model_args", {}) for layer in layers]
                        cell_cfg.model_args = OmegaConf.merge({}, *own)
                    cid = cell_id(cell_cfg)
                    cell = Cell(len(cells), cid, model, dataset, int(seed), int(fold), to_plain(cell_cfg))
                    if cid in seen:
                        raise ConfigError(f"{path}: cells <{seen[cid].describe()}> and <{cell.describe()}> resolve "
                                          "to the same config. Make sure each variant differs from the others.")
                    seen[cid] = cell
                    cells.append(cell)
    return cells


def shard(cells: list[Cell], spec: str | None) -> list[Cell]:
    """`i/N`: the cells whose grid index k has k mod N == i (the N shards partition the grid exactly)."""
    if not spec:
        return cells
    try:
        index, count = (int(part) for part in spec.split("/"))
    except ValueError:
        raise ConfigError(f"<--shard={spec}> must look like i/N, e.g. 0/4.") from None
    if count < 1 or not 0 <= index < count:
        raise ConfigError(f"<--shard={spec}> needs N >= 1 and 0 <= i < N.")
    return [c for c in cells if c.index % count == index]


def load_grid(sweep: str | Path, overrides: list[str] | None = None,
              output: str | None = None) -> tuple[DictConfig, list[Cell]]:
    """(sweep config, cells) of a sweep file plus dotlist overrides (sweep-level and cell-level mixed)."""
    path = find_sweep(sweep)
    sweep_overrides, cell_overrides = split_overrides(list(overrides or []))
    cfg = load_sweep_config(path, sweep_overrides)
    try:
        cli = OmegaConf.from_dotlist(cell_overrides)
    except OmegaConfBaseException as err:
        raise ConfigError(f"command line: {err}") from err
    file_lists = load_yaml(path)
    declared = {k: list(file_lists[k]) if OmegaConf.is_list(file_lists.get(k)) else file_lists.get(k)
                for k in ("models", "datasets")}
    return cfg, expand(cfg, path, cli, output, declared)
