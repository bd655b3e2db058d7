"""A sweep's model_args / data_args checked against the class signatures for every (model, dataset) entry pair
when the sweep starts: one error lists every unknown or mistyped key with the entries it affects and the layer
that set it (`model_overrides.mult`, `defaults`, the command line, ...), instead of one failed cell at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from emobench.benchmark.arguments import accepted_names, cell_classes, cell_problems
from emobench.benchmark.config import ConfigError, group_defaults, merge_cell, to_plain


def _layers(cfg: DictConfig, model: str, dataset: str, cli: DictConfig) -> list[tuple[str, Any]]:
    """(where, fragment) of one entry pair in merge order, as `grid.expand` layers them (group defaults first)."""
    m_frag = cfg.model_overrides.get(model, OmegaConf.create({}))
    d_frag = cfg.dataset_overrides.get(dataset, OmegaConf.create({}))
    real_model, real_dataset = m_frag.get("model", model), d_frag.get("dataset", dataset)
    named = [(f"experiments/datasets/{real_dataset}.yaml", group_defaults("datasets", real_dataset))]
    if cfg.model_defaults:
        named.insert(0, (f"experiments/models/{real_model}.yaml", group_defaults("models", real_model)))
    return named + [("defaults", cfg.defaults), (f"dataset_overrides.{dataset}", d_frag),
                    (f"model_overrides.{model}", m_frag), ("command line", cli)]


def _origin(layers: list[tuple[str, Any]], kind: str, key: str) -> str:
    """The last layer that sets `<kind>.<key>` (the one whose value the cell gets)."""
    where = "?"
    for name, fragment in layers:
        section = fragment.get(kind) if fragment is not None else None
        if section is not None and key in section:
            where = name
    return where


def _resolved(cfg: DictConfig, path: Path, model: str, dataset: str, layers: list[tuple[str, Any]],
              cli: DictConfig) -> dict[str, Any]:
    """The plain cell config of the pair (seed and fold do not change model_args / data_args)."""
    m_frag = cfg.model_overrides.get(model, OmegaConf.create({}))
    d_frag = cfg.dataset_overrides.get(dataset, OmegaConf.create({}))
    grid_keys = {"model": m_frag.get("model", model), "dataset": d_frag.get("dataset", dataset),
                 "sweep": cfg.name}
    merged = merge_cell(cfg.defaults, d_frag, m_frag, grid_keys, cli,
                        source=f"{path} (model {model}, dataset {dataset})")
    plain = to_plain(merged)
    if not cfg.model_defaults:
        own = [fragment.get("model_args", {}) for name, fragment in layers if not name.startswith("experiments/")]
        plain["model_args"] = to_plain(OmegaConf.merge({}, *own))
    return plain


def check_grid_arguments(cfg: DictConfig, path: Path, models: list[str], datasets: list[str],
                         cli: DictConfig) -> None:
    """Raise one ConfigError naming every model_args / data_args key of the sweep that a class does not accept or
    whose value does not fit the annotation, with the entries it affects; nothing is built or run."""
    found: dict[tuple[str, str, str, str], tuple[set[str], set[str], type]] = {}
    for model in models:
        for dataset in datasets:
            layers = _layers(cfg, model, dataset, cli)
            plain = _resolved(cfg, path, model, dataset, layers, cli)
            data_cls, model_cls = cell_classes(plain, imports=False)
            for kind, _, cls, problems in cell_problems(plain, data_cls, model_cls):
                for key, what in problems:
                    entry = found.setdefault((_origin(layers, kind, key), kind, key, what), (set(), set(), cls))
                    entry[0].add(model)
                    entry[1].add(dataset)
    if not found:
        return
    items = []
    for (origin, kind, key, what), (entry_models, entry_datasets, cls) in found.items():
        accepts = f" ({cls.__name__} accepts {sorted(accepted_names(kind, cls))})" if what == "unknown key" else ""
        items.append(f"<{kind}.{key}> set in {origin}, for model(s) {', '.join(sorted(entry_models))} on "
                     f"dataset(s) {', '.join(sorted(entry_datasets))}: {what}{accepts}")
    raise ConfigError(f"{path}: {len(items)} option(s) do not fit the class signatures, so no cell was run: "
                      + "; ".join(items) + ". Make sure each key is spelled as in the class signature and each "
                      "value has the type its annotation names.")
