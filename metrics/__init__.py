"""Evaluation metrics of the suite (torchmetrics style, one file per metric) and the per-task collections.

multilabel: ``accuracy`` (sample-wise Jaccard, TAILOR/CARAT), ``micro_precision``, ``micro_recall``,
``micro_f1``, ``macro_f1``, ``hamming_loss``; distribution (as PyLDL): ``chebyshev``, ``clark``,
``canberra``, ``kl``, ``cosine``, ``intersection``; multiclass: ``wa``, ``ua``, ``macro_f1``,
``weighted_f1``."""

from metrics.canberra import CanberraDistance
from metrics.chebyshev import ChebyshevDistance
from metrics.clark import ClarkDistance
from metrics.collections import (
    METRIC_CLASSES,
    PRIMARY_METRIC,
    higher_is_better,
    metric_names,
    metrics_for,
    primary_metric,
)
from metrics.cosine import CosineSimilarity
from metrics.hamming_loss import HammingLoss
from metrics.intersection import IntersectionSimilarity
from metrics.jaccard_accuracy import JaccardAccuracy
from metrics.kl_divergence import KLDivergence
from metrics.micro_f1 import MicroF1
from metrics.micro_precision import MicroPrecision
from metrics.micro_recall import MicroRecall
from metrics.multiclass_macro_f1 import MulticlassMacroF1
from metrics.multilabel_macro_f1 import MultilabelMacroF1
from metrics.unweighted_accuracy import UnweightedAccuracy
from metrics.weighted_accuracy import WeightedAccuracy
from metrics.weighted_f1 import WeightedF1

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
    "higher_is_better",
    "metric_names",
    "metrics_for",
    "primary_metric",
]
