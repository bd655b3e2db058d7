"""What identifies a cell: the resolved constructor arguments of its model and datamodule (signature defaults
included), the trainer settings, seed, fold, and a hash of the code that defines the model and the dataset.

Where things live (`root`, `cache_dir`, `num_workers`, `output`, the path given in `imports`) and how results are
shown (`wandb`, progress bars, thread counts) stay out, so moving the data does not retrain a sweep, while editing a
method's source or changing a default reruns exactly the cells it affects.

The code hash covers the source files of the modules reachable from the model and datamodule classes: the modules
of every class in their MRO and, transitively, each `emobench` module (or user module from `imports`) whose
functions, classes or module objects those modules hold. So editing `models/tailor.py`, the model base or a
metric reruns TAILOR's cells; editing `models/carat.py` does not.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from omegaconf import DictConfig

from emobench.benchmark.config import to_plain

# data_args that say where data, caches and loader processes are, not what is computed.
LOCATION_DATA_ARGS = frozenset({"root", "cache_dir", "num_workers", "fold"})
# trainer settings that change speed or display only.
PRESENTATION_TRAINER_KEYS = frozenset({"progress_bar", "num_threads"})
_NOT_HYPERPARAMETERS = frozenset({"self", "task", "modalities", "label_stats", "kwargs", "args"})
_file_digests: dict[tuple[str, int, int], str] = {}


def resolved_arguments(cls: type, given: dict[str, Any], leave_out: Iterable[str] = ()) -> dict[str, Any]:
    """`given` on top of the keyword defaults of `cls.__init__` over its MRO (the most derived default wins), up to
    the first Lightning/torch base class; names in `leave_out` are dropped."""
    defaults: dict[str, Any] = {}
    for klass in cls.__mro__:
        if klass is object or klass.__module__.startswith(("lightning", "pytorch_lightning", "torch")):
            break
        if "__init__" not in vars(klass):
            continue
        for param in inspect.signature(klass.__init__).parameters.values():
            if param.default is not inspect.Parameter.empty and param.name not in defaults:
                defaults[param.name] = param.default
    resolved = {**defaults, **given}
    skip = _NOT_HYPERPARAMETERS | set(leave_out)
    return {k: resolved[k] for k in sorted(resolved) if k not in skip}


def _is_source_module(module: ModuleType, user_roots: set[str]) -> bool:
    name = module.__name__
    return (name == "emobench" or name.startswith("emobench.") or name.split(".", 1)[0] in user_roots) \
        and isinstance(getattr(module, "__file__", None), str)


def source_modules(objects: Iterable[Any], user_modules: Iterable[ModuleType] = ()) -> list[ModuleType]:
    """The modules whose source defines `objects` (classes or modules), transitively, sorted by name."""
    user = list(user_modules)
    user_roots = {m.__name__.split(".", 1)[0] for m in user}
    stack: list[ModuleType] = list(user)
    for obj in objects:
        for klass in (obj.__mro__ if isinstance(obj, type) else (obj,)):
            module = klass if isinstance(klass, ModuleType) else sys.modules.get(klass.__module__)
            if module is not None:
                stack.append(module)
    seen: dict[str, ModuleType] = {}
    while stack:
        module = stack.pop()
        if module.__name__ in seen or not _is_source_module(module, user_roots):
            continue
        seen[module.__name__] = module
        if hasattr(module, "__path__"):  # a package: its __init__ counts, not every submodule it imported
            continue
        for value in vars(module).values():
            target = value if isinstance(value, ModuleType) else sys.modules.get(getattr(value, "__module__", "") or "")
            if target is not None and target.__name__ not in seen:
                stack.append(target)
    return [seen[name] for name in sorted(seen)]


def _file_digest(path: str) -> str:
    stat = Path(path).stat()
    key = (path, stat.st_mtime_ns, stat.st_size)
    if key not in _file_digests:
        _file_digests[key] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return _file_digests[key]


def code_hash(objects: Iterable[Any], user_modules: Iterable[ModuleType] = ()) -> str:
    """sha256 (12 hex digits) over the names and source files of `source_modules(objects, user_modules)`."""
    digest = hashlib.sha256()
    for module in source_modules(objects, user_modules):
        digest.update(f"{module.__name__}\0{_file_digest(module.__file__)}\n".encode())
    return digest.hexdigest()[:12]


def cell_identity(cfg: DictConfig | dict[str, Any]) -> dict[str, Any]:
    """The plain data a cell id hashes (see the module docstring); imports the config's user modules."""
    from emobench.datamodules import DATAMODULES
    from emobench.datamodules.registry import import_user_module
    from emobench.models import MODELS

    data = to_plain(cfg) if isinstance(cfg, DictConfig) else dict(cfg)
    user = [import_user_module(path) for path in data.get("imports", [])]
    model_cls, data_cls = MODELS.get(data["model"]), DATAMODULES.get(data["dataset"])
    return {
        "model": data["model"],
        "dataset": data["dataset"],
        "seed": data["seed"],
        "fold": data["fold"],
        "model_args": resolved_arguments(model_cls, data.get("model_args", {})),
        "data_args": resolved_arguments(data_cls, data.get("data_args", {}), LOCATION_DATA_ARGS),
        "trainer": {k: v for k, v in data["trainer"].items() if k not in PRESENTATION_TRAINER_KEYS},
        "code": code_hash([model_cls, data_cls], user),
    }


def identity_digest(identity: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:12]


def cell_id(cfg: DictConfig | dict[str, Any]) -> str:
    """12 hex digits identifying the cell: a hash of `cell_identity(cfg)`."""
    return identity_digest(cell_identity(cfg))


def current_code_hash(config: dict[str, Any]) -> str | None:
    """The code hash a record's config gets from the code loaded now, or None when it cannot be told: its model or
    dataset is not registered, or it names user modules (`imports`) that this process has not imported. Nothing is
    imported here, so reading records never runs code they name."""
    from emobench.datamodules import DATAMODULES
    from emobench.datamodules.registry import loaded_user_module
    from emobench.models import MODELS

    user = [loaded_user_module(path) for path in config.get("imports") or []]
    if None in user or config.get("model") not in MODELS or config.get("dataset") not in DATAMODULES:
        return None
    return code_hash([MODELS.get(config["model"]), DATAMODULES.get(config["dataset"])], user)
