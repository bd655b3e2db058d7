"""Methods and baselines. Importing this package registers every model; `MODELS.get(name)` looks one up."""

import importlib
import pkgutil

from emobench.models.base import MODELS, EmotionModel, count_parameters
from emobench.models.output import ModelOutput


def _import_all() -> None:
    """Import every module of this package so that each subclass registers itself (no list to edit)."""
    for info in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
        importlib.import_module(info.name)


_import_all()

__all__ = ["MODELS", "EmotionModel", "ModelOutput", "count_parameters"]
