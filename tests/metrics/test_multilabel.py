"""Multilabel metrics (accuracy = TAILOR/CARAT sample-wise Jaccard, micro P/R/F1, macro F1, Hamming loss)
against scikit-learn and a NumPy hand computation, with the strict `p > threshold` rule and empty sets."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, hamming_loss, jaccard_score, precision_score, recall_score

from emobench.metrics import (
    HammingLoss,
    JaccardAccuracy,
    MicroF1,
    MicroPrecision,
    MicroRecall,
    MultilabelMacroF1,
)
from emobench.metrics.hamming_loss import hamming_loss as hamming_loss_fn
from emobench.metrics.jaccard_accuracy import jaccard_accuracy
from emobench.metrics.micro_f1 import micro_f1
from emobench.metrics.micro_precision import micro_precision
from emobench.metrics.micro_recall import micro_recall
from emobench.metrics.multilabel_macro_f1 import multilabel_macro_f1
from tests.metrics.helpers import N_SAMPLES, assert_close, assert_sum_states, run_metric_checks

L = 5
GRID = np.round(np.arange(0.0, 1.01, 0.1), 1)  # probabilities on a 0.1 grid: many equal 0.3 and 0.5 exactly


def _data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    target = (rng.random((N_SAMPLES, L)) < 0.3).astype(np.float32)
    preds = rng.choice(GRID, size=(N_SAMPLES, L)).astype(np.float32)
    # samples with both sets empty, one with an empty true set only, one with an empty predicted set only
    target[[0, 5, 20]] = 0
    preds[[0, 5, 20]] = rng.choice([0.0, 0.1, 0.3, 0.5], size=(3, L))
    target[7], preds[7] = 0, [0.9, 0.1, 0.1, 0.1, 0.1]
    target[8], preds[8] = [1, 1, 0, 0, 0], 0.2
    target[:, 4] = 0  # label 4 never true: macro F1 over a label without support
    return torch.from_numpy(preds), torch.from_numpy(target)


def _binarise(preds: np.ndarray, threshold: float) -> np.ndarray:
    # the documented rule, compared in the dtype of preds (float32 here), as torch compares tensor > scalar
    return (preds > np.asarray(threshold, dtype=preds.dtype)).astype(int)


def _jaccard_by_hand(preds: np.ndarray, target: np.ndarray, threshold: float) -> float:
    """TAILOR/CARAT `get_accuracy`, loop by loop."""
    predicted = _binarise(preds, threshold)
    total = 0.0
    for y, y_hat in zip(target, predicted, strict=True):
        both = sum(1 for a, b in zip(y, y_hat, strict=True) if a > 0 and b > 0)
        either = sum(1 for a, b in zip(y, y_hat, strict=True) if a > 0 or b > 0)
        total += both / (either if either > 0 else 1)
    return total / len(target)


def _sk(fn, **kwargs):
    def reference(threshold: float):
        def ref(preds: np.ndarray, target: np.ndarray) -> float:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return float(fn(target.astype(int), _binarise(preds, threshold), **kwargs))

        return ref

    return reference


CASES = {
    "accuracy": (JaccardAccuracy, jaccard_accuracy, lambda th: lambda p, t: _jaccard_by_hand(p, t, th), True),
    "micro_precision": (
        MicroPrecision,
        micro_precision,
        _sk(precision_score, average="micro", zero_division=0),
        True,
    ),
    "micro_recall": (MicroRecall, micro_recall, _sk(recall_score, average="micro", zero_division=0), True),
    "micro_f1": (MicroF1, micro_f1, _sk(f1_score, average="micro", zero_division=0), True),
    "macro_f1": (
        MultilabelMacroF1,
        multilabel_macro_f1,
        _sk(f1_score, average="macro", zero_division=0),
        True,
    ),
    "hamming_loss": (HammingLoss, hamming_loss_fn, _sk(hamming_loss), False),
}


def test_data_is_not_trivial():
    preds, target = _data()
    predicted = preds > 0.5
    assert ((target.sum(1) == 0) & (predicted.sum(1) == 0)).sum() >= 2  # empty-empty samples
    assert (preds == 0.5).any() and (preds == torch.tensor(0.3)).any()  # values exactly at the thresholds
    assert 0 < target.mean() < 1 and 0 < predicted.float().mean() < 1


@pytest.mark.parametrize("threshold", [0.5, 0.3])
@pytest.mark.parametrize("name", list(CASES))
def test_against_reference(name, threshold):
    cls, functional, reference, higher = CASES[name]
    preds, target = _data()
    value = reference(threshold)(preds.numpy(), target.numpy())
    assert 0.05 < value < 0.95, f"non-informative reference value {value}"
    run_metric_checks(
        lambda: cls(num_labels=L, threshold=threshold),
        lambda p, t: functional(p, t, threshold=threshold),
        reference(threshold),
        preds,
        target,
    )
    metric = cls(num_labels=L, threshold=threshold)
    assert metric.higher_is_better is higher
    assert metric.is_differentiable is False and metric.full_state_update is False
    assert metric.threshold == threshold


@pytest.mark.parametrize("name", list(CASES))
def test_integer_and_bool_targets(name):
    cls, functional, reference, _ = CASES[name]
    preds, target = _data(1)
    expected = reference(0.5)(preds.numpy(), target.numpy())
    for t in (target.long(), target.bool(), target.double()):
        assert_close(functional(preds, t), expected, 1e-6, f"target dtype {t.dtype}")
    assert_close(functional(preds.double(), target), expected, 1e-6, "float64 preds")


def test_empty_sets_count_zero_in_accuracy():
    preds = torch.tensor([[0.1, 0.2, 0.3], [0.9, 0.2, 0.1], [0.5, 0.5, 0.5]])
    target = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 0, 0]])
    # sample 0 and 2: nothing true, nothing > 0.5 -> 0 each; sample 1 exact -> 1
    assert_close(jaccard_accuracy(preds, target), 1 / 3, 1e-12, "empty-empty counts 0")
    # scikit-learn's default for the samples average would count the empty-empty samples as 1
    sk = jaccard_score(target.numpy(), (preds > 0.5).int().numpy(), average="samples", zero_division=1)
    assert sk == pytest.approx(1.0)
    assert float(JaccardAccuracy(num_labels=3)(preds[[0]], target[[0]])) == 0.0


def test_threshold_is_strict():
    target = torch.tensor([[1, 0], [0, 1]])
    at = torch.tensor([[0.5, 0.5], [0.5, 0.5]])
    above = torch.nextafter(at, torch.ones_like(at))
    for cls in (JaccardAccuracy, MicroPrecision, MicroRecall, MicroF1, MultilabelMacroF1):
        assert float(cls(num_labels=2)(at, target)) == 0.0, cls.__name__  # nothing predicted
        assert float(cls(num_labels=2)(above, target)) > 0.0, cls.__name__
    assert float(HammingLoss(num_labels=2)(at, target)) == 0.5
    assert float(HammingLoss(num_labels=2)(above, target)) == 0.5
    # a non-default threshold: a float32 (and float64) probability equal to it is not predicted
    for dtype in (torch.float32, torch.float64):
        p = torch.tensor([[0.3, 0.31]], dtype=dtype)
        t = torch.tensor([[1, 1]])
        assert float(micro_recall(p, t, threshold=0.3)) == 0.5
        assert float(jaccard_accuracy(p, t, threshold=0.3)) == 0.5


def test_states_and_empty_compute():
    metric = JaccardAccuracy(num_labels=3)
    assert_sum_states(metric)
    with pytest.warns(UserWarning, match="compute"):
        assert torch.isnan(metric.compute())
    metric.update(torch.zeros(0, 3), torch.zeros(0, 3))  # an empty batch adds nothing
    assert int(metric.jaccard_count) == 0
    metric.update(torch.tensor([[0.9, 0.0, 0.0]]), torch.tensor([[1, 0, 0]]))
    assert float(metric.compute()) == 1.0


BAD_INPUTS = [
    (torch.rand(4), torch.ones(4), ValueError, r"`preds` to be 2-D of shape \(B, L\), but got shape \(4,\)"),
    (torch.rand(4, 3), torch.ones(4), ValueError, r"`target` to be 2-D .* got shape \(4,\)"),
    (torch.rand(4, 3), torch.ones(3, 3), ValueError, r"same shape, but got \(4, 3\) and \(3, 3\)"),
    (
        torch.rand(4, 4),
        torch.ones(4, 4),
        ValueError,
        r"`preds.shape\[1\]` to equal `num_labels`=3, but got 4",
    ),
    (
        torch.ones(4, 3, dtype=torch.long),
        torch.ones(4, 3),
        TypeError,
        r"`preds` to be a floating point .* torch.int64",
    ),
    (
        torch.tensor([[-2.0, 0.5, 3.0]]),
        torch.ones(1, 3),
        ValueError,
        r"`preds` to hold values in \[0, 1\].*sigmoid",
    ),
    (torch.full((4, 3), float("nan")), torch.ones(4, 3), ValueError,
     r"`preds` to hold values in \[0, 1\], but found 12 outside it, e\.g\. nan, nan, nan\. 12 of them are NaN or inf: "
     r"the model produced non-finite outputs.*a sigmoid does not remove them\)\.$"),
    (
        torch.rand(4, 3),
        torch.full((4, 3), 2.0),
        ValueError,
        r"`target` to hold only 0/1 values, but found \[2.0\]",
    ),
    ([[0.5, 0.5, 0.5]], torch.ones(1, 3), TypeError, r"`preds` to be a torch.Tensor, but got list"),
]


@pytest.mark.parametrize("cls", [c for c, *_ in CASES.values()])
@pytest.mark.parametrize(("preds", "target", "error", "match"), BAD_INPUTS)
def test_bad_inputs(cls, preds, target, error, match):
    with pytest.raises(error, match=match):
        cls(num_labels=3).update(preds, target)


@pytest.mark.parametrize("cls", [c for c, *_ in CASES.values()])
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_labels": 1}, r"`num_labels` to be an integer >= 2, but got 1"),
        ({"num_labels": 3.0}, r"`num_labels` to be an integer >= 2, but got 3.0"),
        ({"num_labels": 3, "threshold": 1.5}, r"`threshold` to be a float in \[0, 1\], but got 1.5"),
        ({"num_labels": 3, "threshold": "0.5"}, r"`threshold` to be a float in \[0, 1\], but got '0.5'"),
        ({"num_labels": 3, "threshold": float("nan")}, r"`threshold` to be a float in \[0, 1\], but got nan"),
    ],
)
def test_bad_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_functional_bad_threshold():
    with pytest.raises(ValueError, match=r"`threshold` to be a float in \[0, 1\], but got -0.1"):
        micro_f1(torch.rand(2, 3), torch.ones(2, 3), threshold=-0.1)


def test_validate_args_false_skips_value_checks_only():
    metric = JaccardAccuracy(num_labels=3, validate_args=False)
    metric.update(torch.tensor([[0.9, 0.1, 0.1]]), torch.tensor([[2, 0, 0]]))  # value check skipped
    assert float(metric.compute()) == 0.0  # 2 is not a positive label (target == 1)
    with pytest.raises(ValueError, match="same shape"):
        metric.update(torch.rand(2, 3), torch.ones(3, 3))
