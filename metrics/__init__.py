"""Evaluation metrics of the suite (torchmetrics style, one file per metric) and the per-task collections.

multilabel: ``accuracy`` (sample-wise Jaccard, TAILOR/CARAT), ``micro_precision``, ``micro_recall``,
``micro_f1``, ``macro_f1``, ``hamming_loss``; distribution (as PyLDL): ``chebyshev``, ``clark``,
``canberra``, ``kl``, ``cosine``, ``intersection``; multiclass: ``wa``, ``ua``, ``macro_f1``,
``weighted_f1``."""

from emobench.metrics.canberra import CanberraDistance
from emobench.metrics.chebyshev import ChebyshevDistance
from emobench.metrics.clark import ClarkDistance
from emobench.metrics.collections import (
    METRIC_CLASSES,
    PRIMARY_METRIC,
    check_inputs,
    higher_is_better,
    metric_names,
    metrics_for,
    primary_metric,
)
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

__all__ = [
    "METRIC_CLASSES",
    "PRIMARY_METRIC",
    "CanberraDistance",
    "ChebyshevDistance",
    "ClarkDistance",
    "CosineSimilarity",
    "HammingLoss",
    "IntersectionSimilarity",
    "JaccardAccuracy",
    "KLDivergence",
    "MicroF1",
    "MicroPrecision",
    "MicroRecall",
    "MulticlassMacroF1",
    "MultilabelMacroF1",
    "UnweightedAccuracy",
    "WeightedAccuracy",
    "WeightedF1",
    "check_inputs",
    "higher_is_better",
    "metric_names",
    "metrics_for",
    "primary_metric",
]
