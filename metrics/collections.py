"""One ``MetricCollection`` per task kind, and each kind's primary metric for model selection and ranking.

The names are the contract: the suite logs them as ``val/<name>`` and ``test/<name>`` (the model base clones
the collection per stage with ``prefix=``). Whether higher is better is read from the metric classes'
``higher_is_better``, never from a side table."""

from __future__ import annotations

from types import MappingProxyType

from torch import Tensor
from torchmetrics import Metric, MetricCollection

from emobench.metrics._utils import (
    _check_distribution_inputs,
    _check_int_at_least,
    _check_multiclass_inputs,
    _check_multilabel_inputs,
    _check_threshold,
)
from emobench.metrics.canberra import CanberraDistance
from emobench.metrics.chebyshev import ChebyshevDistance
from emobench.metrics.clark import ClarkDistance
from emobench.metrics.cosine import CosineSimilarity
from emobench.metrics.hamming_loss import HammingLoss
from emobench.metrics.intersection import IntersectionSimilarity
from emobench.metrics.jaccard_accuracy import JaccardAccuracy
from emobench.metrics.kl_divergence import KLDivergence
from emobench.metrics.micro_f1 import MicroF1
from emobench.metrics.micro_precision import MicroPrecision
from emobench.metrics.micro_recall import MicroRecall
from emobench.metrics.multiclass_macro_f1 import MulticlassMacroF1
from emobench.metrics.multilabel_macro_f1 import MultilabelMacroF1
from emobench.metrics.unweighted_accuracy import UnweightedAccuracy
from emobench.metrics.weighted_accuracy import WeightedAccuracy
from emobench.metrics.weighted_f1 import WeightedF1

#: Metric name -> class, per task kind (read-only).
METRIC_CLASSES: MappingProxyType[str, MappingProxyType[str, type[Metric]]] = MappingProxyType(
    {
        "multilabel": MappingProxyType(
            {
                "accuracy": JaccardAccuracy,
                "micro_precision": MicroPrecision,
                "micro_recall": MicroRecall,
                "micro_f1": MicroF1,
                "macro_f1": MultilabelMacroF1,
                "hamming_loss": HammingLoss,
            }
        ),
        "distribution": MappingProxyType(
            {
                "chebyshev": ChebyshevDistance,
                "clark": ClarkDistance,
                "canberra": CanberraDistance,
                "kl": KLDivergence,
                "cosine": CosineSimilarity,
                "intersection": IntersectionSimilarity,
            }
        ),
        "multiclass": MappingProxyType(
            {
                "wa": WeightedAccuracy,
                "ua": UnweightedAccuracy,
                "macro_f1": MulticlassMacroF1,
                "weighted_f1": WeightedF1,
            }
        ),
    }
)

PRIMARY_METRIC = {"multilabel": "micro_f1", "distribution": "kl", "multiclass": "ua"}

#: The input check every metric of a kind runs on its update: (preds, target, num_labels, validate_args) -> None.
_INPUT_CHECKS = {"multilabel": _check_multilabel_inputs, "distribution": _check_distribution_inputs,
                 "multiclass": _check_multiclass_inputs}


def _classes(kind: str) -> MappingProxyType[str, type[Metric]]:
    if kind not in METRIC_CLASSES:
        raise ValueError(f"Unknown task kind {kind!r}; expected one of {tuple(METRIC_CLASSES)}.")
    return METRIC_CLASSES[kind]


def metric_names(kind: str) -> tuple[str, ...]:
    """The metric names of a task kind, in logging order."""
    return tuple(_classes(kind))


def metrics_for(kind: str, num_labels: int, threshold: float = 0.5, validate_args: bool = True) -> MetricCollection:
    """A fresh collection of every metric of ``kind``, keyed by metric name (no prefix).

    Args:
        kind: ``"multilabel"``, ``"distribution"`` or ``"multiclass"``.
        num_labels: number of labels L (multilabel, distribution) or classes C (multiclass); >= 2.
        threshold: multilabel decision threshold in [0, 1], label predicted iff ``p > threshold`` (strict);
            checked but unused for the other kinds.
        validate_args: passed to every metric: whether each checks the values of its inputs (shapes and dtypes
            are always checked). A caller that turns it off checks each update's inputs once with
            :func:`check_inputs` instead of once per metric.

    Raises:
        ValueError: unknown ``kind``, ``num_labels`` not an integer >= 2 or ``threshold`` not in [0, 1].
    """
    classes = _classes(kind)
    _check_int_at_least("num_labels", num_labels, 2)
    threshold = _check_threshold(threshold)
    if kind == "multilabel":
        metrics = {name: cls(num_labels=num_labels, threshold=threshold, validate_args=validate_args)
                   for name, cls in classes.items()}
    elif kind == "distribution":
        metrics = {name: cls(num_labels=num_labels, validate_args=validate_args) for name, cls in classes.items()}
    else:
        metrics = {name: cls(num_classes=num_labels, validate_args=validate_args) for name, cls in classes.items()}
    return MetricCollection(metrics)


def check_inputs(kind: str, preds: Tensor, target: Tensor, num_labels: int) -> None:
    """Run the checks that every metric of ``kind`` runs on an update with ``validate_args=True``, once: raises
    the error the first metric of a default :func:`metrics_for` collection would raise on these inputs.

    Raises:
        ValueError, TypeError: as the metrics of ``kind`` do (see their classes); ValueError for an unknown kind.
    """
    _classes(kind)
    _INPUT_CHECKS[kind](preds, target, num_labels, True)


def higher_is_better(kind: str, name: str) -> bool:
    """Whether a larger value of metric ``name`` of task ``kind`` is better.

    Read from the class's ``higher_is_better``, the single source of truth.

    Raises:
        ValueError: unknown ``kind`` or ``name``.
    """
    classes = _classes(kind)
    if name not in classes:
        raise ValueError(f"Unknown {kind} metric {name!r}; expected one of {tuple(classes)}.")
    return bool(classes[name].higher_is_better)


def primary_metric(kind: str) -> tuple[str, bool]:
    """(name, higher_is_better) of the metric that selects and ranks models for task ``kind``.

    Raises:
        ValueError: unknown ``kind``.
    """
    _classes(kind)
    name = PRIMARY_METRIC[kind]
    return name, higher_is_better(kind, name)
