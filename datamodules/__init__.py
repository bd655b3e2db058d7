"""Datasets: specs, the batch type, the base datamodule and every reader. Importing this package registers every
datamodule; `DATAMODULES.get(name)` looks one up."""

import importlib
import pkgutil

from emobench.datamodules.arrays import DatasetArrays
from emobench.datamodules.base import DATAMODULES, EmotionDataModule
from emobench.datamodules.batch import EmotionBatch
from emobench.datamodules.specs import ModalitySpec, TaskSpec
from emobench.datamodules.statistics import LabelStatistics


def _import_all() -> None:
    """Import every module of this package so that each subclass registers itself (no list to edit)."""
    for info in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
        importlib.import_module(info.name)


_import_all()

__all__ = ["DATAMODULES", "DatasetArrays", "EmotionBatch", "EmotionDataModule", "LabelStatistics", "ModalitySpec",
           "TaskSpec"]
