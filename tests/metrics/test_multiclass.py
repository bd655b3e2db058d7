"""Multiclass metrics (WA, UA, macro F1, weighted F1) against scikit-learn, including classes absent from a
batch and from the whole data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, recall_score
from torchmetrics.classification import MulticlassAccuracy

from emobench.metrics import MulticlassMacroF1, UnweightedAccuracy, WeightedAccuracy, WeightedF1
from emobench.metrics.multiclass_macro_f1 import multiclass_macro_f1
from emobench.metrics.unweighted_accuracy import unweighted_accuracy
from emobench.metrics.weighted_accuracy import weighted_accuracy
from emobench.metrics.weighted_f1 import weighted_f1
from tests.metrics.helpers import (
    BATCH_SIZES,
    N_SAMPLES,
    assert_close,
    assert_sum_states,
    run_metric_checks,
    split,
)

C = 5  # class 4 never occurs, class 3 is predicted but never a target


def _sk(fn, **kwargs):
    def reference(preds: np.ndarray, target: np.ndarray) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true" is the point
            return float(fn(target, preds.argmax(axis=1), **kwargs))

    return reference


CASES = {
    "wa": (WeightedAccuracy, weighted_accuracy, _sk(accuracy_score)),
    "ua": (UnweightedAccuracy, unweighted_accuracy, _sk(balanced_accuracy_score)),
    "macro_f1": (MulticlassMacroF1, multiclass_macro_f1, _sk(f1_score, average="macro", zero_division=0)),
    "weighted_f1": (WeightedF1, weighted_f1, _sk(f1_score, average="weighted", zero_division=0)),
}


def _data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    # imbalanced targets over classes 0..2, sorted so that some batches miss a class entirely
    target = np.sort(rng.choice(3, size=N_SAMPLES, p=[0.6, 0.3, 0.1]))
    logits = rng.normal(size=(N_SAMPLES, C)).astype(np.float32)
    logits[:, 4] -= 10.0  # class 4: never predicted either
    informative = rng.random(N_SAMPLES) < 0.6
    logits[informative, target[informative]] += 3.0
    logits[::7, 3] += 10.0  # class 3: predicted, never a target
    return torch.from_numpy(logits), torch.from_numpy(target)


def test_data_exercises_absent_classes():
    preds, target = _data()
    predicted = preds.argmax(1)
    assert (predicted == 3).any() and not (target == 3).any()
    assert not (predicted == 4).any() and not (target == 4).any()
    missing = [set(range(3)) - set(t.tolist()) for t in split(target)]
    assert any(missing[1:]), "some batch (besides the 1-sample one) must miss a present class"
    assert 0.2 < (predicted == target).float().mean() < 0.9


@pytest.mark.parametrize("name", list(CASES))
def test_against_sklearn(name):
    cls, functional, reference = CASES[name]
    preds, target = _data()
    run_metric_checks(lambda: cls(num_classes=C), functional, reference, preds, target)
    softmax = preds.softmax(dim=1)  # probabilities give the same values as logits
    assert_close(functional(softmax, target), reference(preds.numpy(), target.numpy()), 1e-6, "probabilities")
    metric = cls(num_classes=C)
    assert metric.higher_is_better is True
    assert metric.is_differentiable is False and metric.full_state_update is False


def test_wa_is_micro_and_ua_differs():
    preds, target = _data()
    wa, ua = float(weighted_accuracy(preds, target)), float(unweighted_accuracy(preds, target))
    assert abs(wa - ua) > 0.02  # imbalanced data: the two must not coincide by construction


def test_ua_leaves_out_classes_absent_from_targets():
    preds, target = _data()
    ua = float(unweighted_accuracy(preds, target))
    present = np.unique(target.numpy())
    macro_recall_present = recall_score(
        target.numpy(), preds.argmax(1).numpy(), labels=present, average="macro", zero_division=0
    )
    assert_close(ua, macro_recall_present, 1e-12, "UA = macro recall over the classes in the targets")
    # torchmetrics' macro accuracy counts the predicted-only class 3 with recall 0, so it is lower
    tm_macro = float(MulticlassAccuracy(num_classes=C, average="macro")(preds, target))
    assert_close(tm_macro, ua * len(present) / (len(present) + 1), 1e-6, "torchmetrics macro")
    # a class present overall but missing from a batch still counts: per-batch means would differ
    per_batch = [float(unweighted_accuracy(p, t)) for p, t in zip(split(preds), split(target), strict=True)]
    weights = np.array(BATCH_SIZES) / N_SAMPLES
    assert abs(float(np.dot(per_batch, weights)) - ua) > 1e-3


def test_ua_by_hand():
    preds = torch.eye(3)[[0, 2, 1, 1]]  # predicted 0, 2, 1, 1
    target = torch.tensor([0, 0, 1, 1])
    assert float(unweighted_accuracy(preds, target)) == pytest.approx((1 / 2 + 2 / 2) / 2)
    metric = UnweightedAccuracy(num_classes=3)
    assert_sum_states(metric)
    with pytest.warns(UserWarning, match="compute"):
        assert torch.isnan(metric.compute())
    metric.update(preds[:2], target[:2])  # only class 0 so far
    assert float(metric.compute()) == pytest.approx(0.5)
    metric.update(preds[2:], target[2:])
    assert float(metric.compute()) == pytest.approx(0.75)


def test_ties_pick_the_lowest_class():
    preds = torch.tensor([[0.4, 0.4, 0.2], [0.2, 0.4, 0.4]])
    target = torch.tensor([0, 1])
    for _, functional, _ in CASES.values():
        assert float(functional(preds, target)) == 1.0


BAD_INPUTS = [
    (
        torch.rand(4),
        torch.zeros(4, dtype=torch.long),
        ValueError,
        r"`preds` to be 2-D of shape \(B, C\), but got",
    ),
    (
        torch.rand(4, 3),
        torch.zeros(4, 1, dtype=torch.long),
        ValueError,
        r"`target` to be 1-D .* shape \(4, 1\)",
    ),
    (torch.rand(4, 3), torch.zeros(5, dtype=torch.long), ValueError, r"same batch size, but got 4 and 5"),
    (
        torch.rand(4, 4),
        torch.zeros(4, dtype=torch.long),
        ValueError,
        r"`preds.shape\[1\]` to equal `num_classes`=3",
    ),
    (torch.rand(4, 3), torch.zeros(4), TypeError, r"`target` to be an integer tensor .* torch.float32"),
    (
        torch.rand(4, 3),
        torch.zeros(4, dtype=torch.bool),
        TypeError,
        r"`target` to be an integer tensor .* torch.bool",
    ),
    (
        torch.ones(4, 3, dtype=torch.long),
        torch.zeros(4, dtype=torch.long),
        TypeError,
        r"`preds` to be a floating",
    ),
    (torch.rand(2, 3), torch.tensor([0, 3]), ValueError, r"class indices in \[0, 3\), but found \[3\]"),
    (torch.rand(2, 3), torch.tensor([-1, 0]), ValueError, r"class indices in \[0, 3\), but found \[-1\]"),
    (
        torch.full((2, 3), float("nan")),
        torch.tensor([0, 1]),
        ValueError,
        r"`preds` to hold no NaN, but found 6",
    ),
    (torch.rand(2, 3), [0, 1], TypeError, r"`target` to be a torch.Tensor, but got list"),
]


@pytest.mark.parametrize("cls", [c for c, *_ in CASES.values()])
@pytest.mark.parametrize(("preds", "target", "error", "match"), BAD_INPUTS)
def test_bad_inputs(cls, preds, target, error, match):
    with pytest.raises(error, match=match):
        cls(num_classes=3).update(preds, target)


@pytest.mark.parametrize("cls", [c for c, *_ in CASES.values()])
@pytest.mark.parametrize("num_classes", [1, 2.0, True])
def test_bad_num_classes(cls, num_classes):
    with pytest.raises(ValueError, match=rf"`num_classes` to be an integer >= 2, but got {num_classes!r}"):
        cls(num_classes=num_classes)
