"""Input checks of every functional metric at its defaults (validation on), the exact [0, 1] boundary of
probabilities, class indices checked against the number of classes (not the batch size), and PyLDL's clip."""

from __future__ import annotations

import pytest
import torch

from emobench.metrics._utils import PYLDL_EPS, _pyldl_clip
from emobench.metrics.canberra import canberra_distance
from emobench.metrics.chebyshev import chebyshev_distance
from emobench.metrics.clark import clark_distance
from emobench.metrics.cosine import cosine_similarity
from emobench.metrics.hamming_loss import hamming_loss
from emobench.metrics.intersection import intersection_similarity
from emobench.metrics.jaccard_accuracy import jaccard_accuracy
from emobench.metrics.kl_divergence import kl_divergence
from emobench.metrics.micro_f1 import micro_f1
from emobench.metrics.micro_precision import micro_precision
from emobench.metrics.micro_recall import micro_recall
from emobench.metrics.multiclass_macro_f1 import multiclass_macro_f1
from emobench.metrics.multilabel_macro_f1 import multilabel_macro_f1
from emobench.metrics.unweighted_accuracy import unweighted_accuracy
from emobench.metrics.weighted_accuracy import weighted_accuracy
from emobench.metrics.weighted_f1 import weighted_f1

DISTRIBUTION = [canberra_distance, chebyshev_distance, clark_distance, cosine_similarity, intersection_similarity,
                kl_divergence]
MULTILABEL = [hamming_loss, jaccard_accuracy, micro_f1, micro_precision, micro_recall, multilabel_macro_f1]
MULTICLASS = [multiclass_macro_f1, unweighted_accuracy, weighted_accuracy, weighted_f1]
TARGET_D = torch.tensor([[0.5, 0.5], [0.2, 0.8]])
TARGET_L = torch.tensor([[1, 0], [0, 1]])


@pytest.mark.parametrize("fn", DISTRIBUTION, ids=lambda f: f.__name__)
def test_distribution_functions_validate_by_default(fn):
    outside = torch.tensor([[1.5, -0.5], [0.2, 0.8]])  # rows sum to 1, values outside [0, 1]
    with pytest.raises(ValueError, match=r"`preds` to hold values in \[0, 1\]"):
        fn(outside, TARGET_D)
    fn(outside, TARGET_D, validate_args=False)  # the check is what raised


@pytest.mark.parametrize("fn", MULTILABEL, ids=lambda f: f.__name__)
def test_multilabel_functions_validate_by_default_at_the_exact_boundary(fn):
    for bad in (1.0 + 1e-6, -1e-6):
        with pytest.raises(ValueError, match=r"`preds` to hold values in \[0, 1\]"):
            fn(torch.tensor([[bad, 0.2], [0.3, 0.4]]), TARGET_L)
    assert torch.isfinite(fn(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), TARGET_L))  # 0 and 1 themselves are fine


@pytest.mark.parametrize("fn", MULTICLASS, ids=lambda f: f.__name__)
def test_class_indices_are_checked_against_the_classes_not_the_batch(fn):
    preds = torch.softmax(torch.randn(8, 4, generator=torch.Generator().manual_seed(0)), dim=1)
    target = torch.tensor([0, 1, 2, 3, 0, 1, 2, 4])  # 4 is no class of 4, though < the batch size 8
    with pytest.raises(ValueError, match=r"class indices in \[0, 4\)"):
        fn(preds, target)
    assert torch.isfinite(fn(preds, target.clamp(max=3)))


def test_pyldl_clip_keeps_values_in_eps_to_one():
    clipped = _pyldl_clip(torch.tensor([-1.0, 0.0, 0.5, 1.5]))
    assert clipped.dtype == torch.float64 and clipped.tolist() == [PYLDL_EPS, PYLDL_EPS, 0.5, 1.0]
